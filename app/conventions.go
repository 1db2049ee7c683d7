package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// ConventionBody is a convention as an operator writes it. Identity,
// number, version and status are the server's.
type ConventionBody struct {
	Schools     []conventions.School    `json:"schools" validate:"required,min=1,max=2000"`
	Signatories []conventions.Signatory `json:"signatories" validate:"max=10"`
	ValidFrom   conventions.Date        `json:"valid_from"`
	ValidUntil  conventions.Date        `json:"valid_until"`
	Limits      conventions.Limits      `json:"limits"`
	Rules       []conventions.Rule      `json:"rules" validate:"max=100"`
	// Targeting: the enrolment targeting a category's notices must have.
	Targeting []conventions.Targeting `json:"targeting,omitempty" validate:"max=20"`
}

// CreateConventionRequest is a new convention, created as a draft.
type CreateConventionRequest struct {
	CollectiviteID string `json:"collectivite_id" validate:"required,max=64"`
	// Collectivite is the deprecated name of collectivite_id, still read.
	Collectivite string `json:"collectivite" validate:"max=64"`
	ConventionBody
}

// AmendConventionRequest is an amendment (avenant): the whole new text of
// convention ID and why it changes.
type AmendConventionRequest struct {
	ID string `json:"-"`
	ConventionBody
	CollectiviteID string `json:"collectivite_id" validate:"omitempty,max=64"`
	// Collectivite is the deprecated name of collectivite_id, still read.
	Collectivite string `json:"collectivite" validate:"max=64"`
	Reason       string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

// SuspendConventionRequest suspends convention ID, saying why.
type SuspendConventionRequest struct {
	ID     string `json:"-"`
	Reason string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

// ConventionRequest names one convention.
type ConventionRequest struct {
	ID string
}

// ListConventionsRequest filters a listing of conventions; empty fields do
// not filter.
type ListConventionsRequest struct {
	CollectiviteID string
	Status         string
	Page           store.Page
}

// Convention is a convention as its readers see it: the document (its
// identity from the stored record), its effective status and, when asked
// for one convention, its versions.
type Convention struct {
	conventions.Convention
	// EffectiveStatus is "expired" once the validity has ended (a draft
	// excepted), else the stored status.
	EffectiveStatus string
	UpdatedAt       time.Time
	Versions        []ConventionVersion
}

// ConventionVersion is one version of a convention, as signed.
type ConventionVersion struct {
	Version   int
	CreatedAt time.Time
	CreatedBy string
	Reason    string
	Document  conventions.Convention
}

// ConventionList is a page of conventions. Limit is the page size the
// listing was read with (0 when it is a single page: a viewer's).
type ConventionList struct {
	Items []Convention
	Limit int
}

// viewerConventionsPage bounds each per-school read of a viewer's listing.
const viewerConventionsPage = 200

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
	return Err(CodeRequestValidationFailed, NewDetail(oldName, "field.former_name_differs",
		fmt.Sprintf("« %s » est l'ancien nom de « %s » : ne donnez que « %s ».", oldName, name, name),
		fmt.Sprintf("%q is the former name of %q: give %q only.", oldName, name, name)))
}

// validateConventionRequest resolves the collectivité of a request that
// may give it under its former name, then validates the request.
func (a *App) validateConventionRequest(v any, id *string, old string) error {
	if err := formerName(id, old, "collectivite_id", "collectivite"); err != nil {
		return err
	}
	return a.Validate(v)
}

// CreateConvention records a draft convention (version 1). Operators
// only.
func (a *App) CreateConvention(ctx context.Context, p *Principal, req CreateConventionRequest) (Convention, error) {
	if !p.Is(store.RoleOperator) {
		return Convention{}, Err(CodeAuthForbidden)
	}
	if err := a.validateConventionRequest(&req, &req.CollectiviteID, req.Collectivite); err != nil {
		return Convention{}, err
	}
	col, err := a.store.GetCollectivite(ctx, req.CollectiviteID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Convention{}, err
	}
	if err != nil {
		return Convention{}, Err(CodeRequestValidationFailed, NewDetail("collectivite_id", "field.unknown_collectivite",
			"Cette collectivité n'existe pas.", "This collectivité does not exist."))
	}
	now := a.Now()
	b := req.ConventionBody
	doc := conventions.Convention{
		ID: store.NewID("cnv", now), CollectiviteID: col.ID, Version: 1, Status: conventions.StatusDraft,
		Schools: b.Schools, Signatories: b.Signatories, ValidFrom: b.ValidFrom, ValidUntil: b.ValidUntil,
		Limits: b.Limits, Rules: b.Rules, Targeting: b.Targeting,
	}
	if err := a.completeSchools(ctx, &doc); err != nil {
		return Convention{}, err
	}
	if rs := conventions.ValidateConvention(doc); len(rs) > 0 {
		return Convention{}, ReasonsError(CodeConventionsInvalid, rs)
	}
	rec, ver, err := ConventionRecord(doc, now, p.ID(), "")
	if err != nil {
		return Convention{}, err
	}
	audit := a.Audit(p, "convention.create", doc.ID, fmt.Sprintf("Création de la convention (brouillon) pour « %s »", col.Name), col.ID)
	n, err := a.store.CreateConvention(ctx, rec, ver, audit)
	if err != nil {
		return Convention{}, err
	}
	doc.Number = n
	rec.Number = n
	return a.ConventionOf(rec, doc, nil), nil
}

// completeSchools normalises the convention's UAIs and fills each school's
// level and commune from the registry; unknown schools are refused.
func (a *App) completeSchools(ctx context.Context, doc *conventions.Convention) error {
	uais := make([]string, len(doc.Schools))
	for i := range doc.Schools {
		uais[i] = frenchid.NormalizeUAI(doc.Schools[i].UAI)
	}
	found, err := a.store.ListSchools(ctx, store.SchoolFilter{UAIs: uais, Page: store.Page{Limit: len(uais)}})
	if err != nil {
		return err
	}
	byUAI := make(map[string]store.School, len(found))
	for _, sc := range found {
		byUAI[sc.UAI] = sc
	}
	var ds []Detail
	for i, u := range uais {
		sc, ok := byUAI[u]
		if !ok {
			ds = append(ds, unknownSchool(fmt.Sprintf("schools[%d]", i), u))
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
		return Err(CodeRequestValidationFailed, ds...)
	}
	return nil
}

// ConventionRecord turns a document into the stored record and version.
func ConventionRecord(doc conventions.Convention, now time.Time, by, reason string) (store.Convention, store.ConventionVersion, error) {
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

// ConventionOf is the convention of a record and its document, now, with
// versions (nil when not asked for).
func (a *App) ConventionOf(rec store.Convention, doc conventions.Convention, versions []store.ConventionVersion) Convention {
	c := Convention{Convention: doc, EffectiveStatus: rec.Status, UpdatedAt: rec.UpdatedAt}
	if !a.Now().Before(doc.ValidUntil.End()) && rec.Status != store.ConventionDraft {
		c.EffectiveStatus = store.ConventionExpired
	}
	for _, ver := range versions {
		d, _ := conventions.ParseDocument(ver.Doc)
		d.CollectiviteID = rec.CollectiviteID // amendments keep it
		c.Versions = append(c.Versions, ConventionVersion{Version: ver.Version, CreatedAt: ver.CreatedAt, CreatedBy: ver.CreatedBy, Reason: ver.Reason, Document: d})
	}
	return c
}

// canReadConvention: operators all; admins their collectivité's; viewers
// those covering one of their schools.
func canReadConvention(p *Principal, rec store.Convention) bool {
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

// ListConventions lists the conventions p may read: operators all
// (filtered by collectivité and status), admins their collectivité's,
// viewers — in a single page — those covering one of their schools.
// Nobody else.
func (a *App) ListConventions(ctx context.Context, p *Principal, req ListConventionsRequest) (ConventionList, error) {
	f := store.ConventionFilter{CollectiviteID: req.CollectiviteID, Status: req.Status, Page: req.Page}
	var recs []store.Convention
	limit := req.Page.Limit
	switch {
	case p.Is(store.RoleOperator):
	case p.Is(store.RoleAdmin):
		f.CollectiviteID = p.Account.CollectiviteID
	case p.Is(store.RoleViewer):
		// Conventions covering any of the viewer's schools, deduplicated.
		seen := map[string]bool{}
		for _, uai := range p.Account.Schools {
			f.School = uai
			f.Page = store.Page{Limit: viewerConventionsPage}
			rs, err := a.store.ListConventions(ctx, f)
			if err != nil {
				return ConventionList{}, err
			}
			for _, r := range rs {
				if !seen[r.ID] {
					seen[r.ID] = true
					recs = append(recs, r)
				}
			}
		}
		limit = 0 // a single page
	default:
		return ConventionList{}, Err(CodeAuthForbidden)
	}
	if !p.Is(store.RoleViewer) {
		var err error
		if recs, err = a.store.ListConventions(ctx, f); err != nil {
			return ConventionList{}, err
		}
	}
	out := ConventionList{Items: make([]Convention, 0, len(recs)), Limit: limit}
	for _, r := range recs {
		doc, err := DocumentOf(r)
		if err != nil {
			return ConventionList{}, err
		}
		out.Items = append(out.Items, a.ConventionOf(r, doc, nil))
	}
	return out, nil
}

// loadConvention loads a convention p may read (else not found).
func (a *App) loadConvention(ctx context.Context, p *Principal, id string) (store.Convention, conventions.Convention, error) {
	rec, err := a.store.GetConvention(ctx, id)
	if err != nil {
		return rec, conventions.Convention{}, err
	}
	if !canReadConvention(p, rec) {
		return rec, conventions.Convention{}, Err(CodeResourceNotFound)
	}
	doc, err := DocumentOf(rec)
	return rec, doc, err
}

// GetConvention is one convention with its versions, for those who may
// read it (operators, its collectivité's admins, the viewers of one of its
// schools); not found for the other admins and viewers, forbidden to
// everyone else.
func (a *App) GetConvention(ctx context.Context, p *Principal, req ConventionRequest) (Convention, error) {
	if !p.Is(store.RoleOperator, store.RoleAdmin, store.RoleViewer) {
		return Convention{}, Err(CodeAuthForbidden)
	}
	rec, doc, err := a.loadConvention(ctx, p, req.ID)
	if err != nil {
		return Convention{}, err
	}
	versions, err := a.store.ConventionVersions(ctx, rec.ID)
	if err != nil {
		return Convention{}, err
	}
	return a.ConventionOf(rec, doc, versions), nil
}

// activationContext gathers what activation needs: the admin count and the
// territory of the collectivité.
func (a *App) activationContext(ctx context.Context, collectiviteID string) (conventions.ActivationContext, error) {
	var ac conventions.ActivationContext
	col, err := a.store.GetCollectivite(ctx, collectiviteID)
	if err != nil {
		return ac, err
	}
	if ac.Admins, err = a.store.CountAccounts(ctx, store.RoleAdmin, collectiviteID); err != nil {
		return ac, err
	}
	if ac.TerritorySchools, err = a.territoryUAIs(ctx, col); err != nil {
		return ac, err
	}
	ac.Now = a.Now()
	return ac, nil
}

// ActivateConvention checks the activation checklist (three signatures,
// a rule, schools in the territory, two admins) and activates, or refuses
// with every reason. Operators only; activating an active convention
// changes nothing.
func (a *App) ActivateConvention(ctx context.Context, p *Principal, req ConventionRequest) (Convention, error) {
	if !p.Is(store.RoleOperator) {
		return Convention{}, Err(CodeAuthForbidden)
	}
	rec, doc, err := a.loadConvention(ctx, p, req.ID)
	if err != nil {
		return Convention{}, err
	}
	if rec.Status == store.ConventionActive {
		return a.ConventionOf(rec, doc, nil), nil
	}
	ac, err := a.activationContext(ctx, rec.CollectiviteID)
	if err != nil {
		return Convention{}, err
	}
	doc.Status = conventions.StatusActive
	if rs := conventions.CheckActivation(doc, ac); len(rs) > 0 {
		return Convention{}, ReasonsError(CodeConventionsActivationRefused, rs)
	}
	return a.saveConventionStatus(ctx, p, rec, doc, "convention.activate",
		fmt.Sprintf("Activation de la convention n° %d (version %d)", rec.Number, rec.Version))
}

// SuspendConvention suspends a convention: no publication under it until
// it is activated again. Operators only.
func (a *App) SuspendConvention(ctx context.Context, p *Principal, req SuspendConventionRequest) (Convention, error) {
	if !p.Is(store.RoleOperator) {
		return Convention{}, Err(CodeAuthForbidden)
	}
	if err := a.Validate(&req); err != nil {
		return Convention{}, err
	}
	rec, doc, err := a.loadConvention(ctx, p, req.ID)
	if err != nil {
		return Convention{}, err
	}
	doc.Status = conventions.StatusSuspended
	return a.saveConventionStatus(ctx, p, rec, doc, "convention.suspend",
		fmt.Sprintf("Suspension de la convention n° %d : %s", rec.Number, req.Reason))
}

func (a *App) saveConventionStatus(ctx context.Context, p *Principal, rec store.Convention, doc conventions.Convention, action, summary string) (Convention, error) {
	next, _, err := ConventionRecord(doc, a.Now(), "", "")
	if err != nil {
		return Convention{}, err
	}
	next.Number = rec.Number
	audit := a.Audit(p, action, rec.ID, summary, rec.CollectiviteID)
	if err := a.store.UpdateConvention(ctx, next, rec.Version, nil, audit); err != nil {
		return Convention{}, err
	}
	return a.ConventionOf(next, doc, nil), nil
}

// AmendConvention records a new version (avenant). Amending an active
// convention must pass the activation checklist: the new version takes
// effect at once and notices keep the version that allowed them.
// Operators only.
func (a *App) AmendConvention(ctx context.Context, p *Principal, req AmendConventionRequest) (Convention, error) {
	if !p.Is(store.RoleOperator) {
		return Convention{}, Err(CodeAuthForbidden)
	}
	if err := a.validateConventionRequest(&req, &req.CollectiviteID, req.Collectivite); err != nil {
		return Convention{}, err
	}
	rec, prev, err := a.loadConvention(ctx, p, req.ID)
	if err != nil {
		return Convention{}, err
	}
	if req.CollectiviteID != "" && req.CollectiviteID != rec.CollectiviteID {
		return Convention{}, Err(CodeRequestValidationFailed, NewDetail("collectivite_id", "conventions.collectivite_fixed",
			"Un avenant ne peut pas changer de collectivité.", "An amendment cannot change the collectivité."))
	}
	b := req.ConventionBody
	next := conventions.Amend(prev, conventions.Convention{Schools: b.Schools, Signatories: b.Signatories,
		ValidFrom: b.ValidFrom, ValidUntil: b.ValidUntil, Limits: b.Limits, Rules: b.Rules, Targeting: b.Targeting})
	if err := a.completeSchools(ctx, &next); err != nil {
		return Convention{}, err
	}
	if rec.Status == store.ConventionActive {
		next.Status = conventions.StatusActive
		ac, err := a.activationContext(ctx, rec.CollectiviteID)
		if err != nil {
			return Convention{}, err
		}
		if rs := conventions.CheckActivation(next, ac); len(rs) > 0 {
			return Convention{}, ReasonsError(CodeConventionsAmendmentRefused, rs)
		}
	} else {
		next.Status = conventions.Status(rec.Status)
		if rs := conventions.ValidateConvention(next); len(rs) > 0 {
			return Convention{}, ReasonsError(CodeConventionsAmendmentRefused, rs)
		}
	}
	newRec, ver, err := ConventionRecord(next, a.Now(), p.ID(), req.Reason)
	if err != nil {
		return Convention{}, err
	}
	audit := a.Audit(p, "convention.amend", rec.ID,
		fmt.Sprintf("Avenant à la convention n° %d : version %d (%s)", rec.Number, next.Version, req.Reason), rec.CollectiviteID)
	if err := a.store.UpdateConvention(ctx, newRec, rec.Version, &ver, audit); err != nil {
		return Convention{}, err
	}
	return a.ConventionOf(newRec, next, nil), nil
}

// territoryUAIs lists the UAIs of a collectivité's territory.
func (a *App) territoryUAIs(ctx context.Context, c store.Collectivite) ([]string, error) {
	schools, err := a.TerritorySchools(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sc := range schools {
		out = append(out, sc.UAI)
	}
	return out, nil
}
