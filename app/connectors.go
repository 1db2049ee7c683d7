package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/connect/cas"
	"github.com/liaison-ent/liaison/internal/connect/netguard"
	"github.com/liaison-ent/liaison/internal/connect/oidc"
	"github.com/liaison-ent/liaison/internal/store"
)

// ENT connectors: an ENT offers Liaison to its parents through a
// connector registered in its admin console (CAS or OpenID Connect); the
// operator registers the same connector on Liaison's side, one per kind
// and ENT. The OIDC client secret is sealed (connectorkeys.go) and never
// returned. Every use case here is the operator's only.
//
// Key rotation: set the new key as LIAISON_CONNECTOR_KEY and the old one
// as LIAISON_CONNECTOR_KEY_PREVIOUS; saving a connector (its settings or
// its secret) re-seals its secret with the new key. A connector's read
// says whether its secret is still under the previous key
// (SecretKeyCurrent false); once none is, the previous key can go.

// connectorSide is the state of the connector use cases.
type connectorSide struct {
	keys connectorKeys
	// base is Liaison's public URL (LIAISON_BASE_URL): the parent page and
	// the URLs the ENT's console is given derive from it.
	base string
	// http makes the connection tests (bounded: testTimeout, maxTestBody),
	// only to the addresses net permits.
	http *http.Client
	net  netguard.Policy
	// sessionMax is the parent sessions' absolute limit: how long the
	// deletion of a connector is remembered (ConnectorDeletedKey).
	sessionMax time.Duration
}

func newConnectorSide(cfg config.Config, log interface{ Error(string, ...any) }) *connectorSide {
	keys, err := newConnectorKeys(cfg)
	if err != nil {
		log.Error("connector keys unusable: OIDC connectors cannot be registered", "err", err)
	}
	max := cfg.ParentSessionMax
	if max <= 0 {
		max = config.DefaultParentSessionMax
	}
	net := cfg.ConnectorPolicy()
	return &connectorSide{keys: keys, base: strings.TrimRight(cfg.PublicURL(), "/"), http: newTestClient(net), net: net, sessionMax: max}
}

// CASConnectorRequest registers (or replaces) an ENT's CAS connector: the
// fields of cas.Config.
type CASConnectorRequest struct {
	ENTID      string            `json:"-"`
	BaseURL    string            `json:"base_url" validate:"required,max=512,text"`
	PathPrefix string            `json:"path_prefix" validate:"max=128,text"`
	Version    string            `json:"version" validate:"required,oneof=2.0 3.0"`
	Mapping    CASMappingRequest `json:"mapping"`
}

// CASMappingRequest is cas.Mapping: a preset (entcore-generic) or the
// names of custom attributes.
type CASMappingRequest struct {
	Preset       string   `json:"preset" validate:"required,oneof=entcore-generic custom"`
	UserID       string   `json:"user_id_attribute" validate:"max=64"`
	Profile      string   `json:"profile_attribute" validate:"max=64"`
	ParentValues []string `json:"parent_values" validate:"max=20,dive,max=64,text"`
	UAI          string   `json:"uai_attribute" validate:"max=64"`
	Class        string   `json:"class_attribute" validate:"max=64"`
	ChildID      string   `json:"child_id_attribute" validate:"max=64"`
	ChildSchool  string   `json:"child_school_attribute" validate:"max=64"`
	ChildClass   string   `json:"child_class_attribute" validate:"max=64"`
}

// OIDCConnectorRequest registers (or replaces) an ENT's OpenID Connect
// connector: the fields of oidc.Config but the redirect URL (Liaison's).
// ClientSecret is write-only: required the first time; empty on a
// replacement keeps the registered one.
type OIDCConnectorRequest struct {
	ENTID           string             `json:"-"`
	Issuer          string             `json:"issuer" validate:"required,max=512,text"`
	ClientID        string             `json:"client_id" validate:"required,max=256,text"`
	ClientSecret    string             `json:"client_secret,omitempty" validate:"max=1024,text"`
	Scopes          []string           `json:"scopes" validate:"max=20,dive,max=64"`
	UserinfoVersion string             `json:"userinfo_version" validate:"max=16"`
	Mapping         OIDCMappingRequest `json:"mapping"`
	FetchChildren   bool               `json:"fetch_children"`
	ChildrenURL     string             `json:"children_url" validate:"max=512,text"`
}

