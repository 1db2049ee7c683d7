package api

import (
	"context"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

func TestCollectiviteValidation(t *testing.T) {
	ts := newTestServer(t)
	op := ts.operator
	cases := []struct {
		name   string
		body   map[string]any
		status int
		fields []string
	}{
		{"commune ok", map[string]any{"kind": "commune", "name": "Ajaccio", "insee": "2A004"}, 201, nil},
		{"commune bad insee", map[string]any{"kind": "commune", "name": "X-ville", "insee": "2C004"}, 422, []string{"insee"}},
		{"commune missing insee", map[string]any{"kind": "commune", "name": "X-ville"}, 422, []string{"insee"}},
		{"epci ok", map[string]any{"kind": "epci", "name": "CC du Val de Noye", "siren": "248000127", "members": []string{"80702", "80116"}}, 201, nil},
		{"epci bad siren (Luhn)", map[string]any{"kind": "epci", "name": "CC", "siren": "248000128", "members": []string{"80702"}}, 422, []string{"siren"}},
		{"epci without members", map[string]any{"kind": "epci", "name": "CC", "siren": "200070084"}, 422, []string{"members"}},
		{"epci bad member", map[string]any{"kind": "epci", "name": "CC", "siren": "200070084", "members": []string{"8070"}}, 422, []string{"members[0]"}},
		{"commune with members", map[string]any{"kind": "commune", "name": "Cagny", "insee": "80162", "members": []string{"80702"}}, 422, []string{"members"}},
		{"departement ok", map[string]any{"kind": "departement", "name": "Département de la Somme", "siren": "228000014", "departements": []string{"80"}}, 201, nil},
		{"departement bad code", map[string]any{"kind": "departement", "name": "Dép", "siren": "732829320", "departements": []string{"20"}}, 422, []string{"departements[0]"}},
		{"unknown kind", map[string]any{"kind": "canton", "name": "X-ville"}, 422, []string{"kind"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/collectivites", op, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status != 422 {
				return
			}
			if code := r.ErrorCode(t); code != "request.validation_failed" {
				t.Fatalf("code %q", code)
			}
			for _, f := range c.fields {
				if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
					t.Errorf("error does not name field %q: %s", f, r.Body)
				}
			}
		})
	}
	// Duplicate INSEE → 409.
	r := ts.do("POST", "/v1/collectivites", op, map[string]any{"kind": "commune", "name": "Ajaccio bis", "insee": "2A004"})
	if r.Status != 409 || r.ErrorCode(t) != "resource.already_exists" {
		t.Fatalf("duplicate INSEE: %d %s", r.Status, r.Body)
	}
}

func TestSchoolValidation(t *testing.T) {
	ts := newTestServer(t)
	ok := map[string]any{"uai": "0750655e", "name": "École Jules Ferry", "commune": "75056", "level": "elementaire"}
	var sc store.School
	ts.must(201, ts.do("POST", "/v1/schools", ts.operator, ok)).Decode(t, &sc)
	if sc.UAI != "0750655E" {
		t.Errorf("UAI not normalised: %q", sc.UAI)
	}
	for _, bad := range []map[string]any{
		{"uai": "0750655F", "name": "École", "commune": "75056", "level": "elementaire"},
		{"uai": "075065", "name": "École", "commune": "75056", "level": "elementaire"},
		{"uai": "0801001D", "name": "École", "commune": "75056", "level": "creche"},
		{"uai": "0801001D", "name": "École", "commune": "7505", "level": "college"},
	} {
		r := ts.do("POST", "/v1/schools", ts.operator, bad)
		if r.Status != 422 {
			t.Errorf("%v: status %d, want 422: %s", bad, r.Status, r.Body)
		}
	}
}

