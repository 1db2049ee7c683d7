package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The convention use cases are in package app (app/conventions.go); these
// handlers decode the request, call them and encode the answer.

// conventionView is a convention as the API shows it.
type conventionView struct {
	conventions.Convention
	// EffectiveStatus is "expired" once the validity has ended, else the
	// stored status.
	EffectiveStatus string                  `json:"effective_status"`
	UpdatedAt       time.Time               `json:"updated_at"`
	Versions        []conventionVersionView `json:"versions,omitempty"`
}

type conventionVersionView struct {
	Version   int                    `json:"version"`
	CreatedAt time.Time              `json:"created_at"`
	CreatedBy string                 `json:"created_by"`
	Reason    string                 `json:"reason,omitempty"`
	Document  conventions.Convention `json:"document"`
}

// nonNilLists makes absent lists of a draft empty arrays in JSON.
func nonNilLists(d *conventions.Convention) {
	if d.Signatories == nil {
		d.Signatories = []conventions.Signatory{}
	}
	if d.Rules == nil {
		d.Rules = []conventions.Rule{}
	}
	if d.Schools == nil {
		d.Schools = []conventions.School{}
	}
}

// viewAppConvention is the API's view of a convention.
func viewAppConvention(c app.Convention) conventionView {
	nonNilLists(&c.Convention)
	v := conventionView{Convention: c.Convention, EffectiveStatus: c.EffectiveStatus, UpdatedAt: c.UpdatedAt}
	for _, ver := range c.Versions {
		nonNilLists(&ver.Document)
		v.Versions = append(v.Versions, conventionVersionView{Version: ver.Version, CreatedAt: ver.CreatedAt, CreatedBy: ver.CreatedBy, Reason: ver.Reason, Document: ver.Document})
	}
	return v
}

// viewConvention is the view of a stored convention, now.
func (s *Server) viewConvention(rec store.Convention, doc conventions.Convention, versions []store.ConventionVersion) conventionView {
	return viewAppConvention(s.app.ConventionOf(rec, doc, versions))
}

// conventionRecord turns a document into the stored record and version.
func conventionRecord(doc conventions.Convention, now time.Time, by, reason string) (store.Convention, store.ConventionVersion, error) {
	return app.ConventionRecord(doc, now, by, reason)
}

// createConvention is POST /v1/conventions (app.CreateConvention).
func (s *Server) createConvention(c *fiber.Ctx) error {
	return created(s, c, s.app.CreateConvention, viewAppConvention)
}

// listConventions is GET /v1/conventions (app.ListConventions).
func (s *Server) listConventions(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	res, err := s.app.ListConventions(c.UserContext(), principal(c),
		app.ListConventionsRequest{CollectiviteID: c.Query("collectivite_id"), Status: c.Query("status"), Page: p})
	if err != nil {
		return err
	}
	views := make([]conventionView, 0, len(res.Items))
	for _, x := range res.Items {
		views = append(views, viewAppConvention(x))
	}
	return c.JSON(newList(views, res.Limit, func(v conventionView) string { return v.ID }))
}

// getConvention is GET /v1/conventions/{id} (app.GetConvention).
func (s *Server) getConvention(c *fiber.Ctx) error {
	res, err := s.app.GetConvention(c.UserContext(), principal(c), app.ConventionRequest{ID: c.Params("id")})
	if err != nil {
		return err
	}
	return c.JSON(viewAppConvention(res))
}

// activateConvention is POST /v1/conventions/{id}/activate
// (app.ActivateConvention).
func (s *Server) activateConvention(c *fiber.Ctx) error {
	res, err := s.app.ActivateConvention(c.UserContext(), principal(c), app.ConventionRequest{ID: c.Params("id")})
	if err != nil {
		return err
	}
	return c.JSON(viewAppConvention(res))
}

// suspendConvention is POST /v1/conventions/{id}/suspend
// (app.SuspendConvention).
func (s *Server) suspendConvention(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, func(r *app.SuspendConventionRequest) { r.ID = c.Params("id") }, s.app.SuspendConvention, viewAppConvention)
}

// amendConvention is POST /v1/conventions/{id}/amendments
// (app.AmendConvention).
func (s *Server) amendConvention(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusCreated, func(r *app.AmendConventionRequest) { r.ID = c.Params("id") }, s.app.AmendConvention, viewAppConvention)
}