// OIDCMappingRequest is oidc.Mapping: a preset (entcore-v2) or the names
// of custom claims.
type OIDCMappingRequest struct {
	Preset          string   `json:"preset" validate:"required,oneof=entcore-v2 custom"`
	UserID          string   `json:"user_id_claim" validate:"max=128"`
	SubjectIsUserID bool     `json:"subject_is_user_id"`
	Profile         string   `json:"profile_claim" validate:"max=128"`
	UAIs            string   `json:"uais_claim" validate:"max=128"`
	Classes         string   `json:"classes_claim" validate:"max=128"`
	ParentValues    []string `json:"parent_values" validate:"max=20,dive,max=64,text"`
}

// ConnectorRequest names one connector: an ENT and a kind (cas, oidc).
type ConnectorRequest struct {
	ENTID string `json:"-"`
	Kind  string `json:"-"`
}

// ConnectorSecretRequest replaces an OIDC connector's client secret.
type ConnectorSecretRequest struct {
	ENTID        string `json:"-"`
	ClientSecret string `json:"client_secret" validate:"required,max=1024,text"`
}

// Connector is a registered connector as the operator reads it: its
// settings (never the secret), whether a secret is set, and what to type
// into the ENT's console.
type Connector struct {
	ENTID string
	Kind  string
	CAS   *CASConnectorRequest  // Kind cas
	OIDC  *OIDCConnectorRequest // Kind oidc; ClientSecret always empty
	// SecretSet: a client secret is registered (OIDC). SecretKeyCurrent:
	// it is sealed with the current key (false: with the previous one, or
	// with a key no longer configured — SecretReadable false).
	SecretSet        bool
	SecretReadable   bool
	SecretKeyCurrent bool
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Console          ConnectorConsole
}

// ConnectorConsole is what the ENT's administrator types into the ENT's
// console (entcore: "Applications externes" → the connector) for this
// ENT and kind, derived from LIAISON_BASE_URL.
type ConnectorConsole struct {
	ParentURL  string // the connector's URL: the parent page
	ServiceURL string // CAS: the service URL Liaison validates tickets for
	URLPattern string // CAS: a regular expression the service URL matches
	// RedirectURI is the OIDC callback; Scope the scope to grant.
	RedirectURI string
	Scope       string
	LogoutURL   string // CAS logout requests / OIDC back-channel logout
	// IframeOrigins are the ENT's registered origins: the parent page
	// lets them frame it (target iframe); any other target is a new tab.
	IframeOrigins []string
	// Fields is the same, field by field in the console's order, with
	// entcore's names.
	Fields []ConsoleField
}

// ConsoleField is one field of the ENT's console: its name in entcore's
// connector form, its label, the value to type and a note.
type ConsoleField struct {
	Name             string
	LabelFR, LabelEN string
	Value            string
	NoteFR, NoteEN   string
}

// The kinds' names, for sentences.
func kindName(kind string) string {
	if kind == store.ConnectorOIDC {
		return "OpenID Connect"
	}
	return "CAS"
}

// connectorENT authorizes an operator and loads the ENT (not found: 404).
func (a *App) connectorENT(ctx context.Context, p *Principal, entID string) (store.ENT, error) {
	if !p.Is(store.RoleOperator) {
		return store.ENT{}, Err(CodeAuthForbidden)
	}
	return a.store.GetENT(ctx, entID)
}

