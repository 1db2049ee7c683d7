package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

func connectorKeyEnv(t *testing.T) map[string]string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"LIAISON_CONNECTOR_KEY": base64.StdEncoding.EncodeToString(k)}
}

// text is a page's body with its HTML entities decoded.
func text(p page) string { return html.UnescapeString(p.Body) }

// An operator registers an ENT's CAS connector from the ENT's connectors
// page: the values to type into the ENT's console are shown, a bad
// address is refused next to its field without losing what was typed, and
// "Tester la connexion" checks the CAS stand-in.
func TestConnectorPageCAS(t *testing.T) {
	w := newWorldWith(t, connectorKeyEnv(t))
	b := w.browser(t)
	b.signIn("Opératrice")
	ent := w.data.ENTs[0]
	list := must(t, b.get("/admin/ents"), http.StatusOK)
	pagePath := "/admin/ents/" + ent.ID + "/connecteurs"
	if !strings.Contains(list.Body, `href="`+pagePath+`"`) {
		t.Fatalf("no link to the connectors page on the ENTs page")
	}
	p := must(t, b.get(pagePath), http.StatusOK)
	body := text(p)
	service := "http://liaison.test/parent/" + ent.ID + "/cas"
	for _, want := range []string{
		"À saisir dans la console de l'ENT", "http://liaison.test/parent/" + ent.ID + "/",
		`^http://liaison\.test/parent/` + ent.ID + `/cas(\?.*)?$`, service + "/logout", "casPattern", "Generic",
		"http://liaison.test/parent/" + ent.ID + "/oidc/callback", "http://liaison.test/parent/" + ent.ID + "/oidc/logout",
		"Type de CAS (casTypeId) : Generic", "non enregistré",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("connectors page lacks %q", want)
		}
	}
	csrf := csrfOf(t, p)

	// A plain-http address: refused on its field, what was typed kept.
	p = b.post(pagePath+"/cas", url.Values{"csrf": {csrf}, "cas.base_url": {"http://ent.exemple.fr"}, "cas.version": {"2.0"},
		"cas.mapping.preset": {"custom"}, "cas.mapping.uai_attribute": {"rne"}})
	must(t, p, http.StatusUnprocessableEntity)
	body = text(p)
	if !strings.Contains(body, `<p class="field-error" id="f-cas-base-url-error">L'adresse du serveur CAS doit être en https.</p>`) ||
		!strings.Contains(body, `id="f-cas-mapping-profile-attribute-error"`) || !strings.Contains(body, `value="rne"`) ||
		!strings.Contains(body, `value="http://ent.exemple.fr"`) {
		t.Fatalf("refusal not laid out on the form: %.6000s", body)
	}

	standIn := castest.New(t)
	p = must(t, b.post(pagePath+"/cas", url.Values{"csrf": {csrf}, "cas.base_url": {standIn.URL}, "cas.version": {"2.0"},
		"cas.mapping.preset": {"entcore-generic"}}), http.StatusOK)
	if !strings.Contains(text(p), "Connecteur CAS enregistré.") || !strings.Contains(p.Body, `value="`+standIn.URL+`"`) {
		t.Fatalf("not saved: %.3000s", p.Body)
	}
	p = must(t, b.post(pagePath+"/cas/tester", url.Values{"csrf": {csrf}}), http.StatusOK)
	body = text(p)
	if !strings.Contains(body, "Test de la connexion (CAS) : réussi") || !strings.Contains(body, "INVALID_TICKET") || standIn.Validations() != 1 {
		t.Fatalf("test: %.4000s", body)
	}
	// In English.
	b.lang = "en"
	p = must(t, b.post(pagePath+"/cas/tester", url.Values{"csrf": {csrf}}), http.StatusOK)
	if body := text(p); !strings.Contains(body, "Connection test (CAS): passed") && !strings.Contains(body, "Connection test (CAS) : passed") ||
		!strings.Contains(body, "refuses a made-up ticket") || !strings.Contains(body, "To type into the ENT's console") {
		t.Fatalf("English: %.4000s", body)
	}
	b.lang = "fr-FR"
	p = must(t, b.post(pagePath+"/cas/supprimer", url.Values{"csrf": {csrf}}), http.StatusOK)
	if !strings.Contains(text(p), "Connecteur supprimé") {
		t.Fatalf("delete: %.2000s", p.Body)
	}

	// Another role: no page, no change.
	admin := w.browser(t)
	admin.signIn("Administratrice, Saint-Fuscien")
	if p := admin.get(pagePath); p.Status != http.StatusForbidden && p.Status != http.StatusNotFound {
		t.Fatalf("admin opens the connectors page: %d", p.Status)
	}
}

