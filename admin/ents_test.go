package admin

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// apiStatus calls the API of the test world with an ENT key.
func (w *world) apiStatus(tb testing.TB, method, path, token, body string) int {
	tb.Helper()
	status, _ := w.callAPI(tb, method, path, token, body)
	return status
}

var tokenRe = regexp.MustCompile(`<code class="token">([^<]+)</code>`)

// An operator replaces an ENT's keys from the ENTs page — the new key is
// shown once, the old one refused at once when no overlap is chosen — and
// revokes them.
func TestENTKeysPage(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.signIn("Opératrice")
	var ent = w.data.ENTs[0]
	// An ENT-key route: 401 for a refused key, anything else means it
	// opened.
	feed := "/v1/ent/parents/parent-inconnu/feed"
	if s := w.apiStatus(t, "GET", feed, ent.APIKey, ""); s == http.StatusUnauthorized {
		t.Fatalf("demo ENT key: %d", s)
	}
	p := must(t, b.get("/admin/ents"), http.StatusOK)
	if !strings.Contains(p.Body, `action="/admin/ents/`+ent.ID+`/cle-api"`) {
		t.Fatalf("no rotation form for %s", ent.ID)
	}
	csrf := csrfOf(t, p)

	p = must(t, b.post("/admin/ents/"+ent.ID+"/cle-api", url.Values{"csrf": {csrf}, "overlap_minutes": {"0"}}), http.StatusOK)
	m := tokenRe.FindStringSubmatch(p.Body)
	if m == nil || !strings.HasPrefix(m[1], "lia_k_") || !strings.Contains(p.Body, "Nouvelle clé d&#39;API") {
		t.Fatalf("new API key not shown: %.3000s", p.Body)
	}
	if s := w.apiStatus(t, "GET", feed, ent.APIKey, ""); s != http.StatusUnauthorized {
		t.Fatalf("old key after a rotation without overlap: %d", s)
	}
	if s := w.apiStatus(t, "GET", feed, m[1], ""); s == http.StatusUnauthorized {
		t.Fatalf("new key: %d", s)
	}

	p = must(t, b.post("/admin/ents/"+ent.ID+"/cle-widget", url.Values{"csrf": {csrf}, "overlap_minutes": {"60"}}), http.StatusOK)
	if m := tokenRe.FindStringSubmatch(p.Body); m == nil || !strings.HasPrefix(m[1], "lia_w_") {
		t.Fatalf("new widget secret not shown: %.3000s", p.Body)
	}
	if !strings.Contains(p.Body, "Ancienne clé de signature acceptée jusqu") {
		t.Fatalf("overlap not shown: %.3000s", p.Body)
	}

	// A refusal (no reason) is told on the page; then the revocation.
	p = must(t, b.post("/admin/ents/"+ent.ID+"/revoquer", url.Values{"csrf": {csrf}, "reason": {""}}), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, "obligatoire") {
		t.Fatalf("refusal not told: %.3000s", p.Body)
	}
	p = must(t, b.post("/admin/ents/"+ent.ID+"/revoquer", url.Values{"csrf": {csrf}, "reason": {"Clé divulguée"}}), http.StatusOK)
	if !strings.Contains(p.Body, "Révoquées le") || strings.Contains(p.Body, `action="/admin/ents/`+ent.ID+`/cle-api"`) {
		t.Fatalf("revocation not shown: %.3000s", p.Body)
	}
	if s := w.apiStatus(t, "GET", feed, m[1], ""); s != http.StatusUnauthorized {
		t.Fatalf("key of a revoked ENT: %d", s)
	}

	// Operators only.
	a := w.browser(t)
	a.signIn("Administratrice, Saint-Fuscien")
	if p := a.post("/admin/ents/"+w.data.ENTs[1].ID+"/revoquer", url.Values{"csrf": {csrfOf(t, a.get("/admin/agents"))}, "reason": {"Essai"}}); p.Status != http.StatusForbidden {
		t.Fatalf("admin revoking an ENT: %d", p.Status)
	}
}