// sealingConnectorENT checks a request that seals a connector secret, in
// this order: an operator's (auth.forbidden), a connector key configured
// (connectors.key_missing), req valid; then reads the ENT of entID.
func (a *App) sealingConnectorENT(ctx context.Context, p *Principal, req any, entID string) (store.ENT, error) {
	if !p.Is(store.RoleOperator) {
		return store.ENT{}, Err(CodeAuthForbidden)
	}
	if a.connectors.keys.current == nil {
		return store.ENT{}, Err(CodeConnectorsKeyMissing)
	}
	if err := a.Validate(req); err != nil {
		return store.ENT{}, err
	}
	return a.connectorENT(ctx, p, entID)
}

func validKind(kind string) bool { return kind == store.ConnectorCAS || kind == store.ConnectorOIDC }

// PutCASConnector registers or replaces an ENT's CAS connector.
func (a *App) PutCASConnector(ctx context.Context, p *Principal, req CASConnectorRequest) (Connector, error) {
	if !p.Is(store.RoleOperator) {
		return Connector{}, Err(CodeAuthForbidden)
	}
	if err := a.Validate(&req); err != nil {
		return Connector{}, err
	}
	cfg := req.config()
	if err := cfg.Validate(); err != nil {
		return Connector{}, configError(err)
	}
	if ds := a.connectors.remoteURLDetails(map[string]string{"base_url": cfg.BaseURL}); len(ds) > 0 {
		return Connector{}, Err(CodeRequestValidationFailed, ds...)
	}
	e, err := a.connectorENT(ctx, p, req.ENTID)
	if err != nil {
		return Connector{}, err
	}
	cur, err := a.currentConnector(ctx, e, store.ConnectorCAS)
	if err != nil {
		return Connector{}, err
	}
	c := a.nextConnector(cur, e.ID, store.ConnectorCAS)
	c.CAS = &store.CASConnector{BaseURL: cfg.BaseURL, PathPrefix: cfg.PathPrefix, Version: string(cfg.Version),
		Mapping: store.CASMapping(cfg.Mapping)}
	summary := fmt.Sprintf("Connecteur CAS de l'ENT « %s » %s : %s, CAS %s, correspondance %s",
		e.Name, registeredOrReplaced(cur), cfg.BaseURL, cfg.Version, cfg.Mapping.Preset)
	return a.saveConnector(ctx, p, e, c, "ent.connector_put", summary)
}

// PutOIDCConnector registers or replaces an ENT's OpenID Connect
// connector. Its secret is sealed with LIAISON_CONNECTOR_KEY: without
// one, connectors.key_missing.
func (a *App) PutOIDCConnector(ctx context.Context, p *Principal, req OIDCConnectorRequest) (Connector, error) {
	e, err := a.sealingConnectorENT(ctx, p, &req, req.ENTID)
	if err != nil {
		return Connector{}, err
	}
	cur, err := a.currentConnector(ctx, e, store.ConnectorOIDC)
	if err != nil {
		return Connector{}, err
	}
	cfg := req.config(a.connectors.redirectURI(e.ID))
	if cfg.ClientSecret == "" && !cur.Secret.IsZero() {
		cfg.ClientSecret = "(registered)" // kept: only Validate sees this
	}
	if err := cfg.Validate(); err != nil {
		return Connector{}, configError(err, a.connectors.oidcURLDetails(cfg)...)
	}
	if ds := a.connectors.oidcURLDetails(cfg); len(ds) > 0 {
		return Connector{}, Err(CodeRequestValidationFailed, ds...)
	}
	c := a.nextConnector(cur, e.ID, store.ConnectorOIDC)
	c.OIDC = &store.OIDCConnector{Issuer: cfg.Issuer, ClientID: cfg.ClientID, Scopes: cfg.Scopes,
		UserinfoVersion: cfg.UserinfoVersion, Mapping: store.OIDCMapping(cfg.Mapping),
		FetchChildren: cfg.FetchChildren, ChildrenURL: cfg.ChildrenURL}
	secretNote := "secret inchangé"
	if req.ClientSecret != "" {
		secretNote = "nouveau secret"
		if c.Secret, err = a.connectors.keys.seal(e.ID, c.Kind, req.ClientSecret); err != nil {
			return Connector{}, err
		}
	} else if c.Secret, err = a.connectors.reseal(e.ID, c.Kind, cur.Secret); err != nil {
		return Connector{}, err
	}
	summary := fmt.Sprintf("Connecteur OpenID Connect de l'ENT « %s » %s : émetteur %s, client %s, correspondance %s, %s",
		e.Name, registeredOrReplaced(cur), cfg.Issuer, cfg.ClientID, cfg.Mapping.Preset, secretNote)
	return a.saveConnector(ctx, p, e, c, "ent.connector_put", summary)
}

