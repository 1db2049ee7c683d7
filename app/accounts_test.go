package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// staffNow is the fixed clock of these tests: Monday 23 November 2026,
// 09:00 in Paris.
var staffNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

const (
	staffUAIA1 = "0801001D" // maternelle, commune A (80702)
	staffUAIA2 = "0801002E" // élémentaire, commune A
	staffUAIB1 = "0801003F" // maternelle, commune B (80116)
)

// staffWorld is an App on a real SQLite store in a temp dir: two communes
// (A and B) and their schools, two operators, two admins of A, one of B,
// an agent of A and a viewer of a school of A.
type staffWorld struct {
	t                *testing.T
	app              *App
	st               store.Store
	colA, colB       string
	op1, op2         *Principal
	adminA1, adminA2 *Principal
	adminB           *Principal
	agentA, viewerA  *Principal
	ent              *Principal
	parent           *Principal
	ctx              context.Context
	seq              int
}

func newStaffWorld(t *testing.T) *staffWorld {
	t.Helper()
	st := sqlitetest.Open(t)
	w := &staffWorld{t: t, st: st, ctx: context.Background()}
	w.app = New(Deps{Store: st, Clock: func() time.Time { return staffNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	seed := store.AuditEntry{At: staffNow, Actor: "test", Action: "seed"}
	for _, c := range []store.Collectivite{
		{ID: "col_a", Kind: store.KindCommune, Name: "Saint-Fuscien", INSEE: "80702", CreatedAt: staffNow},
		{ID: "col_b", Kind: store.KindCommune, Name: "Boves", INSEE: "80116", CreatedAt: staffNow},
	} {
		if err := st.CreateCollectivite(w.ctx, c, seed); err != nil {
			t.Fatal(err)
		}
	}
	w.colA, w.colB = "col_a", "col_b"
	for _, s := range []store.School{
		{UAI: staffUAIA1, Name: "École maternelle Les Coquelicots", Commune: "80702", Level: store.LevelMaternelle, CreatedAt: staffNow},
		{UAI: staffUAIA2, Name: "École élémentaire Jules Ferry", Commune: "80702", Level: store.LevelElementaire, CreatedAt: staffNow},
		{UAI: staffUAIB1, Name: "École maternelle Le Petit Prince", Commune: "80116", Level: store.LevelMaternelle, CreatedAt: staffNow},
	} {
		if err := st.CreateSchool(w.ctx, s, seed); err != nil {
			t.Fatal(err)
		}
	}
	w.op1 = w.seed(store.Account{Role: store.RoleOperator, Name: "Opératrice 1"})
	w.op2 = w.seed(store.Account{Role: store.RoleOperator, Name: "Opérateur 2"})
	w.adminA1 = w.seed(store.Account{Role: store.RoleAdmin, Name: "Admin A1", CollectiviteID: w.colA})
	w.adminA2 = w.seed(store.Account{Role: store.RoleAdmin, Name: "Admin A2", CollectiviteID: w.colA})
	w.adminB = w.seed(store.Account{Role: store.RoleAdmin, Name: "Admin B", CollectiviteID: w.colB})
	w.agentA = w.seed(store.Account{Role: store.RoleAgent, Name: "Agent A", CollectiviteID: w.colA, Services: []string{"restauration"}})
	w.viewerA = w.seed(store.Account{Role: store.RoleViewer, Name: "Directrice A1", Schools: []string{staffUAIA1}})
	w.ent = &Principal{ENT: &store.ENT{ID: "ent_1", Name: "ENT"}}
	w.parent = &Principal{Parent: &ParentIdentity{ENT: &store.ENT{ID: "ent_1"}, UserID: "u1"}}
	return w
}

// seed writes an account straight into the store.
func (w *staffWorld) seed(acc store.Account) *Principal {
	w.t.Helper()
	w.seq++
	acc.ID = store.NewID("acc", staffNow.Add(time.Duration(w.seq)*time.Millisecond))
	acc.TokenHash = store.HashToken(NewStaffToken())
	acc.CreatedAt = staffNow
	if err := w.st.CreateAccount(w.ctx, acc, store.AuditEntry{At: staffNow, Actor: "test", Action: "account.create", Target: acc.ID, CollectiviteID: acc.CollectiviteID}); err != nil {
		w.t.Fatal(err)
	}
	return &Principal{Account: &acc}
}

// wantCode fails unless err is the catalog error code (with a detail of
// detailCode when given).
func wantCode(t *testing.T, what string, err error, code Code, detailCode ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		if err != nil {
			if ae, _ := AsError(err); ae.Code == code {
				return ae
			}
		}
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if e.Code != code {
		t.Fatalf("%s: got %s %+v, want %s", what, e.Code, e.Details, code)
	}
	for _, dc := range detailCode {
		found := false
		for _, d := range e.Details {
			found = found || d.Code == dc
		}
		if !found {
			t.Fatalf("%s: no detail %s in %+v", what, dc, e.Details)
		}
	}
	return e
}

func TestCreateAccountWhoCreatesWhom(t *testing.T) {
	w := newStaffWorld(t)
	// An operator creates an admin; the token is a staff token, given once,
	// and only its hash is kept.
	res, err := w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleAdmin, Name: "Admin A3", CollectiviteID: w.colA})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Token, StaffTokenPrefix) || res.Account.CreatedBy != w.op1.Account.ID || !res.Account.CreatedAt.Equal(staffNow) {
		t.Fatalf("created: %+v", res)
	}
	if got, err := w.st.AccountByTokenHash(w.ctx, store.HashToken(res.Token)); err != nil || got.ID != res.Account.ID {
		t.Fatalf("the token does not open the new account: %v %+v", err, got)
	}
	// An admin creates an agent of their own collectivité (by default).
	res, err = w.app.CreateAccount(w.ctx, w.adminA1, CreateAccountRequest{Role: store.RoleAgent, Name: "Agent cantine", Services: []string{"restauration"}})
	if err != nil || res.Account.CollectiviteID != w.colA {
		t.Fatalf("admin creating an agent: %v %+v", err, res.Account)
	}

	refused := []struct {
		name string
		p    *Principal
		req  CreateAccountRequest
	}{
		{"an admin, an agent of another collectivité", w.adminA1, CreateAccountRequest{Role: store.RoleAgent, Name: "Agent B", CollectiviteID: w.colB, Services: []string{"culture"}}},
		{"an admin, an admin", w.adminA1, CreateAccountRequest{Role: store.RoleAdmin, Name: "Admin A4", CollectiviteID: w.colA}},
		{"an admin, an operator", w.adminA1, CreateAccountRequest{Role: store.RoleOperator, Name: "Op 3"}},
		{"an operator, an agent", w.op1, CreateAccountRequest{Role: store.RoleAgent, Name: "Agent", CollectiviteID: w.colA, Services: []string{"culture"}}},
		{"an agent", w.agentA, CreateAccountRequest{Role: store.RoleAgent, Name: "Agent bis", Services: []string{"culture"}}},
		{"a viewer", w.viewerA, CreateAccountRequest{Role: store.RoleViewer, Name: "Viewer bis", Schools: []string{staffUAIA1}}},
		{"an ENT", w.ent, CreateAccountRequest{Role: store.RoleOperator, Name: "Op 3"}},
		{"a parent", w.parent, CreateAccountRequest{Role: store.RoleOperator, Name: "Op 3"}},
	}
	for _, tc := range refused {
		before, _ := w.st.CountAccounts(w.ctx, "", "")
		_, err := w.app.CreateAccount(w.ctx, tc.p, tc.req)
		wantCode(t, tc.name, err, CodeAuthForbidden)
		if after, _ := w.st.CountAccounts(w.ctx, "", ""); after != before {
			t.Fatalf("%s: an account was created although refused", tc.name)
		}
	}
}