// A revocation made on the back-office reaches the API's caches at once:
// a parent token verified (and cached) just before is refused right after,
// not at the end of the cache's 30 s.
func TestENTRevocationOnPageReachesAPICaches(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.signIn("Opératrice")
	ent := w.data.ENTs[0] // HS256
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": ent.ID, "sub": w.data.ParentIDs[ent.ID][0], "aud": "liaison",
		"exp": testNow.Add(30 * time.Minute).Unix(), "iat": testNow.Unix(),
	}).SignedString(ent.HMACSecret)
	if err != nil {
		t.Fatal(err)
	}
	if s := w.apiStatus(t, "GET", "/v1/me", tok, ""); s != http.StatusOK {
		t.Fatalf("parent token before the revocation: %d", s)
	}
	csrf := csrfOf(t, b.get("/admin/ents"))
	must(t, b.post("/admin/ents/"+ent.ID+"/revoquer", url.Values{"csrf": {csrf}, "reason": {"Clé divulguée"}}), http.StatusOK)
	if s := w.apiStatus(t, "GET", "/v1/me", tok, ""); s != http.StatusUnauthorized {
		t.Fatalf("cached parent token after a revocation on the back-office: %d", s)
	}
}

// The collectivité, school and ENT forms: a refusal is laid out on its
// field, in the page's language, with nothing written; a valid form is
// registered and listed.
func TestOperatorRegistrationForms(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.signIn("Opératrice")
	csrf := csrfOf(t, b.get("/admin/collectivites"))

	p := must(t, b.post("/admin/collectivites", url.Values{"csrf": {csrf}, "kind": {"commune"}, "name": {"Amiens"}, "insee": {"8002"}}), http.StatusUnprocessableEntity)
	if !regexp.MustCompile(`(?s)id="f-insee".*aria-invalid="true"`).MatchString(p.Body) && !strings.Contains(p.Body, `id="f-insee" name="insee" value="8002" aria-invalid="true"`) {
		t.Fatalf("INSEE refusal not on its field: %.4000s", p.Body)
	}
	if !strings.Contains(p.Body, "Code INSEE de commune invalide") {
		t.Fatalf("INSEE refusal not told: %.4000s", p.Body)
	}
	if strings.Contains(p.Body, "<th scope=\"row\">Amiens</th>") {
		t.Fatal("refused collectivité listed")
	}
	p = b.post("/admin/collectivites", url.Values{"csrf": {csrf}, "kind": {"commune"}, "name": {"Amiens"}, "insee": {"80021"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("valid collectivité: %d %.2000s", p.Status, p.Body)
	}
	if p = must(t, b.get("/admin/collectivites"), http.StatusOK); !strings.Contains(p.Body, "<th scope=\"row\">Amiens</th>") {
		t.Fatalf("new collectivité not listed: %.4000s", p.Body)
	}

	b.lang = "en"
	p = must(t, b.post("/admin/ecoles", url.Values{"csrf": {csrf}, "uai": {"0800001X"}, "name": {"École"}, "commune": {"80021"}, "level": {"maternelle"}}), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, "Invalid UAI") {
		t.Fatalf("UAI refusal not told in English: %.4000s", p.Body)
	}
	p = must(t, b.post("/admin/ents", url.Values{"csrf": {csrf}, "name": {"ENT Amiens"}, "origins": {"https://ent.amiens.fr"}, "schools": {"0750655E"}, "key_alg": {"HS256"}}), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, "is not registered") {
		t.Fatalf("unknown school not told: %.4000s", p.Body)
	}
	p = must(t, b.post("/admin/ents", url.Values{"csrf": {csrf}, "name": {"ENT Amiens"}, "origins": {"https://ent.amiens.fr"}, "schools": {w.data.ENTs[0].Schools[0]}, "key_alg": {"HS256"}}), http.StatusCreated)
	if m := tokenRe.FindAllStringSubmatch(p.Body, -1); len(m) != 2 || !strings.HasPrefix(m[0][1], "lia_k_") || !strings.HasPrefix(m[1][1], "lia_w_") {
		t.Fatalf("new ENT's keys not shown once: %.4000s", p.Body)
	}
	if s := w.apiStatus(t, "GET", "/v1/ent/parents/inconnu/feed", tokenRe.FindStringSubmatch(p.Body)[1], ""); s == http.StatusUnauthorized {
		t.Fatalf("new ENT's key refused: %d", s)
	}
}