// ReplaceConnectorSecret replaces an OIDC connector's client secret.
func (a *App) ReplaceConnectorSecret(ctx context.Context, p *Principal, req ConnectorSecretRequest) (Connector, error) {
	e, err := a.sealingConnectorENT(ctx, p, &req, req.ENTID)
	if err != nil {
		return Connector{}, err
	}
	cur, err := a.store.GetConnector(ctx, e.ID, store.ConnectorOIDC)
	if err != nil {
		return Connector{}, err
	}
	c := a.nextConnector(cur, e.ID, store.ConnectorOIDC)
	c.OIDC = cur.OIDC
	if c.Secret, err = a.connectors.keys.seal(e.ID, c.Kind, req.ClientSecret); err != nil {
		return Connector{}, err
	}
	return a.saveConnector(ctx, p, e, c, "ent.connector_secret",
		fmt.Sprintf("Nouveau secret client pour le connecteur OpenID Connect de l'ENT « %s »", e.Name))
}

// GetConnector reads an ENT's connector (never its secret).
func (a *App) GetConnector(ctx context.Context, p *Principal, req ConnectorRequest) (Connector, error) {
	e, err := a.connectorENT(ctx, p, req.ENTID)
	if err != nil {
		return Connector{}, err
	}
	if !validKind(req.Kind) {
		return Connector{}, Err(CodeResourceNotFound)
	}
	c, err := a.store.GetConnector(ctx, e.ID, req.Kind)
	if err != nil {
		return Connector{}, err
	}
	return a.connectorResult(e, c), nil
}

// ENTConnectors is an ENT's connector page: each kind, registered or not
// (Registered false: Console still says what the ENT's console takes).
type ENTConnectors struct {
	ENT  store.ENT
	CAS  Connector
	OIDC Connector
	// KeyConfigured: LIAISON_CONNECTOR_KEY is set (OIDC connectors can be
	// registered).
	KeyConfigured bool
}

// Registered reports whether the connector exists (a read one has a
// version).
func (c Connector) Registered() bool { return c.Version > 0 }

// ListENTConnectors is the connector page of an ENT (the back-office).
func (a *App) ListENTConnectors(ctx context.Context, p *Principal, entID string) (ENTConnectors, error) {
	e, err := a.connectorENT(ctx, p, entID)
	if err != nil {
		return ENTConnectors{}, err
	}
	out := ENTConnectors{ENT: e, KeyConfigured: a.connectors.keys.current != nil,
		CAS:  Connector{ENTID: e.ID, Kind: store.ConnectorCAS, Console: a.connectors.console(e, store.ConnectorCAS)},
		OIDC: Connector{ENTID: e.ID, Kind: store.ConnectorOIDC, Console: a.connectors.console(e, store.ConnectorOIDC)}}
	list, err := a.store.ListConnectors(ctx, e.ID)
	if err != nil {
		return out, err
	}
	for _, c := range list {
		switch c.Kind {
		case store.ConnectorCAS:
			out.CAS = a.connectorResult(e, c)
		case store.ConnectorOIDC:
			out.OIDC = a.connectorResult(e, c)
		}
	}
	return out, nil
}