// The OIDC form: the secret is write-only (« un secret est enregistré »,
// never echoed), can be replaced, and the test reads the discovery
// document of a stand-in provider.
func TestConnectorPageOIDC(t *testing.T) {
	const secret = "s3cret-du-connecteur"
	w := newWorldWith(t, connectorKeyEnv(t))
	b := w.browser(t)
	b.signIn("Opératrice")
	ent := w.data.ENTs[0]
	pagePath := "/admin/ents/" + ent.ID + "/connecteurs"
	p := must(t, b.get(pagePath), http.StatusOK)
	csrf := csrfOf(t, p)

	var op *httptest.Server
	op = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.URL, "authorization_endpoint": op.URL + "/auth/oauth2/auth",
			"token_endpoint": op.URL + "/auth/oauth2/token", "userinfo_endpoint": op.URL + "/auth/oauth2/userinfo",
			"jwks_uri": op.URL + "/auth/openid/jwks", "code_challenge_methods_supported": []string{"S256", "plain"}})
	}))
	t.Cleanup(op.Close)

	form := url.Values{"csrf": {csrf}, "oidc.issuer": {op.URL}, "oidc.client_id": {"liaison-commune"}, "oidc.scopes": {"openid userinfo"},
		"oidc.userinfo_version": {"v2.0"}, "oidc.mapping.preset": {"entcore-v2"}}
	// Without the secret: refused on its field.
	p = must(t, b.post(pagePath+"/oidc", form), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, `id="f-oidc-client-secret-error">Obligatoire.</p>`) {
		t.Fatalf("missing secret: %.5000s", p.Body)
	}
	form.Set("oidc.client_secret", secret)
	form.Set("oidc.mapping.user_id_claim", "sub") // a custom claim with the entcore preset: refused, secret not echoed
	p = must(t, b.post(pagePath+"/oidc", form), http.StatusUnprocessableEntity)
	if strings.Contains(p.Body, secret) || !strings.Contains(text(p), "Le préréglage entcore-v2 ne prend pas d'attributs personnalisés.") {
		t.Fatalf("refusal: %.5000s", p.Body)
	}
	form.Del("oidc.mapping.user_id_claim")
	p = must(t, b.post(pagePath+"/oidc", form), http.StatusOK)
	body := text(p)
	if !strings.Contains(body, "Connecteur OpenID Connect enregistré.") || !strings.Contains(body, "Un secret est enregistré.") ||
		strings.Contains(p.Body, secret) || !strings.Contains(body, "Remplacer le secret") {
		t.Fatalf("saved: %.5000s", body)
	}
	if strings.Contains(must(t, b.get(pagePath), http.StatusOK).Body, secret) {
		t.Fatal("the page shows the secret")
	}
	p = must(t, b.post(pagePath+"/oidc/tester", url.Values{"csrf": {csrf}}), http.StatusOK)
	body = text(p)
	if !strings.Contains(body, "Test de la connexion (OpenID Connect) : réussi") || !strings.Contains(body, "S256") {
		t.Fatalf("test: %.4000s", body)
	}
	p = must(t, b.post(pagePath+"/oidc/secret", url.Values{"csrf": {csrf}, "secret.client_secret": {"un-autre-secret"}}), http.StatusOK)
	if !strings.Contains(text(p), "Nouveau secret enregistré.") || strings.Contains(p.Body, "un-autre-secret") {
		t.Fatalf("secret replaced: %.3000s", p.Body)
	}
	p = must(t, b.post(pagePath+"/oidc/secret", url.Values{"csrf": {csrf}, "secret.client_secret": {""}}), http.StatusUnprocessableEntity)
	if !regexp.MustCompile(`id="f-secret-client-secret-error">[^<]+</p>`).MatchString(p.Body) {
		t.Fatalf("empty secret: %.4000s", p.Body)
	}
}

// Without LIAISON_CONNECTOR_KEY the page says what to set, and an OIDC
// connector is refused with the variable named.
func TestConnectorPageWithoutKey(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.signIn("Opératrice")
	pagePath := "/admin/ents/" + w.data.ENTs[0].ID + "/connecteurs"
	p := must(t, b.get(pagePath), http.StatusOK)
	if !strings.Contains(p.Body, "LIAISON_CONNECTOR_KEY") {
		t.Fatal("no word of the missing key")
	}
	p = b.post(pagePath+"/oidc", url.Values{"csrf": {csrfOf(t, p)}, "oidc.issuer": {"https://ent.exemple.fr"}, "oidc.client_id": {"x"},
		"oidc.client_secret": {"s"}, "oidc.mapping.preset": {"entcore-v2"}})
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "LIAISON_CONNECTOR_KEY") {
		t.Fatalf("OIDC without a key: %d %.3000s", p.Status, p.Body)
	}
}