func TestCreateAccountValidates(t *testing.T) {
	w := newStaffWorld(t)
	_, err := w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleViewer, Name: "X"})
	e := wantCode(t, "short name, no schools", err, CodeRequestValidationFailed, "field.min", "field.required_if")
	if e.Details[0].Text("en") == e.Details[0].Text("fr") {
		t.Fatalf("details are not bilingual: %+v", e.Details)
	}
	_, err = w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleViewer, Name: "Directeur", Schools: []string{"0801001d", "0801004G"}})
	e = wantCode(t, "unknown school", err, CodeRequestValidationFailed)
	if len(e.Details) != 1 || e.Details[0].Field != "schools[1]" || e.Details[0].Code != "field.unknown_school" {
		t.Fatalf("unknown school: %+v", e.Details)
	}
	_, err = w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleAdmin, Name: "Admin", CollectiviteID: "col_nope"})
	wantCode(t, "unknown collectivité", err, CodeRequestValidationFailed, "field.unknown_collectivite")
	// A viewer's UAIs are kept normalised.
	res, err := w.app.CreateAccount(w.ctx, w.op1, CreateAccountRequest{Role: store.RoleViewer, Name: "Directeur", Schools: []string{"0801001d"}})
	if err != nil || len(res.Account.Schools) != 1 || res.Account.Schools[0] != staffUAIA1 {
		t.Fatalf("viewer: %v %+v", err, res.Account)
	}
}

