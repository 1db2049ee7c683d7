package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/connect/cas"
	"github.com/liaison-ent/liaison/internal/connect/netguard"
	"github.com/liaison-ent/liaison/internal/store"
)

// The bounds of a connection test: each request, the whole test, and the
// answer read.
const (
	testRequestTimeout = 5 * time.Second
	testTimeout        = 12 * time.Second
	maxTestBody        = 256 << 10
	maxTestRedirects   = 3
)

// ConnectionTest is the outcome of testing a connector against the ENT:
// OK when every check passed.
type ConnectionTest struct {
	OK     bool
	Checks []ConnectionCheck
}

// ConnectionCheck is one check, with a sentence for the operator.
type ConnectionCheck struct {
	Name   string // cas: login, validate; oidc: discovery, issuer, endpoints, pkce
	OK     bool
	FR, EN string
}

func (t *ConnectionTest) add(name string, ok bool, fr, en string) {
	t.Checks = append(t.Checks, ConnectionCheck{Name: name, OK: ok, FR: fr, EN: en})
}

// newTestClient is the connection tests' HTTP client: bounded in time,
// connecting only to the addresses net permits (netguard), following at
// most a few redirects and only to allowed URLs (a CAS login page may
// redirect).
func newTestClient(net netguard.Policy) *http.Client {
	c := net.Client(testRequestTimeout)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxTestRedirects || !net.URLAllowed(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

// TestConnector tests a registered connector against the ENT, server to
// server: OIDC reads the discovery document (the issuer it names, the
// endpoints, the PKCE methods); CAS checks that the login page answers and
// that the validation endpoint refuses a made-up ticket as a CAS server
// does. Only https URLs are called (http on the loopback), each request
// bounded in time and size. A failed check is a result, not an error.
func (a *App) TestConnector(ctx context.Context, p *Principal, req ConnectorRequest) (ConnectionTest, error) {
	e, err := a.connectorENT(ctx, p, req.ENTID)
	if err != nil {
		return ConnectionTest{}, err
	}
	if !validKind(req.Kind) {
		return ConnectionTest{}, Err(CodeResourceNotFound)
	}
	c, err := a.store.GetConnector(ctx, e.ID, req.Kind)
	if err != nil {
		return ConnectionTest{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	var t ConnectionTest
	switch {
	case c.CAS != nil:
		a.testCAS(ctx, &t, e, *c.CAS)
	case c.OIDC != nil:
		a.testOIDC(ctx, &t, *c.OIDC)
	}
	t.OK = len(t.Checks) > 0
	for _, ch := range t.Checks {
		t.OK = t.OK && ch.OK
	}
	return t, nil
}

func (a *App) testCAS(ctx context.Context, t *ConnectionTest, e store.ENT, x store.CASConnector) {
	client, err := cas.New(cas.Config{BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: cas.Version(x.Version),
		Mapping: cas.Mapping(x.Mapping)}, cas.Options{HTTPClient: a.connectors.http, Timeout: testRequestTimeout,
		MaxBody: maxTestBody, Logger: a.log})
	if err != nil {
		t.add("login", false, "La configuration enregistrée n'est plus valide : enregistrez le connecteur à nouveau.",
			"The stored configuration is no longer valid: save the connector again.")
		return
	}
	service := a.connectors.serviceURL(e.ID)
	login, err := client.LoginURL(service)
	if err == nil {
		var status int
		status, err = a.probe(ctx, login)
		switch {
		case err != nil:
		case status == http.StatusNotFound || status >= 500:
			err = fmt.Errorf("HTTP %d", status)
		}
		if err == nil {
			t.add("login", true, fmt.Sprintf("La page de connexion CAS répond (HTTP %d).", status),
				fmt.Sprintf("The CAS login page answers (HTTP %d).", status))
		}
	}
	if err != nil {
		t.add("login", false, "La page de connexion CAS ("+redactQuery(login)+") ne répond pas : "+err.Error()+".",
			"The CAS login page ("+redactQuery(login)+") does not answer: "+err.Error()+".")
	}

	_, err = client.Validate(ctx, "ST-LIAISON-CONNECTION-TEST", service)
	var refused *cas.RefusedError
	switch {
	case errors.As(err, &refused):
		t.add("validate", true, fmt.Sprintf("Le serveur CAS valide les tickets : il refuse un ticket inventé comme attendu (%s).", refused.Code),
			fmt.Sprintf("The CAS server validates tickets: it refuses a made-up ticket as expected (%s).", refused.Code))
	case err == nil:
		t.add("validate", false, "Le serveur CAS a accepté un ticket inventé : ce n'est pas un serveur CAS fiable.",
			"The CAS server accepted a made-up ticket: it is not a trustworthy CAS server.")
	case errors.Is(err, cas.ErrMalformedResponse), errors.Is(err, cas.ErrResponseTooLarge):
		t.add("validate", false, "L'adresse de validation ("+client.ValidateURL()+") ne répond pas comme un serveur CAS : vérifiez l'adresse, le chemin et la version.",
			"The validation address ("+client.ValidateURL()+") does not answer as a CAS server: check the address, the path and the version.")
	default:
		t.add("validate", false, "L'adresse de validation ("+client.ValidateURL()+") ne répond pas : vérifiez l'adresse du serveur CAS.",
			"The validation address ("+client.ValidateURL()+") does not answer: check the CAS server address.")
	}
}

// discovery is what the test reads of an OpenID provider's metadata.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

func (a *App) testOIDC(ctx context.Context, t *ConnectionTest, x store.OIDCConnector) {
	where := strings.TrimRight(x.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := a.fetch(ctx, where)
	var d discovery
	if err == nil {
		if jerr := json.Unmarshal(body, &d); jerr != nil {
			err = errors.New("not a JSON document")
		}
	}
	if err != nil {
		t.add("discovery", false, "Le document de découverte ("+where+") n'a pas pu être lu : "+err.Error()+".",
			"The discovery document ("+where+") could not be read: "+err.Error()+".")
		return
	}
	t.add("discovery", true, "Le document de découverte est lu.", "The discovery document was read.")

	if d.Issuer == x.Issuer {
		t.add("issuer", true, "L'émetteur annoncé est celui enregistré.", "The advertised issuer is the registered one.")
	} else {
		t.add("issuer", false, fmt.Sprintf("L'émetteur annoncé (%q) n'est pas celui enregistré (%q) : les jetons seraient refusés.", d.Issuer, x.Issuer),
			fmt.Sprintf("The advertised issuer (%q) is not the registered one (%q): tokens would be refused.", d.Issuer, x.Issuer))
	}

	var missing []string
	for _, ep := range []struct{ name, v string }{
		{"authorization_endpoint", d.AuthorizationEndpoint}, {"token_endpoint", d.TokenEndpoint},
		{"userinfo_endpoint", d.UserinfoEndpoint}, {"jwks_uri", d.JWKSURI},
	} {
		if u, err := url.Parse(ep.v); ep.v == "" || err != nil || u.Host == "" || !a.connectors.net.URLAllowed(u) {
			missing = append(missing, ep.name)
		}
	}
	if len(missing) == 0 {
		t.add("endpoints", true, "Les adresses d'autorisation, de jeton, d'informations utilisateur et de clés sont annoncées.",
			"The authorization, token, userinfo and keys endpoints are advertised.")
	} else {
		t.add("endpoints", false, "Adresses absentes ou non https : "+strings.Join(missing, ", ")+".",
			"Endpoints missing or not https: "+strings.Join(missing, ", ")+".")
	}

	switch {
	case slices.Contains(d.CodeChallengeMethods, "S256"):
		t.add("pkce", true, "PKCE : la méthode S256 est annoncée et sera utilisée.", "PKCE: the S256 method is advertised and will be used.")
	case slices.Contains(d.CodeChallengeMethods, "plain"):
		t.add("pkce", true, "PKCE : seule la méthode plain est annoncée (comme entcore) ; elle sera utilisée.",
			"PKCE: only the plain method is advertised (as entcore does); it will be used.")
	default:
		t.add("pkce", true, "PKCE : aucune méthode annoncée ; la connexion se fera sans PKCE (state et nonce restent vérifiés).",
			"PKCE: no method advertised; sign-in will go without PKCE (state and nonce are still checked).")
	}
}

// fetch GETs an allowed URL: 200 and at most maxTestBody bytes.
func (a *App) fetch(ctx context.Context, where string) ([]byte, error) {
	resp, err := a.get(ctx, where)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTestBody+1))
	if err != nil {
		return nil, errors.New("the answer was cut short")
	}
	if len(body) > maxTestBody {
		return nil, fmt.Errorf("answer larger than %d KiB", maxTestBody>>10)
	}
	return body, nil
}

// probe GETs an allowed URL (redirects not followed past the allowed
// ones) and answers its status, reading at most maxTestBody bytes.
func (a *App) probe(ctx context.Context, where string) (int, error) {
	resp, err := a.get(ctx, where)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxTestBody))
	return resp.StatusCode, nil
}

func (a *App) get(ctx context.Context, where string) (*http.Response, error) {
	u, err := url.Parse(where)
	if err != nil || u.Host == "" || !a.connectors.net.URLAllowed(u) {
		return nil, errors.New("address not allowed (https to a public address only)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, errors.New("invalid address")
	}
	resp, err := a.connectors.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.Is(err, netguard.ErrForbidden) {
			return nil, errors.New("address not allowed (not a public address)")
		}
		if errors.As(err, &ue) && ue.Timeout() {
			return nil, errors.New("no answer in time")
		}
		return nil, errors.New("unreachable")
	}
	return resp, nil
}

// redactQuery is a URL without its query (for sentences).
func redactQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}
