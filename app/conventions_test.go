package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// staffConvention is a complete convention for commune A: signed, with a
// rule, valid from September 2026.
func staffConvention() ConventionBody {
	return ConventionBody{
		Schools:   []conventions.School{{UAI: staffUAIA1}, {UAI: "0801002e"}},
		ValidFrom: conventions.D(2026, 9, 1), ValidUntil: conventions.D(2029, 8, 31),
		Signatories: []conventions.Signatory{
			{Role: conventions.RoleMaire, Name: "Jean Dupont", SignedAt: conventions.D(2026, 8, 28)},
			{Role: conventions.RoleIEN, Name: "Anne Leroy", SignedAt: conventions.D(2026, 8, 28)},
			{Role: conventions.RoleOperateur, Name: "Somme Numérique", SignedAt: conventions.D(2026, 8, 28)},
		},
		Limits: conventions.Limits{MaxPerSchoolPerDay: 3},
		Rules: []conventions.Rule{{Article: "3.1", Services: []string{conventions.ServiceRestauration},
			Categories: []string{conventions.CategoryCantine}, MaxPriority: conventions.PriorityNormal, Push: true}},
	}
}

// The lifecycle an operator goes through in the back-office: a draft
// (the collectivité given under its former name), activation, an
// amendment, a suspension; each step audited, the versions kept.
func TestConventionLifecycle(t *testing.T) {
	w := newStaffWorld(t)
	c, err := w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{Collectivite: w.colA, ConventionBody: staffConvention()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Number != 1 || c.Version != 1 || c.Status != conventions.StatusDraft || c.EffectiveStatus != store.ConventionDraft || c.CollectiviteID != w.colA {
		t.Fatalf("draft: %+v", c)
	}
	// Schools are normalised and completed from the registry.
	if c.Schools[1] != (conventions.School{UAI: staffUAIA2, Level: store.LevelElementaire, Commune: "80702"}) {
		t.Fatalf("schools: %+v", c.Schools)
	}
	c, err = w.app.ActivateConvention(w.ctx, w.op1, ConventionRequest{ID: c.ID})
	if err != nil || c.EffectiveStatus != store.ConventionActive {
		t.Fatalf("activate: %v %+v", err, c)
	}
	// An amendment of an active convention passes the activation checklist.
	bad := staffConvention()
	bad.Signatories = nil
	_, err = w.app.AmendConvention(w.ctx, w.op1, AmendConventionRequest{ID: c.ID, ConventionBody: bad, Reason: "Sans signatures"})
	wantCode(t, "unsigned amendment of an active convention", err, CodeConventionsAmendmentRefused)
	next := staffConvention()
	next.Limits.MaxPerSchoolPerDay = 5
	c, err = w.app.AmendConvention(w.ctx, w.op1, AmendConventionRequest{ID: c.ID, ConventionBody: next, Reason: "Quota relevé"})
	if err != nil || c.Version != 2 || c.Status != conventions.StatusActive || c.Limits.MaxPerSchoolPerDay != 5 {
		t.Fatalf("amend: %v %+v", err, c)
	}
	_, err = w.app.AmendConvention(w.ctx, w.op1, AmendConventionRequest{ID: c.ID, CollectiviteID: w.colB, ConventionBody: next, Reason: "Autre commune"})
	wantCode(t, "an amendment changing the collectivité", err, CodeRequestValidationFailed, "conventions.collectivite_fixed")
	_, err = w.app.SuspendConvention(w.ctx, w.op1, SuspendConventionRequest{ID: c.ID, Reason: "x"})
	wantCode(t, "a suspension without a reason", err, CodeRequestValidationFailed, "field.min")
	c, err = w.app.SuspendConvention(w.ctx, w.op1, SuspendConventionRequest{ID: c.ID, Reason: "Fin du marché"})
	if err != nil || c.EffectiveStatus != store.ConventionSuspended {
		t.Fatalf("suspend: %v %+v", err, c)
	}
	got, err := w.app.GetConvention(w.ctx, w.adminA1, ConventionRequest{ID: c.ID})
	if err != nil || len(got.Versions) != 2 || got.Versions[1].Reason != "Quota relevé" || got.Versions[1].CreatedBy != w.op1.Account.ID ||
		got.Versions[1].Document.CollectiviteID != w.colA {
		t.Fatalf("get: %v %+v", err, got.Versions)
	}
	pg, err := w.app.ListAudit(w.ctx, w.adminA1, ListAuditRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range pg.Items {
		if strings.HasPrefix(e.Action, "convention.") {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, " ") != "convention.suspend convention.amend convention.activate convention.create" {
		t.Fatalf("audit: %v", actions)
	}
}

func TestConventionRefusals(t *testing.T) {
	w := newStaffWorld(t)
	body := staffConvention()
	body.Schools = append(body.Schools, conventions.School{UAI: "0801004G"})
	_, err := w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: w.colA, ConventionBody: body})
	e := wantCode(t, "an unknown school", err, CodeRequestValidationFailed, "field.unknown_school")
	if e.Details[0].Field != "schools[2]" {
		t.Fatalf("unknown school at %q", e.Details[0].Field)
	}
	_, err = w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: w.colA, Collectivite: w.colB, ConventionBody: staffConvention()})
	wantCode(t, "both names differ", err, CodeRequestValidationFailed, "field.former_name_differs")
	_, err = w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: "col_nope", ConventionBody: staffConvention()})
	wantCode(t, "an unknown collectivité", err, CodeRequestValidationFailed, "field.unknown_collectivite")
	backwards := staffConvention()
	backwards.ValidUntil = conventions.D(2025, 1, 1)
	_, err = w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: w.colA, ConventionBody: backwards})
	wantCode(t, "a validity ending before it starts", err, CodeConventionsInvalid)
	// Commune B's school is outside commune A's territory: no activation.
	outside := staffConvention()
	outside.Schools = []conventions.School{{UAI: staffUAIB1}}
	c, err := w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: w.colA, ConventionBody: outside})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.app.ActivateConvention(w.ctx, w.op1, ConventionRequest{ID: c.ID})
	wantCode(t, "a school outside the territory", err, CodeConventionsActivationRefused)
	if rec, _ := w.st.GetConvention(w.ctx, c.ID); rec.Status != store.ConventionDraft {
		t.Fatalf("a refused activation changed the status: %s", rec.Status)
	}
	n, _ := w.st.ListConventions(w.ctx, store.ConventionFilter{})
	if len(n) != 1 {
		t.Fatalf("refused creations were stored: %d conventions", len(n))
	}
}

