package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// conventionBody is a convention as an operator writes it. Identity,
// number, version and status are the server's.
type conventionBody struct {
	Schools     []conventions.School    `json:"schools" validate:"required,min=1,max=2000"`
	Signatories []conventions.Signatory `json:"signatories" validate:"max=10"`
	ValidFrom   conventions.Date        `json:"valid_from"`
	ValidUntil  conventions.Date        `json:"valid_until"`
	Limits      conventions.Limits      `json:"limits"`
	Rules       []conventions.Rule      `json:"rules" validate:"max=100"`
}

type createConventionRequest struct {
	CollectiviteID string `json:"collectivite_id" validate:"required,max=64"`
	// Collectivite is the deprecated name of collectivite_id, still read.
	Collectivite string `json:"collectivite" validate:"max=64"`
	conventionBody
}

type amendmentBody struct {
	conventionBody
	CollectiviteID string `json:"collectivite_id" validate:"omitempty,max=64"`
	// Collectivite is the deprecated name of collectivite_id, still read.
	Collectivite string `json:"collectivite" validate:"max=64"`
	Reason       string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

// formerName resolves a field sent under its deprecated name (old, named
// oldName): the value given under either name is the field's; both given
// with different values is refused.
func formerName(cur *string, old, name, oldName string) error {
	switch {
	case old == "" || old == *cur:
		return nil
	case *cur == "":
		*cur = old
		return nil
	}
	return app.Err(app.CodeRequestValidationFailed, app.NewDetail(oldName, "field.former_name_differs",
		fmt.Sprintf("« %s » est l'ancien nom de « %s » : ne donnez que « %s ».", oldName, name, name),
		fmt.Sprintf("%q is the former name of %q: give %q only.", oldName, name, name)))
}

// validateConventionRequest resolves the collectivité of a body that may
// send it under its former name, then validates the body.
func (s *Server) validateConventionRequest(v any, id *string, old string) error {
	if err := formerName(id, old, "collectivite_id", "collectivite"); err != nil {
		return err
	}
	return s.app.Validate(v)
}

type reasonBody struct {
	Reason string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

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

func (s *Server) createConvention(c *fiber.Ctx) error {
	var req createConventionRequest
	if err := readJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	if err := s.validateConventionRequest(&req, &req.CollectiviteID, req.Collectivite); err != nil {
		return err
	}
	ctx := c.UserContext()
	col, err := s.store.GetCollectivite(ctx, req.CollectiviteID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil {
		return app.Err(app.CodeRequestValidationFailed, app.NewDetail("collectivite_id", "field.unknown_collectivite",
			"Cette collectivité n'existe pas.", "This collectivité does not exist."))
	}
	now := s.utcNow()
	doc := conventions.Convention{
		ID: store.NewID("cnv", now), CollectiviteID: col.ID, Version: 1, Status: conventions.StatusDraft,
		Schools: req.Schools, Signatories: req.Signatories, ValidFrom: req.ValidFrom, ValidUntil: req.ValidUntil,
		Limits: req.Limits, Rules: req.Rules,
	}
	if err := s.completeSchools(ctx, &doc); err != nil {
		return err
	}
	if rs := conventions.ValidateConvention(doc); len(rs) > 0 {
		return reasonsError(app.CodeConventionsInvalid, rs)
	}
	rec, ver, err := conventionRecord(doc, now, principal(c).ID(), "")
	if err != nil {
		return err
	}
	a := s.auditEntry(c, "convention.create", doc.ID, fmt.Sprintf("Création de la convention (brouillon) pour « %s »", col.Name), col.ID)
	n, err := s.store.CreateConvention(ctx, rec, ver, a)
	if err != nil {
		return err
	}
	doc.Number = n
	rec.Number = n
	return c.Status(fiber.StatusCreated).JSON(s.viewConvention(rec, doc, nil))
}

// completeSchools normalises the convention's UAIs and fills each school's
// level and commune from the registry; unknown schools are refused.
func (s *Server) completeSchools(ctx context.Context, doc *conventions.Convention) error {
	uais := make([]string, len(doc.Schools))
	for i := range doc.Schools {
		uais[i] = frenchid.NormalizeUAI(doc.Schools[i].UAI)
	}
	found, err := s.store.ListSchools(ctx, store.SchoolFilter{UAIs: uais, Page: store.Page{Limit: len(uais)}})
	if err != nil {
		return err
	}
	byUAI := make(map[string]store.School, len(found))
	for _, sc := range found {
		byUAI[sc.UAI] = sc
	}
	var ds []app.Detail
	for i, u := range uais {
		sc, ok := byUAI[u]
		if !ok {
			ds = append(ds, app.NewDetail(fmt.Sprintf("schools[%d]", i), "field.unknown_school",
				fmt.Sprintf("L'école %s n'est pas enregistrée.", u), fmt.Sprintf("School %s is not registered.", u)))
			continue
		}
		doc.Schools[i] = conventions.School{UAI: u, Level: sc.Level, Commune: sc.Commune}
	}
	for i := range doc.Rules {
		for j := range doc.Rules[i].Schools {
			doc.Rules[i].Schools[j] = frenchid.NormalizeUAI(doc.Rules[i].Schools[j])
		}
	}
	if len(ds) > 0 {
		return app.Err(app.CodeRequestValidationFailed, ds...)
	}
	return nil
}

// conventionRecord turns a document into the stored record and version.
func conventionRecord(doc conventions.Convention, now time.Time, by, reason string) (store.Convention, store.ConventionVersion, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return store.Convention{}, store.ConventionVersion{}, err
	}
	schools := make([]string, len(doc.Schools))
	for i, sc := range doc.Schools {
		schools[i] = sc.UAI
	}
	rec := store.Convention{ID: doc.ID, Number: doc.Number, CollectiviteID: doc.CollectiviteID, Status: string(doc.Status),
		Version: doc.Version, Doc: raw, Schools: schools, UpdatedAt: now}
	ver := store.ConventionVersion{ConventionID: doc.ID, Version: doc.Version, Doc: raw, CreatedAt: now, CreatedBy: by, Reason: reason}
	return rec, ver, nil
}

// documentOf decodes a stored convention, its identity taken from the
// record (the source of truth for status and number).
func documentOf(rec store.Convention) (conventions.Convention, error) {
	doc, err := conventions.ParseDocument(rec.Doc)
	if err != nil {
		return doc, fmt.Errorf("api: stored convention %s is unreadable: %w", rec.ID, err)
	}
	doc.ID, doc.Number, doc.Version, doc.Status, doc.CollectiviteID = rec.ID, rec.Number, rec.Version, conventions.Status(rec.Status), rec.CollectiviteID
	return doc, nil
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

func (s *Server) viewConvention(rec store.Convention, doc conventions.Convention, versions []store.ConventionVersion) conventionView {
	nonNilLists(&doc)
	v := conventionView{Convention: doc, EffectiveStatus: rec.Status, UpdatedAt: rec.UpdatedAt}
	if !s.utcNow().Before(doc.ValidUntil.End()) && rec.Status != store.ConventionDraft {
		v.EffectiveStatus = store.ConventionExpired
	}
	for _, ver := range versions {
		d, _ := conventions.ParseDocument(ver.Doc)
		d.CollectiviteID = rec.CollectiviteID // amendments keep it
		nonNilLists(&d)
		v.Versions = append(v.Versions, conventionVersionView{Version: ver.Version, CreatedAt: ver.CreatedAt, CreatedBy: ver.CreatedBy, Reason: ver.Reason, Document: d})
	}
	return v
}

// reasonsError turns conventions reasons into a catalog error whose
// details carry each reason's code, field and sentence.
func reasonsError(code app.Code, rs []conventions.Reason) *app.Error {
	ds := make([]app.Detail, len(rs))
	for i, r := range rs {
		ds[i] = app.NewDetail(r.Field, r.Code, r.FR, r.EN)
	}
	return app.Err(code, ds...)
}

// canReadConvention: operators all; admins their collectivité's; viewers
// those covering one of their schools.
func canReadConvention(p *app.Principal, rec store.Convention) bool {
	switch {
	case p.Is(store.RoleOperator):
		return true
	case p.Is(store.RoleAdmin):
		return rec.CollectiviteID == p.Account.CollectiviteID
	case p.Is(store.RoleViewer):
		for _, s := range rec.Schools {
			if slices.Contains(p.Account.Schools, s) {
				return true
			}
		}
	}
	return false
}

func (s *Server) listConventions(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	me := principal(c)
	f := store.ConventionFilter{CollectiviteID: c.Query("collectivite_id"), Status: c.Query("status"), Page: p}
	if me.Is(store.RoleAdmin) {
		f.CollectiviteID = me.Account.CollectiviteID
	}
	var recs []store.Convention
	if me.Is(store.RoleViewer) {
		// Conventions covering any of the viewer's schools, deduplicated.
		seen := map[string]bool{}
		for _, uai := range me.Account.Schools {
			f.School = uai
			f.Page = store.Page{Limit: maxPageSize}
			rs, err := s.store.ListConventions(c.UserContext(), f)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if !seen[r.ID] {
					seen[r.ID] = true
					recs = append(recs, r)
				}
			}
		}
		p.Limit = 0 // a single page
	} else {
		if recs, err = s.store.ListConventions(c.UserContext(), f); err != nil {
			return err
		}
	}
	views := make([]conventionView, 0, len(recs))
	for _, r := range recs {
		doc, err := documentOf(r)
		if err != nil {
			return err
		}
		views = append(views, s.viewConvention(r, doc, nil))
	}
	return c.JSON(newList(views, p.Limit, func(v conventionView) string { return v.ID }))
}

// loadConvention loads a convention the caller may read (else 404).
func (s *Server) loadConvention(c *fiber.Ctx) (store.Convention, conventions.Convention, error) {
	rec, err := s.store.GetConvention(c.UserContext(), c.Params("id"))
	if err != nil {
		return rec, conventions.Convention{}, err
	}
	if !canReadConvention(principal(c), rec) {
		return rec, conventions.Convention{}, app.Err(app.CodeResourceNotFound)
	}
	doc, err := documentOf(rec)
	return rec, doc, err
}

func (s *Server) getConvention(c *fiber.Ctx) error {
	rec, doc, err := s.loadConvention(c)
	if err != nil {
		return err
	}
	versions, err := s.store.ConventionVersions(c.UserContext(), rec.ID)
	if err != nil {
		return err
	}
	return c.JSON(s.viewConvention(rec, doc, versions))
}

// activationContext gathers what activation needs: the admin count and the
// territory of the collectivité.
func (s *Server) activationContext(ctx context.Context, collectiviteID string) (conventions.ActivationContext, error) {
	var ac conventions.ActivationContext
	col, err := s.store.GetCollectivite(ctx, collectiviteID)
	if err != nil {
		return ac, err
	}
	if ac.Admins, err = s.store.CountAccounts(ctx, store.RoleAdmin, collectiviteID); err != nil {
		return ac, err
	}
	schools, err := s.territorySchools(ctx, col)
	if err != nil {
		return ac, err
	}
	for _, sc := range schools {
		ac.TerritorySchools = append(ac.TerritorySchools, sc.UAI)
	}
	ac.Now = s.utcNow()
	return ac, nil
}

// activateConvention checks the activation checklist (three signatures,
// a rule, schools in the territory, two admins) and activates, or refuses
// with every reason.
func (s *Server) activateConvention(c *fiber.Ctx) error {
	rec, doc, err := s.loadConvention(c)
	if err != nil {
		return err
	}
	if rec.Status == store.ConventionActive {
		return c.JSON(s.viewConvention(rec, doc, nil))
	}
	ac, err := s.activationContext(c.UserContext(), rec.CollectiviteID)
	if err != nil {
		return err
	}
	doc.Status = conventions.StatusActive
	if rs := conventions.CheckActivation(doc, ac); len(rs) > 0 {
		return reasonsError(app.CodeConventionsActivationRefused, rs)
	}
	return s.saveConventionStatus(c, rec, doc, "convention.activate",
		fmt.Sprintf("Activation de la convention n° %d (version %d)", rec.Number, rec.Version))
}

func (s *Server) suspendConvention(c *fiber.Ctx) error {
	var req reasonBody
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	rec, doc, err := s.loadConvention(c)
	if err != nil {
		return err
	}
	doc.Status = conventions.StatusSuspended
	return s.saveConventionStatus(c, rec, doc, "convention.suspend",
		fmt.Sprintf("Suspension de la convention n° %d : %s", rec.Number, req.Reason))
}

func (s *Server) saveConventionStatus(c *fiber.Ctx, rec store.Convention, doc conventions.Convention, action, summary string) error {
	next, _, err := conventionRecord(doc, s.utcNow(), "", "")
	if err != nil {
		return err
	}
	next.Number = rec.Number
	a := s.auditEntry(c, action, rec.ID, summary, rec.CollectiviteID)
	if err := s.store.UpdateConvention(c.UserContext(), next, rec.Version, nil, a); err != nil {
		return err
	}
	return c.JSON(s.viewConvention(next, doc, nil))
}

// amendConvention records a new version (avenant). Amending an active
// convention must pass the activation checklist: the new version takes
// effect at once and notices keep the version that allowed them.
func (s *Server) amendConvention(c *fiber.Ctx) error {
	var req amendmentBody
	if err := readJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	if err := s.validateConventionRequest(&req, &req.CollectiviteID, req.Collectivite); err != nil {
		return err
	}
	rec, prev, err := s.loadConvention(c)
	if err != nil {
		return err
	}
	if req.CollectiviteID != "" && req.CollectiviteID != rec.CollectiviteID {
		return app.Err(app.CodeRequestValidationFailed, app.NewDetail("collectivite_id", "conventions.collectivite_fixed",
			"Un avenant ne peut pas changer de collectivité.", "An amendment cannot change the collectivité."))
	}
	ctx := c.UserContext()
	b := req.conventionBody
	next := conventions.Amend(prev, conventions.Convention{Schools: b.Schools, Signatories: b.Signatories,
		ValidFrom: b.ValidFrom, ValidUntil: b.ValidUntil, Limits: b.Limits, Rules: b.Rules})
	if err := s.completeSchools(ctx, &next); err != nil {
		return err
	}
	if rec.Status == store.ConventionActive {
		next.Status = conventions.StatusActive
		ac, err := s.activationContext(ctx, rec.CollectiviteID)
		if err != nil {
			return err
		}
		if rs := conventions.CheckActivation(next, ac); len(rs) > 0 {
			return reasonsError(app.CodeConventionsAmendmentRefused, rs)
		}
	} else {
		next.Status = conventions.Status(rec.Status)
		if rs := conventions.ValidateConvention(next); len(rs) > 0 {
			return reasonsError(app.CodeConventionsAmendmentRefused, rs)
		}
	}
	newRec, ver, err := conventionRecord(next, s.utcNow(), principal(c).ID(), req.Reason)
	if err != nil {
		return err
	}
	a := s.auditEntry(c, "convention.amend", rec.ID,
		fmt.Sprintf("Avenant à la convention n° %d : version %d (%s)", rec.Number, next.Version, req.Reason), rec.CollectiviteID)
	if err := s.store.UpdateConvention(ctx, newRec, rec.Version, &ver, a); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.viewConvention(newRec, next, nil))
}