func TestRolesCreateAccounts(t *testing.T) {
	f := newFixture(t)
	// An admin cannot create an admin, an operator or a viewer.
	for _, role := range []string{"admin", "operator", "viewer"} {
		body := map[string]any{"role": role, "name": "Quelqu'un"}
		if role == "admin" {
			body["collectivite_id"] = f.communeA
		}
		if role == "viewer" {
			body["schools"] = []string{uaiA1}
		}
		r := f.do("POST", "/v1/accounts", f.adminA1, body)
		if r.Status != 403 || r.ErrorCode(t) != "auth.forbidden" {
			t.Errorf("admin creating %s: %d %s", role, r.Status, r.Body)
		}
	}
	// An admin creates an agent of their own collectivité, not of another.
	var agent accountCreated
	f.must(201, f.do("POST", "/v1/accounts", f.adminA1, map[string]any{"role": "agent", "name": "Agent cantine", "services": []string{"restauration"}})).Decode(t, &agent)
	if agent.CollectiviteID != f.communeA || agent.Token == "" || !strings.HasPrefix(agent.Token, "lia_s_") {
		t.Fatalf("agent created wrongly: %+v", agent)
	}
	r := f.do("POST", "/v1/accounts", f.adminA1, map[string]any{"role": "agent", "name": "Intrus", "services": []string{"culture"}, "collectivite_id": f.communeB})
	if r.Status != 403 {
		t.Errorf("admin A creating an agent of B: %d %s", r.Status, r.Body)
	}
	// An operator cannot create agents (admins do).
	r = f.do("POST", "/v1/accounts", f.operator, map[string]any{"role": "agent", "name": "Agent", "services": []string{"culture"}, "collectivite_id": f.communeA})
	if r.Status != 403 {
		t.Errorf("operator creating an agent: %d %s", r.Status, r.Body)
	}
	// An agent may not manage accounts at all.
	r = f.do("GET", "/v1/accounts", agent.Token, nil)
	if r.Status != 403 {
		t.Errorf("agent listing accounts: %d", r.Status)
	}
	// Unknown service.
	r = f.do("POST", "/v1/accounts", f.adminA1, map[string]any{"role": "agent", "name": "Agent", "services": []string{"police"}})
	if r.Status != 422 || !strings.Contains(string(r.Body), `"field":"services[0]"`) {
		t.Errorf("unknown service: %d %s", r.Status, r.Body)
	}
	// The token is stored hashed: the store never holds it in clear.
	acc, err := f.st.AccountByTokenHash(context.Background(), store.HashToken(agent.Token))
	if err != nil || acc.TokenHash == agent.Token || acc.TokenHash != store.HashToken(agent.Token) {
		t.Errorf("token not stored hashed: %+v %v", acc, err)
	}
	// Listing never shows tokens or hashes.
	r = f.must(200, f.do("GET", "/v1/accounts", f.adminA1, nil))
	if strings.Contains(string(r.Body), agent.Token) || strings.Contains(string(r.Body), acc.TokenHash) || strings.Contains(string(r.Body), "token") {
		t.Errorf("account listing leaks a token: %s", r.Body)
	}
}

