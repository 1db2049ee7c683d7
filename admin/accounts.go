package admin

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

type accountsData struct {
	Operator     bool
	Admins       []store.Account
	Agents       []store.Account
	Others       []store.Account // operators and viewers (operator view)
	Collectivite map[string]string
	Cols         []store.Collectivite
	Services     []string
	Created      *createdAccount
	Form         accountForm
	RevokeError  map[string]string // account id → reason
}

type createdAccount struct {
	Name, Role, Token string
}

type accountForm struct {
	Role, Name, CollectiviteID, Schools string
	Services                            []string
	Machine                             bool
}

func (a *Admin) loadAccounts(r *rq) (accountsData, error) {
	d := accountsData{Operator: r.acc.Role == store.RoleOperator, Services: conventions.Services, Collectivite: map[string]string{},
		RevokeError: map[string]string{}, Form: accountForm{Role: store.RoleAgent}}
	if d.Operator {
		d.Form.Role = store.RoleAdmin
	}
	accs, err := listAll[store.Account](r, "/v1/accounts", 5000)
	if err != nil {
		return d, err
	}
	cols, err := listAll[store.Collectivite](r, "/v1/collectivites", 5000)
	if err != nil {
		return d, err
	}
	d.Cols = cols
	for _, c := range cols {
		d.Collectivite[c.ID] = c.Name
	}
	for _, acc := range accs {
		switch acc.Role {
		case store.RoleAdmin:
			d.Admins = append(d.Admins, acc)
		case store.RoleAgent:
			d.Agents = append(d.Agents, acc)
		default:
			d.Others = append(d.Others, acc)
		}
	}
	return d, nil
}

func (a *Admin) accountsTitle(r *rq) string {
	if r.acc.Role == store.RoleOperator {
		return r.L("Comptes", "Accounts")
	}
	return r.L("Agents et administrateurs", "Agents and admins")
}

func (a *Admin) accountsPage(r *rq) error {
	d, err := a.loadAccounts(r)
	if err != nil {
		return a.apiFailure(r, err)
	}
	return a.render(r, fiber.StatusOK, "accounts", a.accountsTitle(r), formErrors{}, d)
}

var accountFields = map[string]bool{"role": true, "name": true, "collectivite_id": true, "services": true, "schools": true, "machine": true}

func (a *Admin) accountCreate(r *rq) error {
	c := r.c
	f := accountForm{Role: c.FormValue("role"), Name: strings.TrimSpace(c.FormValue("name")), CollectiviteID: c.FormValue("collectivite_id"),
		Schools: c.FormValue("schools"), Machine: c.FormValue("machine") == "on"}
	for _, v := range c.Request().PostArgs().PeekMulti("services") {
		f.Services = append(f.Services, string(v))
	}
	if r.acc.Role == store.RoleAdmin {
		f.Role, f.CollectiviteID = store.RoleAgent, ""
	}
	req := map[string]any{"role": f.Role, "name": f.Name}
	if f.CollectiviteID != "" && f.Role == store.RoleAdmin {
		req["collectivite_id"] = f.CollectiviteID
	}
	if f.Role == store.RoleAgent {
		req["services"] = nonNil(f.Services)
		if f.Machine {
			req["machine"] = true
		}
	}
	if f.Role == store.RoleViewer {
		req["schools"] = nonNil(strings.Fields(strings.ReplaceAll(f.Schools, ",", " ")))
	}
	var created struct {
		store.Account
		Token string `json:"token"`
	}
	err := r.api("POST", "/v1/accounts", req, &created)
	d, lerr := a.loadAccounts(r)
	if lerr != nil {
		return a.apiFailure(r, lerr)
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status >= 500 {
			return a.apiFailure(r, err)
		}
		d.Form = f
		return a.render(r, ae.Status, "accounts", a.accountsTitle(r), mapErrors(err, accountFields, map[string]string{"collectivite": "collectivite_id"}), d)
	}
	// The token is shown once, on this page (never in a URL).
	d.Created = &createdAccount{Name: created.Name, Role: created.Role, Token: created.Token}
	return a.render(r, fiber.StatusCreated, "accounts", a.accountsTitle(r), formErrors{}, d)
}

func (a *Admin) accountRevoke(r *rq) error {
	id := r.c.Params("id")
	err := r.api("DELETE", "/v1/accounts/"+id, nil, nil)
	if err == nil {
		dest := "/admin/agents?ok=revoked"
		if r.acc.Role == store.RoleOperator {
			dest = "/admin/comptes?ok=revoked"
		}
		return r.c.Redirect(dest, fiber.StatusSeeOther)
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return a.apiFailure(r, err)
	}
	d, lerr := a.loadAccounts(r)
	if lerr != nil {
		return a.apiFailure(r, lerr)
	}
	// The refusal goes next to the account's revoke button; the two-admin
	// rule is explained in plain words.
	msgs := []string{ae.Message}
	for _, dt := range ae.Details {
		msgs = append(msgs, dt.Message)
	}
	if ae.Code == app.CodeAccountsKeyHolders.String() {
		msgs = append(msgs, r.L("Règle des deux administrateurs : une collectivité garde toujours au moins deux administrateurs, pour que l'accès ne dépende jamais d'une seule personne. Faites d'abord nommer un autre administrateur par l'opérateur.",
			"Two-admin rule: a local authority always keeps at least two admins, so that access never depends on a single person. Have the operator appoint another admin first."))
	}
	d.RevokeError[id] = strings.Join(msgs, " ")
	fe := formErrors{Message: ae.Message, Code: ae.Code, Summary: []summaryItem{{Field: "revoke-" + id, Message: d.RevokeError[id]}}}
	return a.render(r, ae.Status, "accounts", a.accountsTitle(r), fe, d)
}

type auditData struct {
	Items      []store.AuditEntry
	NextCursor string
	Names      map[string]string
}

func (a *Admin) auditPage(r *rq) error {
	var page struct {
		Items      []store.AuditEntry `json:"items"`
		NextCursor string             `json:"next_cursor"`
	}
	if err := r.api("GET", q("/v1/audit", "limit", "50", "cursor", r.c.Query("cursor")), nil, &page); err != nil {
		return a.apiFailure(r, err)
	}
	d := auditData{Items: page.Items, NextCursor: page.NextCursor, Names: map[string]string{}}
	if accs, err := listAll[store.Account](r, "/v1/accounts", 5000); err == nil {
		for _, x := range accs {
			d.Names[x.ID] = x.Name
		}
	}
	return a.render(r, fiber.StatusOK, "audit", r.L("Journal d'audit", "Audit log"), formErrors{}, d)
}