func TestListAccountsIsScoped(t *testing.T) {
	w := newStaffWorld(t)
	// An admin asking for another collectivité's accounts gets their own.
	accs, err := w.app.ListAccounts(w.ctx, w.adminA1, ListAccountsRequest{CollectiviteID: w.colB})
	if err != nil {
		t.Fatal(err)
	}
	if len(accs) != 3 { // admins A1, A2 and agent A
		t.Fatalf("admin A sees %d accounts: %+v", len(accs), accs)
	}
	for _, a := range accs {
		if a.CollectiviteID != w.colA {
			t.Fatalf("admin A sees an account of another collectivité: %+v", a)
		}
	}
	all, err := w.app.ListAccounts(w.ctx, w.op1, ListAccountsRequest{Role: store.RoleAdmin})
	if err != nil || len(all) != 3 {
		t.Fatalf("operator, admins: %v %d", err, len(all))
	}
	for _, p := range []*Principal{w.agentA, w.viewerA, w.ent, w.parent} {
		_, err := w.app.ListAccounts(w.ctx, p, ListAccountsRequest{})
		wantCode(t, "list by "+p.ID(), err, CodeAuthForbidden)
	}
}

func TestRemoveAccountRules(t *testing.T) {
	w := newStaffWorld(t)
	remove := func(p *Principal, id string) error {
		return w.app.RemoveAccount(w.ctx, p, RemoveAccountRequest{ID: id})
	}
	for _, p := range []*Principal{w.agentA, w.viewerA, w.ent, w.parent} {
		wantCode(t, "removal by "+p.ID(), remove(p, w.agentA.Account.ID), CodeAuthForbidden)
	}
	// Another collectivité's accounts, and operators, do not exist for an admin.
	wantCode(t, "admin A removes admin B", remove(w.adminA1, w.adminB.Account.ID), CodeResourceNotFound)
	wantCode(t, "admin A removes an operator", remove(w.adminA1, w.op1.Account.ID), CodeResourceNotFound)
	wantCode(t, "admin A removes a viewer", remove(w.adminA1, w.viewerA.Account.ID), CodeResourceNotFound)
	wantCode(t, "unknown account", remove(w.op1, "acc_nope"), CodeResourceNotFound)
	wantCode(t, "self-removal", remove(w.op1, w.op1.Account.ID), CodeAccountsSelfRemoval)
	// Two key holders always remain, with the count said.
	e := wantCode(t, "an operator removes one of two operators", remove(w.op1, w.op2.Account.ID), CodeAccountsKeyHolders, "accounts.key_holders")
	if !strings.Contains(e.Details[0].Text("fr"), "Il y a 2 opérateur(s)") {
		t.Fatalf("key holders detail: %q", e.Details[0].Text("fr"))
	}
	e = wantCode(t, "an admin removes one of two admins", remove(w.adminA1, w.adminA2.Account.ID), CodeAccountsKeyHolders)
	if !strings.Contains(e.Details[0].Text("en"), "This collectivité has 2 admin(s)") {
		t.Fatalf("key holders detail: %q", e.Details[0].Text("en"))
	}
	for _, p := range []*Principal{w.op2, w.adminA2} {
		if _, err := w.st.GetAccount(w.ctx, p.Account.ID); err != nil {
			t.Fatalf("a refused removal removed %s: %v", p.Account.Name, err)
		}
	}
	// An admin removes an agent of their collectivité, and it is audited.
	if err := remove(w.adminA1, w.agentA.Account.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.GetAccount(w.ctx, w.agentA.Account.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the agent is still there: %v", err)
	}
	pg, err := w.app.ListAudit(w.ctx, w.adminA1, ListAuditRequest{Limit: 1})
	if err != nil || len(pg.Items) != 1 || pg.Items[0].Action != "account.delete" || pg.Items[0].Actor != w.adminA1.Account.ID {
		t.Fatalf("audit of the removal: %v %+v", err, pg.Items)
	}
}