// DeleteConnector deletes an ENT's connector: its parents can no longer
// sign in through it.
func (a *App) DeleteConnector(ctx context.Context, p *Principal, req ConnectorRequest) error {
	e, err := a.connectorENT(ctx, p, req.ENTID)
	if err != nil {
		return err
	}
	if !validKind(req.Kind) {
		return Err(CodeResourceNotFound)
	}
	// Every parent session the connector opened ends (its ENT server may
	// be why it is deleted: compromised, answering for anyone). The
	// parent page ends the sessions whose sign-in read the connector up
	// to the time recorded here, kept as long as a session lasts. It is
	// recorded before the deletion (a deletion that then fails has ended
	// them all the same) and again once the connector is gone: a sign-in
	// that read it while the deletion waited for the store (SQLite's
	// writer busy, or two writes on MongoDB) ends too.
	mark := func() error {
		now := a.Now()
		_, err := a.store.MarkSession(ctx, ConnectorDeletedKey(e.ID, req.Kind), now, now.Add(a.connectors.sessionMax), now)
		return err
	}
	if err := mark(); err != nil {
		return err
	}
	if err := a.store.DeleteConnector(ctx, e.ID, req.Kind, a.Audit(p, "ent.connector_delete", e.ID,
		fmt.Sprintf("Connecteur %s de l'ENT « %s » supprimé", kindName(req.Kind), e.Name), "")); err != nil {
		return err
	}
	return mark()
}

// ConnectorDeletedKey names, in the store's session marks, when the
// connector of an ENT and kind was last deleted: the parent sessions it
// opened by then are ended (the parent page checks it).
func ConnectorDeletedKey(entID, kind string) string {
	return store.HashToken("connector-deleted\x00" + entID + "\x00" + kind)
}

// currentConnector is the ENT's connector of a kind, the zero connector
// (version 0) when there is none; a revoked ENT is refused.
func (a *App) currentConnector(ctx context.Context, e store.ENT, kind string) (store.Connector, error) {
	if e.Revoked() {
		return store.Connector{}, Err(CodeEntsRevoked)
	}
	c, err := a.store.GetConnector(ctx, e.ID, kind)
	if errors.Is(err, store.ErrNotFound) {
		return store.Connector{}, nil
	}
	return c, err
}

// nextConnector is cur's next write: its version (the store refuses it
// if another write came first), its creation, now.
func (a *App) nextConnector(cur store.Connector, entID, kind string) store.Connector {
	now := a.Now()
	c := store.Connector{ENTID: entID, Kind: kind, Secret: cur.Secret, Version: cur.Version, CreatedAt: cur.CreatedAt, UpdatedAt: now}
	if cur.Version == 0 {
		c.CreatedAt = now
	}
	return c
}

func registeredOrReplaced(cur store.Connector) string {
	if cur.Version == 0 {
		return "enregistré"
	}
	return "remplacé"
}

// saveConnector writes c with its audit entry and answers its read.
func (a *App) saveConnector(ctx context.Context, p *Principal, e store.ENT, c store.Connector, action, summary string) (Connector, error) {
	err := a.store.PutConnector(ctx, c, a.Audit(p, action, e.ID, summary, ""))
	if errors.Is(err, store.ErrENTRevoked) {
		return Connector{}, Err(CodeEntsRevoked)
	}
	if err != nil {
		return Connector{}, err
	}
	c.Version++
	return a.connectorResult(e, c), nil
}

// reseal moves a secret sealed with the previous key to the current one;
// one no configured key opens is connectors.secret_unreadable.
func (s *connectorSide) reseal(entID, kind string, sealed store.SealedSecret) (store.SealedSecret, error) {
	if !s.keys.stale(sealed) {
		return sealed, nil
	}
	plain, err := s.keys.open(entID, kind, sealed)
	if err != nil {
		return store.SealedSecret{}, Wrap(CodeConnectorsSecretUnreadable, err)
	}
	return s.keys.seal(entID, kind, plain)
}

