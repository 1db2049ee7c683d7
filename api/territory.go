package api

import (
	"context"

	"github.com/liaison-ent/liaison/internal/store"
)

// territorySchools lists the schools of a collectivité's territory
// (app.InTerritory decides).
func (s *Server) territorySchools(ctx context.Context, c store.Collectivite) ([]store.School, error) {
	return s.app.TerritorySchools(ctx, c)
}