func TestTenantScoping(t *testing.T) {
	f := newFixture(t)
	var agentB accountCreated
	f.must(201, f.do("POST", "/v1/accounts", f.adminB, map[string]any{"role": "agent", "name": "Agent B", "services": []string{"restauration"}})).Decode(t, &agentB)

	// Admin A sees only A's accounts.
	var l list[store.Account]
	f.must(200, f.do("GET", "/v1/accounts", f.adminA1, nil)).Decode(t, &l)
	for _, a := range l.Items {
		if a.CollectiviteID != f.communeA {
			t.Errorf("admin A sees account %s of %s", a.ID, a.CollectiviteID)
		}
	}
	// Even when asking for B explicitly.
	f.must(200, f.do("GET", "/v1/accounts?collectivite_id="+f.communeB, f.adminA1, nil)).Decode(t, &l)
	for _, a := range l.Items {
		if a.CollectiviteID != f.communeA {
			t.Errorf("admin A sees account of B with a filter: %+v", a)
		}
	}
	// Admin A cannot remove B's agent: 404, and the agent still works.
	r := f.do("DELETE", "/v1/accounts/"+agentB.ID, f.adminA1, nil)
	if r.Status != 404 {
		t.Errorf("admin A deleting B's agent: %d %s", r.Status, r.Body)
	}
	f.must(200, f.do("GET", "/v1/schools", agentB.Token, nil))
	// Admin A cannot read B's collectivité; sees only its own in the list.
	if r := f.do("GET", "/v1/collectivites/"+f.communeB, f.adminA1, nil); r.Status != 404 {
		t.Errorf("admin A reading B: %d", r.Status)
	}
	var cl list[store.Collectivite]
	f.must(200, f.do("GET", "/v1/collectivites", f.adminA1, nil)).Decode(t, &cl)
	if len(cl.Items) != 1 || cl.Items[0].ID != f.communeA {
		t.Errorf("admin A lists collectivités: %+v", cl.Items)
	}
	// Schools: admin A sees A's two écoles only.
	var sl list[store.School]
	f.must(200, f.do("GET", "/v1/schools", f.adminA1, nil)).Decode(t, &sl)
	if len(sl.Items) != 2 || sl.Items[0].UAI != uaiA1 || sl.Items[1].UAI != uaiA2 {
		t.Errorf("admin A lists schools: %+v", sl.Items)
	}
	// Audit: admin A sees only entries of A.
	var al list[store.AuditEntry]
	f.must(200, f.do("GET", "/v1/audit", f.adminA1, nil)).Decode(t, &al)
	if len(al.Items) == 0 {
		t.Fatal("admin A sees no audit entry")
	}
	for _, e := range al.Items {
		if e.CollectiviteID != f.communeA {
			t.Errorf("admin A sees audit entry of %q: %+v", e.CollectiviteID, e)
		}
	}
	// Operator-only routes refuse admins.
	for _, p := range []string{"/v1/ents"} {
		if r := f.do("GET", p, f.adminA1, nil); r.Status != 403 {
			t.Errorf("admin on %s: %d", p, r.Status)
		}
	}
	if r := f.do("POST", "/v1/schools", f.adminA1, map[string]any{"uai": "0801007K", "name": "École", "commune": "80702", "level": "maternelle"}); r.Status != 403 {
		t.Errorf("admin creating a school: %d", r.Status)
	}
}

