package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// Collectivités, schools and territories. Operators register both and see
// all; a collectivité's admins and agents see their own collectivité and
// the schools of its territory; a viewer (IEN, school director) the
// schools they are bound to; anyone else nothing.

// CreateCollectiviteRequest registers a collectivité.
type CreateCollectiviteRequest struct {
	Kind         string   `json:"kind" validate:"required,oneof=commune epci departement region"`
	Name         string   `json:"name" validate:"required,min=2,max=120,text"`
	INSEE        string   `json:"insee" validate:"required_if=Kind commune,excluded_unless=Kind commune,omitempty,insee"`
	SIREN        string   `json:"siren" validate:"required_unless=Kind commune,omitempty,siren"`
	Members      []string `json:"members" validate:"required_if=Kind epci,excluded_unless=Kind epci,omitempty,min=1,max=1000,unique,dive,insee"`
	Departements []string `json:"departements" validate:"required_if=Kind departement,required_if=Kind region,excluded_if=Kind commune,excluded_if=Kind epci,omitempty,min=1,max=20,unique,dive,required"`
}

// CreateCollectivite registers a collectivité (operators only).
func (a *App) CreateCollectivite(ctx context.Context, p *Principal, req CreateCollectiviteRequest) (store.Collectivite, error) {
	if err := onlyOperators(p); err != nil {
		return store.Collectivite{}, err
	}
	if err := a.Validate(&req); err != nil {
		return store.Collectivite{}, err
	}
	var ds []Detail
	for i, d := range req.Departements {
		if !frenchid.DepartementValid(d) {
			ds = append(ds, NewDetail(fmt.Sprintf("departements[%d]", i), "field.departement",
				"Code de département invalide (ex. 80, 2A, 974).", "Invalid département code (e.g. 80, 2A, 974)."))
		}
	}
	if req.Kind == store.KindDepartement && len(req.Departements) > 1 {
		ds = append(ds, NewDetail("departements", "field.max", "Un département a un seul code.", "A département has a single code."))
	}
	if len(ds) > 0 {
		return store.Collectivite{}, Err(CodeRequestValidationFailed, ds...)
	}
	now := a.Now()
	col := store.Collectivite{
		ID:           store.NewID("col", now),
		Kind:         req.Kind,
		Name:         req.Name,
		INSEE:        req.INSEE,
		SIREN:        req.SIREN,
		Members:      req.Members,
		Departements: req.Departements,
		CreatedAt:    now,
	}
	au := a.Audit(p, "collectivite.create", col.ID, fmt.Sprintf("Création de la collectivité « %s » (%s)", col.Name, col.Kind), col.ID)
	if err := a.store.CreateCollectivite(ctx, col, au); err != nil {
		return store.Collectivite{}, err
	}
	return col, nil
}

// Page is a page of a listing; Next is the cursor of the next page (""
// on the last).
type Page[T any] struct {
	Items []T
	Next  string
}

// pageOf is a page of items read with limit: a full page's cursor is the
// key of its last item, a shorter page is the last.
func pageOf[T any](items []T, limit int, key func(T) string) Page[T] {
	out := Page[T]{Items: items}
	if limit > 0 && len(items) == limit {
		out.Next = key(items[len(items)-1])
	}
	return out
}

// CollectivitesPage is a page of collectivités, by ID.
type CollectivitesPage = Page[store.Collectivite]

// ListCollectivites: operators see all; admins and agents their own (one
// page); viewers none; anyone else is refused.
func (a *App) ListCollectivites(ctx context.Context, p *Principal, page store.Page) (CollectivitesPage, error) {
	switch {
	case p == nil || p.Account == nil:
		return CollectivitesPage{}, Err(CodeAuthForbidden)
	case p.Is(store.RoleOperator):
		items, err := a.store.ListCollectivites(ctx, page)
		if err != nil {
			return CollectivitesPage{}, err
		}
		return pageOf(items, page.Limit, func(c store.Collectivite) string { return c.ID }), nil
	case p.Is(store.RoleAdmin, store.RoleAgent) && page.Cursor == "":
		col, err := a.store.GetCollectivite(ctx, p.Account.CollectiviteID)
		if err != nil {
			return CollectivitesPage{}, err
		}
		return CollectivitesPage{Items: []store.Collectivite{col}}, nil
	}
	return CollectivitesPage{}, nil
}

// GetCollectivite is a collectivité: any for operators, their own for
// admins and agents; not found for anyone else.
func (a *App) GetCollectivite(ctx context.Context, p *Principal, id string) (store.Collectivite, error) {
	if p == nil || !p.Is(store.RoleOperator) && !(p.Is(store.RoleAdmin, store.RoleAgent) && p.Account.CollectiviteID == id) {
		return store.Collectivite{}, Err(CodeResourceNotFound)
	}
	return a.store.GetCollectivite(ctx, id)
}