func (a *App) connectorResult(e store.ENT, c store.Connector) Connector {
	out := Connector{ENTID: c.ENTID, Kind: c.Kind, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Console: a.connectors.console(e, c.Kind)}
	if x := c.CAS; x != nil {
		out.CAS = &CASConnectorRequest{ENTID: c.ENTID, BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: x.Version,
			Mapping: CASMappingRequest(x.Mapping)}
	}
	if x := c.OIDC; x != nil {
		out.OIDC = &OIDCConnectorRequest{ENTID: c.ENTID, Issuer: x.Issuer, ClientID: x.ClientID, Scopes: x.Scopes,
			UserinfoVersion: x.UserinfoVersion, Mapping: OIDCMappingRequest(x.Mapping),
			FetchChildren: x.FetchChildren, ChildrenURL: x.ChildrenURL}
	}
	if !c.Secret.IsZero() {
		out.SecretSet = true
		_, err := a.connectors.keys.open(c.ENTID, c.Kind, c.Secret)
		out.SecretReadable = err == nil
		out.SecretKeyCurrent = out.SecretReadable && !a.connectors.keys.stale(c.Secret)
	}
	return out
}

func (r CASConnectorRequest) config() cas.Config {
	m := r.Mapping
	return cas.Config{BaseURL: strings.TrimRight(strings.TrimSpace(r.BaseURL), "/"), PathPrefix: r.PathPrefix, Version: cas.Version(r.Version),
		Mapping: cas.Mapping{Preset: m.Preset, UserID: m.UserID, Profile: m.Profile, ParentValues: m.ParentValues,
			UAI: m.UAI, Class: m.Class, ChildID: m.ChildID, ChildSchool: m.ChildSchool, ChildClass: m.ChildClass}}
}

func (r OIDCConnectorRequest) config(redirect string) oidc.Config {
	m := r.Mapping
	return oidc.Config{Issuer: strings.TrimSpace(r.Issuer), ClientID: r.ClientID, ClientSecret: r.ClientSecret,
		RedirectURL: redirect, Scopes: r.Scopes, UserinfoVersion: r.UserinfoVersion,
		Mapping: oidc.Mapping{Preset: m.Preset, UserID: m.UserID, SubjectIsUserID: m.SubjectIsUserID, Profile: m.Profile,
			UAIs: m.UAIs, Classes: m.Classes, ParentValues: m.ParentValues},
		FetchChildren: r.FetchChildren, ChildrenURL: r.ChildrenURL}
}

// configError turns a protocol package's *ConfigError into a validation
// error: one detail per field, in both languages (code field.connector).
func configError(err error, more ...Detail) error {
	var ds []Detail
	var ce *cas.ConfigError
	var oe *oidc.ConfigError
	switch {
	case errors.As(err, &ce):
		for _, f := range ce.Fields {
			ds = append(ds, NewDetail(requestField(f.Field, "_attribute"), "field.connector", f.FR, f.EN))
		}
	case errors.As(err, &oe):
		for _, f := range oe.Fields {
			ds = append(ds, NewDetail(requestField(f.Field, "_claim"), "field.connector", sentence(f.FR), sentence(f.EN)))
		}
	default:
		return err
	}
	return Err(CodeRequestValidationFailed, append(ds, more...)...)
}

// requestField is the request's name of a protocol package's field: a
// mapping field naming an attribute (a claim) has the suffix in the
// request ("mapping.uai" → "mapping.uai_attribute").
func requestField(field, suffix string) string {
	name, ok := strings.CutPrefix(field, "mapping.")
	switch {
	case !ok, name == "preset", name == "parent_values":
		return field
	}
	return field + suffix
}

