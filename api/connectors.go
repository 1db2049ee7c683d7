package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

// ENT connectors (operators): decode → app → encode. The rules are the
// application layer's (app/connectors.go).

func connectorRef(c *fiber.Ctx) app.ConnectorRequest {
	return app.ConnectorRequest{ENTID: c.Params("id"), Kind: c.Params("kind")}
}

// putConnector is PUT /v1/ents/{id}/connectors/{kind}
// (app.PutCASConnector, app.PutOIDCConnector).
func (s *Server) putConnector(c *fiber.Ctx) error {
	view := func(res app.Connector) connectorView { return viewConnector(res, Lang(c)) }
	switch ref := connectorRef(c); ref.Kind {
	case store.ConnectorCAS:
		return answered(s, c, fiber.StatusOK, func(r *app.CASConnectorRequest) { r.ENTID = ref.ENTID }, s.app.PutCASConnector, view)
	case store.ConnectorOIDC:
		return answered(s, c, fiber.StatusOK, func(r *app.OIDCConnectorRequest) { r.ENTID = ref.ENTID }, s.app.PutOIDCConnector, view)
	default:
		return app.Err(app.CodeResourceNotFound)
	}
}

// getConnector is GET /v1/ents/{id}/connectors/{kind} (app.GetConnector).
func (s *Server) getConnector(c *fiber.Ctx) error {
	res, err := s.app.GetConnector(c.UserContext(), principal(c), connectorRef(c))
	if err != nil {
		return err
	}
	return c.JSON(viewConnector(res, Lang(c)))
}

