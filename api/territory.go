package api

import (
	"context"
	"slices"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// ecoleLevels are the school levels run by communes and EPCIs.
var ecoleLevels = []string{store.LevelMaternelle, store.LevelElementaire, store.LevelPrimaire}

// inTerritory reports whether a school belongs to a collectivité's
// territory: a commune's écoles; an EPCI's member communes' écoles; a
// département's collèges; a région's lycées.
func inTerritory(c store.Collectivite, s store.School) bool {
	switch c.Kind {
	case store.KindCommune:
		return s.Commune == c.INSEE && slices.Contains(ecoleLevels, s.Level)
	case store.KindEPCI:
		return slices.Contains(c.Members, s.Commune) && slices.Contains(ecoleLevels, s.Level)
	case store.KindDepartement:
		return s.Level == store.LevelCollege && slices.Contains(c.Departements, frenchid.DepartementOf(s.Commune))
	case store.KindRegion:
		return s.Level == store.LevelLycee && slices.Contains(c.Departements, frenchid.DepartementOf(s.Commune))
	}
	return false
}

// territorySchools lists the schools of a collectivité's territory.
func (s *Server) territorySchools(ctx context.Context, c store.Collectivite) ([]store.School, error) {
	f := store.SchoolFilter{Page: store.Page{Limit: 100000}}
	switch c.Kind {
	case store.KindCommune:
		f.Communes = []string{c.INSEE}
	case store.KindEPCI:
		f.Communes = c.Members
	}
	all, err := s.store.ListSchools(ctx, f)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, sc := range all {
		if inTerritory(c, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}