// sentence capitalises a short phrase and ends it with a full stop (the
// oidc package words its field errors as phrases: "obligatoire").
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// remoteURLDetails refuses the URLs (by request field) Liaison would call
// that are not https to a public address: http, or an address of a
// private network, only in a network the operator allowed
// (LIAISON_CONNECTOR_ALLOWED_NETWORKS; the demo's loopback). A name is
// checked again at each connection (netguard).
func (s *connectorSide) remoteURLDetails(urls map[string]string) []Detail {
	var ds []Detail
	for _, field := range slices.Sorted(maps.Keys(urls)) {
		v := urls[field]
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err == nil && u.Host != "" && !s.net.URLAllowed(u) {
			ds = append(ds, NewDetail(field, "field.https",
				"L'adresse doit être en https, vers une adresse publique (une adresse locale ou d'un réseau privé n'est acceptée que si l'exploitant l'autorise : LIAISON_CONNECTOR_ALLOWED_NETWORKS).",
				"The address must use https, to a public address (a local or private network address is accepted only if the operator allows it: LIAISON_CONNECTOR_ALLOWED_NETWORKS)."))
		}
	}
	return ds
}

// oidcURLDetails: remoteURLDetails of an OpenID Connect connector's
// issuer and children URL. The oidc package accepts http.
func (s *connectorSide) oidcURLDetails(c oidc.Config) []Detail {
	return s.remoteURLDetails(map[string]string{"issuer": c.Issuer, "children_url": c.ChildrenURL})
}

// The URLs of an ENT's parent page, under LIAISON_BASE_URL.
func (s *connectorSide) parentURL(entID string) string {
	return s.base + "/parent/" + url.PathEscape(entID) + "/"
}
func (s *connectorSide) serviceURL(entID string) string  { return s.parentURL(entID) + "cas" }
func (s *connectorSide) redirectURI(entID string) string { return s.parentURL(entID) + "oidc/callback" }

// console is what the ENT's console takes for a connector of kind.
func (s *connectorSide) console(e store.ENT, kind string) ConnectorConsole {
	c := ConnectorConsole{ParentURL: s.parentURL(e.ID), IframeOrigins: e.Origins}
	target := ConsoleField{Name: "target", LabelFR: "Cible", LabelEN: "Target", Value: "Nouvelle page",
		NoteFR: "Ou « Iframe » : la page des parents s'affiche alors dans l'ENT, depuis ses origines enregistrées (" + strings.Join(e.Origins, ", ") + ") ; l'URL est alors " + c.ParentURL + "?iframe=1.",
		NoteEN: "Or \"Iframe\": the parent page then shows inside the ENT, from its registered origins (" + strings.Join(e.Origins, ", ") + "); the URL is then " + c.ParentURL + "?iframe=1."}
	urlField := ConsoleField{Name: "url", LabelFR: "URL", LabelEN: "URL", Value: c.ParentURL,
		NoteFR: "La page des parents de cet ENT.", NoteEN: "This ENT's parent page."}
	switch kind {
	case store.ConnectorCAS:
		c.ServiceURL = s.serviceURL(e.ID)
		c.URLPattern = "^" + regexp.QuoteMeta(c.ServiceURL) + `(\?.*)?$`
		c.LogoutURL = c.ServiceURL + "/logout"
		c.Fields = []ConsoleField{urlField, target,
			{Name: "casTypeId", LabelFR: "Type de CAS", LabelEN: "CAS type", Value: "Generic",
				NoteFR: "Le type « Generic » transmet le profil et les écoles (UAI, classes).", NoteEN: "The \"Generic\" type releases the profile and the schools (UAI, classes)."},
			{Name: "casPattern", LabelFR: "Motif d'URL (expression régulière)", LabelEN: "URL pattern (regular expression)", Value: c.URLPattern,
				NoteFR: "Adresse de service de Liaison : " + c.ServiceURL + ".", NoteEN: "Liaison's service URL: " + c.ServiceURL + "."},
			{Name: "logoutUrl", LabelFR: "URL de déconnexion", LabelEN: "Logout URL", Value: c.LogoutURL,
				NoteFR: "Reçoit les demandes de déconnexion CAS (déconnexion unique).", NoteEN: "Receives CAS logout requests (single logout)."},
		}
	case store.ConnectorOIDC:
		c.RedirectURI = s.redirectURI(e.ID)
		c.Scope = "userinfo openid"
		c.LogoutURL = c.ParentURL + "oidc/logout"
		c.Fields = []ConsoleField{urlField, target,
			{Name: "transferSession", LabelFR: "Transmettre la session", LabelEN: "Transfer the session", Value: "Oui",
				NoteFR: "Ajoute la portée userinfo.", NoteEN: "Adds the userinfo scope."},
			{Name: "scope", LabelFR: "Portée (scope)", LabelEN: "Scope", Value: c.Scope},
			{Name: "grantType", LabelFR: "Type d'autorisation", LabelEN: "Grant type", Value: "authorization_code"},
			{Name: "secret", LabelFR: "Secret", LabelEN: "Secret", Value: "",
				NoteFR: "Choisi dans la console de l'ENT, puis enregistré ici (il n'est plus jamais affiché).", NoteEN: "Chosen in the ENT's console, then registered here (never shown again)."},
			{Name: "redirect_uri", LabelFR: "URI de redirection", LabelEN: "Redirect URI", Value: c.RedirectURI,
				NoteFR: "La console d'entcore n'a pas de champ pour elle : elle est sous l'URL du connecteur. D'autres fournisseurs OpenID Connect la demandent.",
				NoteEN: "entcore's console has no field for it: it lies under the connector's URL. Other OpenID Connect providers ask for it."},
			{Name: "logoutUrl", LabelFR: "URL de déconnexion (back-channel)", LabelEN: "Back-channel logout URL", Value: c.LogoutURL},
		}
	}
	return c
}