// deleteConnector is DELETE /v1/ents/{id}/connectors/{kind}
// (app.DeleteConnector).
func (s *Server) deleteConnector(c *fiber.Ctx) error {
	if err := s.app.DeleteConnector(c.UserContext(), principal(c), connectorRef(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// putConnectorSecret is PUT /v1/ents/{id}/connectors/oidc/secret
// (app.ReplaceConnectorSecret).
func (s *Server) putConnectorSecret(c *fiber.Ctx) error {
	return answered(s, c, fiber.StatusOK, func(r *app.ConnectorSecretRequest) { r.ENTID = c.Params("id") }, s.app.ReplaceConnectorSecret,
		func(res app.Connector) connectorView { return viewConnector(res, Lang(c)) })
}

// testConnector is POST /v1/ents/{id}/connectors/{kind}/test
// (app.TestConnector): a failed check is a 200 answer with ok false.
func (s *Server) testConnector(c *fiber.Ctx) error {
	res, err := s.app.TestConnector(c.UserContext(), principal(c), connectorRef(c))
	if err != nil {
		return err
	}
	out := connectionTestView{OK: res.OK, Checks: make([]connectionCheckView, len(res.Checks))}
	for i, ch := range res.Checks {
		out.Checks[i] = connectionCheckView{Name: ch.Name, OK: ch.OK, Message: app.Pick(Lang(c), ch.FR, ch.EN)}
	}
	return c.JSON(out)
}

// The views of connectors (openapi.yaml: Connector, ConnectionTest).

type connectorView struct {
	ENTID     string               `json:"ent_id"`
	Kind      string               `json:"kind"`
	Version   int                  `json:"version"`
	CAS       *casConnectorView    `json:"cas,omitempty"`
	OIDC      *oidcConnectorView   `json:"oidc,omitempty"`
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
	Console   connectorConsoleView `json:"console"`
}

type casConnectorView struct {
	BaseURL    string         `json:"base_url"`
	PathPrefix string         `json:"path_prefix"`
	Version    string         `json:"version"`
	Mapping    casMappingView `json:"mapping"`
}

type casMappingView struct {
	Preset       string   `json:"preset"`
	UserID       string   `json:"user_id_attribute"`
	Profile      string   `json:"profile_attribute"`
	ParentValues []string `json:"parent_values"`
	UAI          string   `json:"uai_attribute"`
	Class        string   `json:"class_attribute"`
	ChildID      string   `json:"child_id_attribute"`
	ChildSchool  string   `json:"child_school_attribute"`
	ChildClass   string   `json:"child_class_attribute"`
}

type oidcConnectorView struct {
	Issuer           string          `json:"issuer"`
	ClientID         string          `json:"client_id"`
	Scopes           []string        `json:"scopes"`
	UserinfoVersion  string          `json:"userinfo_version"`
	Mapping          oidcMappingView `json:"mapping"`
	FetchChildren    bool            `json:"fetch_children"`
	ChildrenURL      string          `json:"children_url"`
	SecretSet        bool            `json:"secret_set"`
	SecretReadable   bool            `json:"secret_readable"`
	SecretKeyCurrent bool            `json:"secret_key_current"`
}

type oidcMappingView struct {
	Preset          string   `json:"preset"`
	UserID          string   `json:"user_id_claim"`
	SubjectIsUserID bool     `json:"subject_is_user_id"`
	Profile         string   `json:"profile_claim"`
	UAIs            string   `json:"uais_claim"`
	Classes         string   `json:"classes_claim"`
	ParentValues    []string `json:"parent_values"`
}

type connectorConsoleView struct {
	ParentURL     string             `json:"parent_url"`
	ServiceURL    string             `json:"service_url,omitempty"`
	URLPattern    string             `json:"url_pattern,omitempty"`
	RedirectURI   string             `json:"redirect_uri,omitempty"`
	Scope         string             `json:"scope,omitempty"`
	LogoutURL     string             `json:"logout_url"`
	IframeOrigins []string           `json:"iframe_origins"`
	Fields        []consoleFieldView `json:"fields"`
}

type consoleFieldView struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

type connectionTestView struct {
	OK     bool                  `json:"ok"`
	Checks []connectionCheckView `json:"checks"`
}

type connectionCheckView struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

func list0(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func viewConnector(c app.Connector, lang string) connectorView {
	v := connectorView{ENTID: c.ENTID, Kind: c.Kind, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if x := c.CAS; x != nil {
		m := x.Mapping
		v.CAS = &casConnectorView{BaseURL: x.BaseURL, PathPrefix: x.PathPrefix, Version: x.Version,
			Mapping: casMappingView{Preset: m.Preset, UserID: m.UserID, Profile: m.Profile, ParentValues: list0(m.ParentValues),
				UAI: m.UAI, Class: m.Class, ChildID: m.ChildID, ChildSchool: m.ChildSchool, ChildClass: m.ChildClass}}
	}
	if x := c.OIDC; x != nil {
		m := x.Mapping
		v.OIDC = &oidcConnectorView{Issuer: x.Issuer, ClientID: x.ClientID, Scopes: list0(x.Scopes), UserinfoVersion: x.UserinfoVersion,
			Mapping: oidcMappingView{Preset: m.Preset, UserID: m.UserID, SubjectIsUserID: m.SubjectIsUserID, Profile: m.Profile,
				UAIs: m.UAIs, Classes: m.Classes, ParentValues: list0(m.ParentValues)},
			FetchChildren: x.FetchChildren, ChildrenURL: x.ChildrenURL,
			SecretSet: c.SecretSet, SecretReadable: c.SecretReadable, SecretKeyCurrent: c.SecretKeyCurrent}
	}
	k := c.Console
	v.Console = connectorConsoleView{ParentURL: k.ParentURL, ServiceURL: k.ServiceURL, URLPattern: k.URLPattern,
		RedirectURI: k.RedirectURI, Scope: k.Scope, LogoutURL: k.LogoutURL, IframeOrigins: list0(k.IframeOrigins),
		Fields: make([]consoleFieldView, len(k.Fields))}
	for i, f := range k.Fields {
		v.Console.Fields[i] = consoleFieldView{Name: f.Name, Label: app.Pick(lang, f.LabelFR, f.LabelEN), Value: f.Value,
			Note: app.Pick(lang, f.NoteFR, f.NoteEN)}
	}
	return v
}
