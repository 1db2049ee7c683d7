package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// An ENT's connectors page (operators): one form per kind (CAS, OpenID
// Connect), the values to type into the ENT's console, the OIDC secret
// (write-only) and a "test the connection" button. The use cases
// (app/connectors.go) decide, validate and audit; the page fills typed
// requests from the form and lays their refusals out on it.

// The form fields of each kind, by their name in the request (the form
// names them "cas.base_url", "oidc.issuer"…: both forms are on one page).
var (
	casFields = []string{"base_url", "path_prefix", "version", "mapping.preset", "mapping.user_id_attribute",
		"mapping.profile_attribute", "mapping.parent_values", "mapping.uai_attribute", "mapping.class_attribute",
		"mapping.child_id_attribute", "mapping.child_school_attribute", "mapping.child_class_attribute"}
	oidcFields = []string{"issuer", "client_id", "client_secret", "scopes", "userinfo_version", "mapping", "mapping.preset",
		"mapping.user_id_claim", "mapping.subject_is_user_id", "mapping.profile_claim", "mapping.uais_claim",
		"mapping.classes_claim", "mapping.parent_values", "fetch_children", "children_url"}
	secretFields = []string{"client_secret"}
)

// connectorsData is the page's data.
type connectorsData struct {
	Page app.ENTConnectors
	// CAS and OIDC are the forms' values ("cas.base_url"…), from the
	// registered connector or what was just submitted.
	Form map[string]string
	// Done is a confirmation; Test the outcome of a connection test of
	// TestKind.
	Done     string
	Test     *app.ConnectionTest
	TestKind string
	// ErrKind is the form the errors belong to ("cas", "oidc",
	// "secret").
	ErrKind string
}

func (a *Admin) connectorsPage(r *rq) error {
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{}, formErrors{})
}

// renderConnectors renders the page; d.Form fills in what the registered
// connectors do not say.
func (a *Admin) renderConnectors(r *rq, status int, d connectorsData, fe formErrors) error {
	page, err := a.core.ListENTConnectors(r.c.UserContext(), r.principal(), r.c.Params("id"))
	if err != nil {
		return a.failurePage(r, err)
	}
	d.Page = page
	form := connectorForm(page)
	for k, v := range d.Form {
		form[k] = v
	}
	d.Form = form
	return a.render(r, status, "connectors", r.L("Connecteurs de l'ENT", "ENT connectors")+" « "+page.ENT.Name+" »", fe, d)
}

// connectorForm is the forms' values from the registered connectors, or
// the defaults of an entcore ENT.
func connectorForm(p app.ENTConnectors) map[string]string {
	f := map[string]string{"cas.version": "2.0", "cas.mapping.preset": "entcore-generic",
		"oidc.mapping.preset": "entcore-v2", "oidc.userinfo_version": "v2.0", "oidc.scopes": "openid userinfo"}
	if c := p.CAS.CAS; c != nil {
		m := c.Mapping
		for k, v := range map[string]string{"base_url": c.BaseURL, "path_prefix": c.PathPrefix, "version": c.Version,
			"mapping.preset": m.Preset, "mapping.user_id_attribute": m.UserID, "mapping.profile_attribute": m.Profile,
			"mapping.parent_values": strings.Join(m.ParentValues, " "), "mapping.uai_attribute": m.UAI,
			"mapping.class_attribute": m.Class, "mapping.child_id_attribute": m.ChildID,
			"mapping.child_school_attribute": m.ChildSchool, "mapping.child_class_attribute": m.ChildClass} {
			f["cas."+k] = v
		}
	}
	if c := p.OIDC.OIDC; c != nil {
		m := c.Mapping
		for k, v := range map[string]string{"issuer": c.Issuer, "client_id": c.ClientID, "scopes": strings.Join(c.Scopes, " "),
			"userinfo_version": c.UserinfoVersion, "mapping.preset": m.Preset, "mapping.user_id_claim": m.UserID,
			"mapping.subject_is_user_id": checked(m.SubjectIsUserID), "mapping.profile_claim": m.Profile,
			"mapping.uais_claim": m.UAIs, "mapping.classes_claim": m.Classes, "mapping.parent_values": strings.Join(m.ParentValues, " "),
			"fetch_children": checked(c.FetchChildren), "children_url": c.ChildrenURL} {
			f["oidc."+k] = v
		}
	}
	return f
}

func checked(b bool) string {
	if b {
		return "on"
	}
	return ""
}

// formOf reads the submitted fields of a kind ("cas.base_url"…).
func (r *rq) formOf(prefix string, fields []string) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		out[prefix+"."+f] = strings.TrimSpace(r.c.FormValue(prefix + "." + f))
	}
	return out
}

