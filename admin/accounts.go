package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// maxListed bounds the accounts a page lists.
const maxListed = 5000

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
	accs, err := r.a.core.ListAccounts(r.c.UserContext(), r.principal(), app.ListAccountsRequest{Page: store.Page{Limit: maxListed}})
	if err != nil {
		return d, err
	}
	cols, err := r.collectivites(5000)
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
		return a.failurePage(r, err)
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
	req := app.CreateAccountRequest{Role: f.Role, Name: f.Name}
	if f.CollectiviteID != "" && f.Role == store.RoleAdmin {
		req.CollectiviteID = f.CollectiviteID
	}
	if f.Role == store.RoleAgent {
		req.Services, req.Machine = nonNil(f.Services), f.Machine
	}
	if f.Role == store.RoleViewer {
		req.Schools = nonNil(strings.Fields(strings.ReplaceAll(f.Schools, ",", " ")))
	}
	created, err := a.core.CreateAccount(r.c.UserContext(), r.principal(), req)
	d, lerr := a.loadAccounts(r)
	if lerr != nil {
		return a.failurePage(r, lerr)
	}
	if err != nil {
		status, ok := r.refusal(err)
		if !ok {
			return a.failurePage(r, err)
		}
		d.Form = f
		return a.render(r, status, "accounts", a.accountsTitle(r), mapErrors(r.uiErr(err), accountFields, map[string]string{"collectivite": "collectivite_id"}), d)
	}
	// The token is shown once, on this page (never in a URL).
	d.Created = &createdAccount{Name: created.Account.Name, Role: created.Account.Role, Token: created.Token}
	return a.render(r, fiber.StatusCreated, "accounts", a.accountsTitle(r), formErrors{}, d)
}

func (a *Admin) accountRevoke(r *rq) error {
	id := r.c.Params("id")
	err := a.core.RemoveAccount(r.c.UserContext(), r.principal(), app.RemoveAccountRequest{ID: id})
	if err == nil {
		dest := "/admin/agents?ok=revoked"
		if r.acc.Role == store.RoleOperator {
			dest = "/admin/comptes?ok=revoked"
		}
		return r.c.Redirect(dest, fiber.StatusSeeOther)
	}
	ae, ok := r.uiError(err)
	if !ok || ae.Status >= 500 {
		return a.failurePage(r, err)
	}
	d, lerr := a.loadAccounts(r)
	if lerr != nil {
		return a.failurePage(r, lerr)
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
	ctx, p := r.c.UserContext(), r.principal()
	page, err := a.core.ListAudit(ctx, p, app.ListAuditRequest{Limit: 50, Cursor: r.c.Query("cursor")})
	if err != nil {
		return a.failurePage(r, err)
	}
	d := auditData{Items: page.Items, NextCursor: page.NextCursor, Names: map[string]string{}}
	if accs, err := a.core.ListAccounts(ctx, p, app.ListAccountsRequest{Page: store.Page{Limit: maxListed}}); err == nil {
		for _, x := range accs {
			d.Names[x.ID] = x.Name
		}
	}
	return a.render(r, fiber.StatusOK, "audit", r.L("Journal d'audit", "Audit log"), formErrors{}, d)
}