func TestKeyHolderRule(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ops, _ := f.st.ListAccounts(ctx, store.AccountFilter{Role: store.RoleOperator, Page: store.Page{Limit: 10}})
	if len(ops) != 2 {
		t.Fatalf("want 2 operators, got %d", len(ops))
	}
	// Removing one of two operators is refused, with the explanation.
	r := f.do("DELETE", "/v1/accounts/"+ops[1].ID, f.operator, nil, "Accept-Language: fr")
	if r.Status != 409 || r.ErrorCode(t) != "accounts.key_holders" {
		t.Fatalf("removing the second-to-last operator: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(string(r.Body), "Il y a 2 opérateur(s) ; il doit en rester au moins 2.") {
		t.Errorf("explanation missing: %s", r.Body)
	}
	// With a third operator, the removal goes through.
	var third accountCreated
	f.must(201, f.do("POST", "/v1/accounts", f.operator, map[string]any{"role": "operator", "name": "Opérateur 3"})).Decode(t, &third)
	f.must(204, f.do("DELETE", "/v1/accounts/"+ops[1].ID, f.operator, nil))
	// Its token no longer works.
	// Admins: commune A has two, so neither can be removed.
	var al list[store.Account]
	f.must(200, f.do("GET", "/v1/accounts?role=admin", f.adminA1, nil)).Decode(t, &al)
	if len(al.Items) != 2 {
		t.Fatalf("want 2 admins of A, got %d", len(al.Items))
	}
	var other string
	for _, a := range al.Items {
		if a.Name == "Admin A2" {
			other = a.ID
		}
	}
	r = f.do("DELETE", "/v1/accounts/"+other, f.operator, nil, "Accept-Language: en")
	if r.Status != 409 || !strings.Contains(string(r.Body), "This collectivité has 2 admin(s); at least 2 must remain.") {
		t.Fatalf("removing one of two admins: %d %s", r.Status, r.Body)
	}
	// Commune B has only one admin: removing it is refused too.
	var bl list[store.Account]
	f.must(200, f.do("GET", "/v1/accounts?role=admin&collectivite_id="+f.communeB, f.operator, nil)).Decode(t, &bl)
	if len(bl.Items) != 1 {
		t.Fatalf("want 1 admin of B, got %+v", bl.Items)
	}
	if r := f.do("DELETE", "/v1/accounts/"+bl.Items[0].ID, f.operator, nil); r.Status != 409 {
		t.Errorf("removing the only admin: %d %s", r.Status, r.Body)
	}
	// A third admin of A makes one removable.
	f.must(201, f.do("POST", "/v1/accounts", f.operator, map[string]any{"role": "admin", "name": "Admin A3", "collectivite_id": f.communeA}))
	f.must(204, f.do("DELETE", "/v1/accounts/"+other, f.adminA1, nil))
	// And nobody removes themselves.
	if r := f.do("DELETE", "/v1/accounts/"+third.ID, third.Token, nil); r.Status != 409 || r.ErrorCode(t) != "accounts.self_removal" {
		t.Errorf("self removal: %d %s", r.Status, r.Body)
	}
	// Removed accounts' tokens are refused.
	if r := f.do("GET", "/v1/accounts", f.adminA2, nil); r.Status != 401 {
		t.Errorf("removed admin's token still works: %d", r.Status)
	}
}

func TestAuthFailures(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct{ token, code string }{
		{"", "auth.missing_token"},
		{"lia_s_nope", "auth.invalid_token"},
		{"garbage", "auth.invalid_token"},
		{"lia_k_someentkey", "auth.invalid_token"},
	}
	for _, c := range cases {
		r := ts.do("GET", "/v1/collectivites", c.token, nil)
		if r.Status != 401 || r.ErrorCode(t) != c.code {
			t.Errorf("token %q: %d %s", c.token, r.Status, r.Body)
		}
	}
	// A staff token is not an ENT key and vice versa.
	if r := ts.do("PUT", "/v1/ent/parents", ts.operator, `{"parents":[]}`); r.Status != 401 {
		t.Errorf("staff token on ENT route: %d", r.Status)
	}
}

// TestViewerScopeDeniesByDefault: a viewer bound to no school (a record
// the API never writes, but a store may hold) sees no notice and no
// school, rather than all of them.
func TestViewerScopeDeniesByDefault(t *testing.T) {
	p := newPublishing(t)
	id := p.publish(t, "restauration", cantineNotice())
	viewer := p.seedAccount(storeAccountViewer())
	var nl list[noticeView]
	p.must(200, p.do("GET", "/v1/notices", viewer, nil)).Decode(t, &nl)
	if len(nl.Items) != 0 {
		t.Errorf("viewer without schools lists %d notices", len(nl.Items))
	}
	p.must(404, p.do("GET", "/v1/notices/"+id, viewer, nil))
	p.must(404, p.do("GET", "/v1/notices/"+id+"/reach", viewer, nil))
	var sl list[store.School]
	p.must(200, p.do("GET", "/v1/schools", viewer, nil)).Decode(t, &sl)
	if len(sl.Items) != 0 {
		t.Errorf("viewer without schools lists %d schools", len(sl.Items))
	}
	// A viewer of A1 still sees A1's notice and A1 only.
	viewerA1 := p.seedAccount(storeAccountViewer(uaiA1))
	p.must(200, p.do("GET", "/v1/notices", viewerA1, nil)).Decode(t, &nl)
	if len(nl.Items) != 1 || nl.Items[0].ID != id {
		t.Errorf("viewer of A1 lists %+v", nl.Items)
	}
	p.must(200, p.do("GET", "/v1/schools", viewerA1, nil)).Decode(t, &sl)
	if len(sl.Items) != 1 || sl.Items[0].UAI != uaiA1 {
		t.Errorf("viewer of A1 lists schools %+v", sl.Items)
	}
}