// words splits a space- or comma-separated list; nil when empty.
func words(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\r' || r == '\t' })
	if len(out) == 0 {
		return nil
	}
	return out
}

// connectorFailed lays a refusal out on the form of kind (its fields
// prefixed), or renders an error page.
func (a *Admin) connectorFailed(r *rq, err error, kind string, fields []string, form map[string]string) error {
	status, ok := r.refusal(err)
	if !ok {
		return a.failurePage(r, err)
	}
	known, aliases := map[string]bool{}, map[string]string{}
	for _, f := range fields {
		known[kind+"."+f] = true
		aliases[f] = kind + "." + f
	}
	if form != nil {
		delete(form, kind+".client_secret") // never written back into the page
	}
	return a.renderConnectors(r, status, connectorsData{Form: form, ErrKind: kind}, mapErrors(r.uiErr(err), known, aliases))
}

func (a *Admin) connectorPutCAS(r *rq) error {
	f := r.formOf("cas", casFields)
	req := app.CASConnectorRequest{ENTID: r.c.Params("id"), BaseURL: f["cas.base_url"], PathPrefix: f["cas.path_prefix"],
		Version: f["cas.version"], Mapping: app.CASMappingRequest{Preset: f["cas.mapping.preset"],
			UserID: f["cas.mapping.user_id_attribute"], Profile: f["cas.mapping.profile_attribute"],
			ParentValues: words(f["cas.mapping.parent_values"]), UAI: f["cas.mapping.uai_attribute"],
			Class: f["cas.mapping.class_attribute"], ChildID: f["cas.mapping.child_id_attribute"],
			ChildSchool: f["cas.mapping.child_school_attribute"], ChildClass: f["cas.mapping.child_class_attribute"]}}
	if _, err := a.core.PutCASConnector(r.c.UserContext(), r.principal(), req); err != nil {
		return a.connectorFailed(r, err, "cas", casFields, f)
	}
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{Done: r.L("Connecteur CAS enregistré.", "CAS connector saved.")}, formErrors{})
}

func (a *Admin) connectorPutOIDC(r *rq) error {
	f := r.formOf("oidc", oidcFields)
	req := app.OIDCConnectorRequest{ENTID: r.c.Params("id"), Issuer: f["oidc.issuer"], ClientID: f["oidc.client_id"],
		ClientSecret: f["oidc.client_secret"], Scopes: words(f["oidc.scopes"]), UserinfoVersion: f["oidc.userinfo_version"],
		Mapping: app.OIDCMappingRequest{Preset: f["oidc.mapping.preset"], UserID: f["oidc.mapping.user_id_claim"],
			SubjectIsUserID: f["oidc.mapping.subject_is_user_id"] != "", Profile: f["oidc.mapping.profile_claim"],
			UAIs: f["oidc.mapping.uais_claim"], Classes: f["oidc.mapping.classes_claim"], ParentValues: words(f["oidc.mapping.parent_values"])},
		FetchChildren: f["oidc.fetch_children"] != "", ChildrenURL: f["oidc.children_url"]}
	if _, err := a.core.PutOIDCConnector(r.c.UserContext(), r.principal(), req); err != nil {
		return a.connectorFailed(r, err, "oidc", oidcFields, f)
	}
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{Done: r.L("Connecteur OpenID Connect enregistré.", "OpenID Connect connector saved.")}, formErrors{})
}

func (a *Admin) connectorSecret(r *rq) error {
	req := app.ConnectorSecretRequest{ENTID: r.c.Params("id"), ClientSecret: strings.TrimSpace(r.c.FormValue("secret.client_secret"))}
	if _, err := a.core.ReplaceConnectorSecret(r.c.UserContext(), r.principal(), req); err != nil {
		return a.connectorFailed(r, err, "secret", secretFields, nil)
	}
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{Done: r.L("Nouveau secret enregistré.", "New secret saved.")}, formErrors{})
}

func (a *Admin) connectorDelete(r *rq) error {
	ref := app.ConnectorRequest{ENTID: r.c.Params("id"), Kind: r.c.Params("kind")}
	if err := a.core.DeleteConnector(r.c.UserContext(), r.principal(), ref); err != nil {
		return a.failurePage(r, err)
	}
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{Done: r.L("Connecteur supprimé : les parents ne peuvent plus se connecter par lui.",
		"Connector deleted: parents can no longer sign in through it.")}, formErrors{})
}

func (a *Admin) connectorTest(r *rq) error {
	ref := app.ConnectorRequest{ENTID: r.c.Params("id"), Kind: r.c.Params("kind")}
	res, err := a.core.TestConnector(r.c.UserContext(), r.principal(), ref)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.renderConnectors(r, fiber.StatusOK, connectorsData{Test: &res, TestKind: ref.Kind}, formErrors{})
}
