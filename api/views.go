package api

import (
	"encoding/json"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The API's own view types: what each resource looks like on the wire.
// Handlers encode these, never a store struct, so the store's JSON tags
// (internal/store/models.go) do not decide the API's format, and a field
// added to a store struct is not shown until a view shows it. Field order
// and tags are the API's (openapi.yaml); secrets (token and key hashes,
// HMAC secrets, idempotency keys) have no field here.

// collectiviteView is a collectivité.
type collectiviteView struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Name         string    `json:"name"`
	INSEE        string    `json:"insee,omitempty"`
	SIREN        string    `json:"siren,omitempty"`
	Members      []string  `json:"members,omitempty"`
	Departements []string  `json:"departements,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

func viewCollectivite(c store.Collectivite) collectiviteView {
	return collectiviteView{ID: c.ID, Kind: c.Kind, Name: c.Name, INSEE: c.INSEE, SIREN: c.SIREN,
		Members: c.Members, Departements: c.Departements, CreatedAt: c.CreatedAt}
}

// schoolView is a school.
type schoolView struct {
	UAI       string    `json:"uai"`
	Name      string    `json:"name"`
	Commune   string    `json:"commune"`
	Level     string    `json:"level"`
	CreatedAt time.Time `json:"created_at"`
}

func viewSchool(s store.School) schoolView {
	return schoolView{UAI: s.UAI, Name: s.Name, Commune: s.Commune, Level: string(s.Level), CreatedAt: s.CreatedAt}
}

// accountView is a staff or machine account, without its token.
type accountView struct {
	ID             string    `json:"id"`
	Role           string    `json:"role"`
	Name           string    `json:"name"`
	CollectiviteID string    `json:"collectivite_id,omitempty"`
	Services       []string  `json:"services,omitempty"`
	Schools        []string  `json:"schools,omitempty"`
	Machine        bool      `json:"machine,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
}

func viewAccount(a store.Account) accountView {
	return accountView{ID: a.ID, Role: a.Role, Name: a.Name, CollectiviteID: a.CollectiviteID, Services: a.Services,
		Schools: a.Schools, Machine: a.Machine, CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy}
}

// entView is an ENT integration, without any of its keys (the public key
// of an ES256 ENT is no secret) and with until when replaced keys work.
type entView struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Origins            []string   `json:"origins"`
	Schools            []string   `json:"schools"`
	KeyAlg             string     `json:"key_alg"`
	PublicKey          string     `json:"public_key,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	PrevAPIKeyUntil    *time.Time `json:"previous_api_key_until,omitempty"`
	PrevWidgetKeyUntil *time.Time `json:"previous_widget_key_until,omitempty"`
	RevokedAt          *time.Time `json:"revoked_at,omitempty"`
}

func viewENT(e store.ENT) entView {
	return entView{ID: e.ID, Name: e.Name, Origins: e.Origins, Schools: e.Schools, KeyAlg: e.KeyAlg, PublicKey: e.PublicKey,
		CreatedAt: e.CreatedAt, PrevAPIKeyUntil: e.PrevAPIKeyUntil, PrevWidgetKeyUntil: e.PrevWidgetKeyUntil, RevokedAt: e.RevokedAt}
}

// auditEntryView is one link of the audit log.
type auditEntryView struct {
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	Actor          string    `json:"actor"`
	Action         string    `json:"action"`
	Target         string    `json:"target"`
	Summary        string    `json:"summary"`
	CollectiviteID string    `json:"collectivite_id,omitempty"`
	PrevHash       string    `json:"prev_hash"`
	Hash           string    `json:"hash"`
}

func viewAuditEntry(e store.AuditEntry) auditEntryView {
	return auditEntryView{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Summary: e.Summary,
		CollectiviteID: e.CollectiviteID, PrevHash: e.PrevHash, Hash: e.Hash}
}

// audienceView is the audience of a notice.
type audienceView struct {
	Schools    []string `json:"schools"`
	Levels     []string `json:"levels,omitempty"`
	Classes    []string `json:"classes,omitempty"`
	Enrolments []string `json:"enrolments,omitempty"`
	Lines      []string `json:"lines,omitempty"`
}

// noticeView is a notice as the API shows it to staff, with (GET of one
// notice) its earlier versions.
type noticeView struct {
	ID                string           `json:"id"`
	Version           int              `json:"version"`
	CollectiviteID    string           `json:"collectivite_id"`
	AuthorID          string           `json:"author_id"`
	Service           string           `json:"service"`
	Category          string           `json:"category"`
	Priority          string           `json:"priority"`
	Title             string           `json:"title"`
	Body              string           `json:"body"`
	Audience          audienceView     `json:"audience"`
	Content           json.RawMessage  `json:"content,omitempty"`
	PublishAt         time.Time        `json:"publish_at"`
	ExpiresAt         time.Time        `json:"expires_at"`
	AckRequired       bool             `json:"ack_required"`
	Push              bool             `json:"push"`
	Critical          bool             `json:"critical"`
	Status            string           `json:"status"`
	ConventionID      string           `json:"convention_id"`
	ConventionNumber  int              `json:"convention_number"`
	ConventionVersion int              `json:"convention_version"`
	Article           string           `json:"article"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	CorrectionReason  string           `json:"correction_reason,omitempty"`
	WithdrawnAt       *time.Time       `json:"withdrawn_at,omitempty"`
	WithdrawReason    string           `json:"withdraw_reason,omitempty"`
	Attachments       []attachmentView `json:"attachments,omitempty"`
	Versions          []noticeView     `json:"versions,omitempty"`
}

// viewNotice shows a notice with its stored status; Server.view gives the
// status at the time of the request.
func viewNotice(n store.Notice) noticeView {
	return noticeView{ID: n.ID, Version: n.Version, CollectiviteID: n.CollectiviteID, AuthorID: n.AuthorID,
		Service: n.Service, Category: n.Category, Priority: n.Priority, Title: n.Title, Body: n.Body,
		Audience: audienceView{Schools: n.Audience.Schools, Levels: conventions.Strings(n.Audience.Levels), Classes: n.Audience.Classes,
			Enrolments: n.Audience.Enrolments, Lines: n.Audience.Lines},
		Content: n.Content, PublishAt: n.PublishAt, ExpiresAt: n.ExpiresAt, AckRequired: n.AckRequired,
		Push: n.Push, Critical: n.Critical, Status: n.Status, ConventionID: n.ConventionID,
		ConventionNumber: n.ConventionNumber, ConventionVersion: n.ConventionVersion, Article: n.Article,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, CorrectionReason: n.CorrectionReason,
		WithdrawnAt: n.WithdrawnAt, WithdrawReason: n.WithdrawReason, Attachments: viewAttachments(n.Attachments)}
}

// childView is one child of a parent, as the parent sees it.
type childView struct {
	UAI   string `json:"uai"`
	Level string `json:"level"`
	Class string `json:"class,omitempty"`
}

func viewChild(c store.Child) childView {
	return childView{UAI: c.UAI, Level: string(c.Level), Class: c.Class}
}

// viewAll converts a page of store structs into their views; nil stays
// nil (newList shows it as an empty list).
func viewAll[S, V any](items []S, view func(S) V) []V {
	if items == nil {
		return nil
	}
	out := make([]V, len(items))
	for i, x := range items {
		out[i] = view(x)
	}
	return out
}
