package api

import (
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type createSchoolRequest struct {
	UAI     string `json:"uai" validate:"required,uai"`
	Name    string `json:"name" validate:"required,min=2,max=160,text"`
	Commune string `json:"commune" validate:"required,insee"`
	Level   string `json:"level" validate:"required,school_level"`
}

func (s *Server) createSchool(c *fiber.Ctx) error {
	var req createSchoolRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	sc := store.School{
		UAI:       frenchid.NormalizeUAI(req.UAI),
		Name:      req.Name,
		Commune:   req.Commune,
		Level:     req.Level,
		CreatedAt: s.utcNow(),
	}
	a := s.auditEntry(c, "school.create", sc.UAI, fmt.Sprintf("Ajout de l'école « %s » (%s)", sc.Name, sc.UAI), "")
	if err := s.store.CreateSchool(c.UserContext(), sc, a); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewSchool(sc))
}

// listSchools: operators see all; admins and agents the schools of their
// territory; viewers the schools they are bound to.
func (s *Server) listSchools(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	cursor := func(x schoolView) string { return x.UAI }
	me := principal(c)
	switch {
	case me.Is(store.RoleOperator):
		items, err := s.store.ListSchools(c.UserContext(), store.SchoolFilter{Page: p})
		if err != nil {
			return err
		}
		return c.JSON(newList(viewAll(items, viewSchool), p.Limit, cursor))
	case me.Is(store.RoleViewer):
		if len(me.Account.Schools) == 0 {
			// Deny by default: no UAI filter would list every school.
			return c.JSON(newList([]schoolView{}, 0, cursor))
		}
		items, err := s.store.ListSchools(c.UserContext(), store.SchoolFilter{UAIs: me.Account.Schools, Page: p})
		if err != nil {
			return err
		}
		return c.JSON(newList(viewAll(items, viewSchool), p.Limit, cursor))
	}
	col, err := s.collectiviteOf(c)
	if err != nil {
		return err
	}
	all, err := s.territorySchools(c.UserContext(), col)
	if err != nil {
		return err
	}
	// Keyset page over the territory, ordered by UAI.
	slices.SortFunc(all, func(a, b store.School) int { return cmpString(a.UAI, b.UAI) })
	start, _ := slices.BinarySearchFunc(all, p.Cursor, func(x store.School, k string) int { return cmpString(x.UAI, k) })
	if start < len(all) && all[start].UAI == p.Cursor {
		start++
	}
	end := min(start+p.Limit, len(all))
	return c.JSON(newList(viewAll(all[start:end], viewSchool), p.Limit, cursor))
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
