package api

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type createCollectiviteRequest struct {
	Kind         string   `json:"kind" validate:"required,oneof=commune epci departement region"`
	Name         string   `json:"name" validate:"required,min=2,max=120,text"`
	INSEE        string   `json:"insee" validate:"required_if=Kind commune,excluded_unless=Kind commune,omitempty,insee"`
	SIREN        string   `json:"siren" validate:"required_unless=Kind commune,omitempty,siren"`
	Members      []string `json:"members" validate:"required_if=Kind epci,excluded_unless=Kind epci,omitempty,min=1,max=1000,unique,dive,insee"`
	Departements []string `json:"departements" validate:"required_if=Kind departement,required_if=Kind region,excluded_if=Kind commune,excluded_if=Kind epci,omitempty,min=1,max=20,unique,dive,required"`
}

func (s *Server) createCollectivite(c *fiber.Ctx) error {
	var req createCollectiviteRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	var ds []app.Detail
	for i, d := range req.Departements {
		if !frenchid.DepartementValid(d) {
			ds = append(ds, app.NewDetail(fmt.Sprintf("departements[%d]", i), "field.departement",
				"Code de département invalide (ex. 80, 2A, 974).", "Invalid département code (e.g. 80, 2A, 974)."))
		}
	}
	if req.Kind == store.KindDepartement && len(req.Departements) > 1 {
		ds = append(ds, app.NewDetail("departements", "field.max", "Un département a un seul code.", "A département has a single code."))
	}
	if len(ds) > 0 {
		return app.Err(app.CodeRequestValidationFailed, ds...)
	}
	col := store.Collectivite{
		ID:           store.NewID("col", s.utcNow()),
		Kind:         req.Kind,
		Name:         req.Name,
		INSEE:        req.INSEE,
		SIREN:        req.SIREN,
		Members:      req.Members,
		Departements: req.Departements,
		CreatedAt:    s.utcNow(),
	}
	a := s.auditEntry(c, "collectivite.create", col.ID, fmt.Sprintf("Création de la collectivité « %s » (%s)", col.Name, col.Kind), col.ID)
	if err := s.store.CreateCollectivite(c.UserContext(), col, a); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewCollectivite(col))
}

// listCollectivites: operators see all; admins and agents their own;
// viewers none.
func (s *Server) listCollectivites(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	cursor := func(x collectiviteView) string { return x.ID }
	me := principal(c)
	if !me.Is(store.RoleOperator) {
		var items []store.Collectivite
		if me.Is(store.RoleAdmin, store.RoleAgent) && p.Cursor == "" {
			col, err := s.store.GetCollectivite(c.UserContext(), me.Account.CollectiviteID)
			if err != nil {
				return err
			}
			items = append(items, col)
		}
		return c.JSON(newList(viewAll(items, viewCollectivite), 0, cursor))
	}
	items, err := s.store.ListCollectivites(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(newList(viewAll(items, viewCollectivite), p.Limit, cursor))
}

func (s *Server) getCollectivite(c *fiber.Ctx) error {
	id := c.Params("id")
	me := principal(c)
	if !me.Is(store.RoleOperator) && !(me.Is(store.RoleAdmin, store.RoleAgent) && me.Account.CollectiviteID == id) {
		return app.Err(app.CodeResourceNotFound)
	}
	col, err := s.store.GetCollectivite(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(viewCollectivite(col))
}

// collectiviteOf loads the caller's own collectivité (admins, agents).
func (s *Server) collectiviteOf(c *fiber.Ctx) (store.Collectivite, error) {
	me := principal(c)
	if me.Account == nil || me.Account.CollectiviteID == "" {
		return store.Collectivite{}, app.Err(app.CodeAuthForbidden)
	}
	return s.store.GetCollectivite(c.UserContext(), me.Account.CollectiviteID)
}