// Only operators write conventions; the others read what is theirs, and
// another collectivité's convention does not exist for them.
func TestConventionAuthorization(t *testing.T) {
	w := newStaffWorld(t)
	c, err := w.app.CreateConvention(w.ctx, w.op1, CreateConventionRequest{CollectiviteID: w.colA, ConventionBody: staffConvention()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Principal{w.adminA1, w.agentA, w.viewerA, w.ent, w.parent} {
		_, err := w.app.CreateConvention(w.ctx, p, CreateConventionRequest{CollectiviteID: w.colA, ConventionBody: staffConvention()})
		wantCode(t, "create by "+p.ID(), err, CodeAuthForbidden)
		_, err = w.app.ActivateConvention(w.ctx, p, ConventionRequest{ID: c.ID})
		wantCode(t, "activate by "+p.ID(), err, CodeAuthForbidden)
		_, err = w.app.AmendConvention(w.ctx, p, AmendConventionRequest{ID: c.ID, ConventionBody: staffConvention(), Reason: "Essai"})
		wantCode(t, "amend by "+p.ID(), err, CodeAuthForbidden)
		_, err = w.app.SuspendConvention(w.ctx, p, SuspendConventionRequest{ID: c.ID, Reason: "Essai"})
		wantCode(t, "suspend by "+p.ID(), err, CodeAuthForbidden)
	}
	if rec, _ := w.st.GetConvention(w.ctx, c.ID); rec.Status != store.ConventionDraft || rec.Version != 1 {
		t.Fatalf("a refused change was written: %+v", rec)
	}
	// Readers: admin A and the viewer of a school of A; not admin B, nor
	// a viewer of B's school, even asking for A by name.
	viewerB := w.seed(store.Account{Role: store.RoleViewer, Name: "Directeur B1", Schools: []string{staffUAIB1}})
	for _, p := range []*Principal{w.op2, w.adminA2, w.viewerA} {
		if _, err := w.app.GetConvention(w.ctx, p, ConventionRequest{ID: c.ID}); err != nil {
			t.Fatalf("get by %s: %v", p.Account.Name, err)
		}
		l, err := w.app.ListConventions(w.ctx, p, ListConventionsRequest{Page: store.Page{Limit: 10}})
		if err != nil || len(l.Items) != 1 || l.Items[0].ID != c.ID {
			t.Fatalf("list by %s: %v %+v", p.Account.Name, err, l.Items)
		}
	}
	for _, p := range []*Principal{w.adminB, viewerB} {
		_, err := w.app.GetConvention(w.ctx, p, ConventionRequest{ID: c.ID})
		wantCode(t, "get by "+p.Account.Name, err, CodeResourceNotFound)
		l, err := w.app.ListConventions(w.ctx, p, ListConventionsRequest{CollectiviteID: w.colA, Page: store.Page{Limit: 10}})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("list by %s: %v %+v", p.Account.Name, err, l.Items)
		}
	}
	for _, p := range []*Principal{w.agentA, w.ent, w.parent} {
		_, err := w.app.ListConventions(w.ctx, p, ListConventionsRequest{})
		wantCode(t, "list by "+p.ID(), err, CodeAuthForbidden)
		_, err = w.app.GetConvention(w.ctx, p, ConventionRequest{ID: c.ID})
		wantCode(t, "get by "+p.ID(), err, CodeAuthForbidden)
	}
	_, err = w.app.GetConvention(w.ctx, w.op1, ConventionRequest{ID: "cnv_nope"})
	if ae, _ := AsError(err); !errors.Is(err, store.ErrNotFound) || ae.Code != CodeResourceNotFound {
		t.Fatalf("unknown convention: %v", err)
	}
}

func TestListAuditIsScoped(t *testing.T) {
	w := newStaffWorld(t)
	if _, err := w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleAdmin, Name: "Admin B2", CollectiviteID: w.colB}); err != nil {
		t.Fatal(err)
	}
	pg, err := w.app.ListAudit(w.ctx, w.adminA1, ListAuditRequest{CollectiviteID: w.colB, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Items) == 0 {
		t.Fatal("admin A sees no entry of their collectivité")
	}
	for _, e := range pg.Items {
		if e.CollectiviteID != w.colA {
			t.Fatalf("admin A sees another collectivité's entry: %+v", e)
		}
	}
	// Operators see all, a page at a time, newest first.
	first, err := w.app.ListAudit(w.ctx, w.op1, ListAuditRequest{Limit: 2})
	if err != nil || len(first.Items) != 2 || first.NextCursor == "" || first.Items[0].Action != "account.create" || first.Items[0].CollectiviteID != w.colB {
		t.Fatalf("first page: %v %+v", err, first)
	}
	second, err := w.app.ListAudit(w.ctx, w.op1, ListAuditRequest{Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(second.Items) == 0 || second.Items[0].Seq >= first.Items[1].Seq {
		t.Fatalf("second page: %v %+v", err, second)
	}
	_, err = w.app.ListAudit(w.ctx, w.op1, ListAuditRequest{Cursor: "abc"})
	wantCode(t, "a bad cursor", err, CodeRequestInvalidQuery, "query.cursor")
	for _, p := range []*Principal{w.agentA, w.viewerA, w.ent, w.parent} {
		_, err := w.app.ListAudit(w.ctx, p, ListAuditRequest{Limit: 10})
		wantCode(t, "audit by "+p.ID(), err, CodeAuthForbidden)
	}
}