// For the parent page's sign-in (no principal yet: the parent is who
// signs in). A revoked ENT has no connector: its revocation deleted them,
// and signInConnector refuses one a revocation without transactions
// (FerretDB) left behind if the process stopped in between.

func (a *App) signInConnector(ctx context.Context, entID, kind string) (store.Connector, error) {
	e, err := a.store.GetENT(ctx, entID)
	if err != nil {
		return store.Connector{}, err
	}
	if e.Revoked() {
		return store.Connector{}, Err(CodeResourceNotFound)
	}
	return a.store.GetConnector(ctx, entID, kind)
}

// CASSignIn is the ENT's CAS connector as the sign-in uses it, and the
// service URL to validate tickets for.
func (a *App) CASSignIn(ctx context.Context, entID string) (cfg cas.Config, service string, err error) {
	c, err := a.signInConnector(ctx, entID, store.ConnectorCAS)
	if err != nil {
		return cas.Config{}, "", err
	}
	if c.CAS == nil {
		return cas.Config{}, "", Err(CodeResourceNotFound)
	}
	x := c.CAS
	return cas.Config{BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: cas.Version(x.Version), Mapping: cas.Mapping(x.Mapping)},
		a.connectors.serviceURL(entID), nil
}

// OIDCSignIn is the ENT's OpenID Connect connector as the sign-in uses
// it: the client secret opened, the redirect URL Liaison's.
func (a *App) OIDCSignIn(ctx context.Context, entID string) (oidc.Config, error) {
	c, err := a.signInConnector(ctx, entID, store.ConnectorOIDC)
	if err != nil {
		return oidc.Config{}, err
	}
	if c.OIDC == nil {
		return oidc.Config{}, Err(CodeResourceNotFound)
	}
	secret, err := a.connectors.keys.open(entID, c.Kind, c.Secret)
	if err != nil {
		return oidc.Config{}, Wrap(CodeConnectorsSecretUnreadable, err)
	}
	x := c.OIDC
	return oidc.Config{Issuer: x.Issuer, ClientID: x.ClientID, ClientSecret: secret, RedirectURL: a.connectors.redirectURI(entID),
		Scopes: x.Scopes, UserinfoVersion: x.UserinfoVersion, Mapping: oidc.Mapping(x.Mapping),
		FetchChildren: x.FetchChildren, ChildrenURL: x.ChildrenURL}, nil
}