// CollectiviteOf is the caller's own collectivité (admins, agents);
// refused for anyone without one.
func (a *App) CollectiviteOf(ctx context.Context, p *Principal) (store.Collectivite, error) {
	if p == nil || p.Account == nil || p.Account.CollectiviteID == "" {
		return store.Collectivite{}, Err(CodeAuthForbidden)
	}
	return a.store.GetCollectivite(ctx, p.Account.CollectiviteID)
}

// CreateSchoolRequest registers a school.
type CreateSchoolRequest struct {
	UAI     string            `json:"uai" validate:"required,uai"`
	Name    string            `json:"name" validate:"required,min=2,max=160,text"`
	Commune string            `json:"commune" validate:"required,insee"`
	Level   conventions.Level `json:"level" validate:"required,school_level"`
}

// CreateSchool registers a school (operators only).
func (a *App) CreateSchool(ctx context.Context, p *Principal, req CreateSchoolRequest) (store.School, error) {
	if err := onlyOperators(p); err != nil {
		return store.School{}, err
	}
	if err := a.Validate(&req); err != nil {
		return store.School{}, err
	}
	sc := store.School{
		UAI:       frenchid.NormalizeUAI(req.UAI),
		Name:      req.Name,
		Commune:   req.Commune,
		Level:     req.Level,
		CreatedAt: a.Now(),
	}
	au := a.Audit(p, "school.create", sc.UAI, fmt.Sprintf("Ajout de l'école « %s » (%s)", sc.Name, sc.UAI), "")
	if err := a.store.CreateSchool(ctx, sc, au); err != nil {
		return store.School{}, err
	}
	return sc, nil
}

// SchoolsPage is a page of schools, by UAI.
type SchoolsPage = Page[store.School]

func schoolsPage(items []store.School, limit int) SchoolsPage {
	return pageOf(items, limit, func(s store.School) string { return s.UAI })
}

// ListSchools: operators see all; admins and agents the schools of their
// territory; viewers the schools they are bound to (none: none); anyone
// else is refused.
func (a *App) ListSchools(ctx context.Context, p *Principal, page store.Page) (SchoolsPage, error) {
	switch {
	case p == nil || p.Account == nil:
		return SchoolsPage{}, Err(CodeAuthForbidden)
	case p.Is(store.RoleOperator):
		items, err := a.store.ListSchools(ctx, store.SchoolFilter{Page: page})
		if err != nil {
			return SchoolsPage{}, err
		}
		return schoolsPage(items, page.Limit), nil
	case p.Is(store.RoleViewer):
		if len(p.Account.Schools) == 0 {
			// Deny by default: no UAI filter would list every school.
			return SchoolsPage{}, nil
		}
		items, err := a.store.ListSchools(ctx, store.SchoolFilter{UAIs: p.Account.Schools, Page: page})
		if err != nil {
			return SchoolsPage{}, err
		}
		return schoolsPage(items, page.Limit), nil
	}
	col, err := a.CollectiviteOf(ctx, p)
	if err != nil {
		return SchoolsPage{}, err
	}
	all, err := a.TerritorySchools(ctx, col)
	if err != nil {
		return SchoolsPage{}, err
	}
	// Keyset page over the territory, ordered by UAI.
	slices.SortFunc(all, func(x, y store.School) int { return strings.Compare(x.UAI, y.UAI) })
	start, _ := slices.BinarySearchFunc(all, page.Cursor, func(x store.School, k string) int { return strings.Compare(x.UAI, k) })
	if start < len(all) && all[start].UAI == page.Cursor {
		start++
	}
	end := min(start+page.Limit, len(all))
	return schoolsPage(all[start:end], page.Limit), nil
}

// ecoleLevels are the school levels run by communes and EPCIs.
var ecoleLevels = []conventions.Level{store.LevelMaternelle, store.LevelElementaire, store.LevelPrimaire}

// InTerritory reports whether a school belongs to a collectivité's
// territory: a commune's écoles; an EPCI's member communes' écoles; a
// département's collèges; a région's lycées.
func InTerritory(c store.Collectivite, s store.School) bool {
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

// TerritorySchools lists the schools of a collectivité's territory.
func (a *App) TerritorySchools(ctx context.Context, c store.Collectivite) ([]store.School, error) {
	f := store.SchoolFilter{Page: store.Page{Limit: 100000}}
	switch c.Kind {
	case store.KindCommune:
		f.Communes = []string{c.INSEE}
	case store.KindEPCI:
		f.Communes = c.Members
	}
	all, err := a.store.ListSchools(ctx, f)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, sc := range all {
		if InTerritory(c, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}
