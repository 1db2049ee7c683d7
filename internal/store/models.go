package store

import (
	"encoding/json"
	"time"

	"github.com/liaison-ent/liaison/conventions"
)

// Collectivité kinds.
const (
	KindCommune     = "commune"
	KindEPCI        = "epci"
	KindDepartement = "departement"
	KindRegion      = "region"
)

// Collectivite is a local authority: a commune (INSEE code), or an EPCI,
// département or région (SIREN). An EPCI lists the INSEE codes of its member
// communes.
type Collectivite struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	INSEE   string   `json:"insee,omitempty"`
	SIREN   string   `json:"siren,omitempty"`
	Members []string `json:"members,omitempty"`
	// Departements: the département code of a département, or the
	// départements of a région (their collèges/lycées are its territory).
	Departements []string  `json:"departements,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// School levels (the level of a school as registered): the levels of
// package conventions, the one definition (conventions.SchoolLevels).
const (
	LevelMaternelle  = conventions.LevelMaternelle
	LevelElementaire = conventions.LevelElementaire
	LevelPrimaire    = conventions.LevelPrimaire
	LevelCollege     = conventions.LevelCollege
	LevelLycee       = conventions.LevelLycee
)

// School is identified by its UAI.
type School struct {
	UAI       string            `json:"uai"`
	Name      string            `json:"name"`
	Commune   string            `json:"commune"` // INSEE code of the commune it stands in
	Level     conventions.Level `json:"level"`
	CreatedAt time.Time         `json:"created_at"`
}

// Account roles.
const (
	RoleOperator = "operator"
	RoleAdmin    = "admin"
	RoleAgent    = "agent"
	RoleViewer   = "viewer"
)

// Account is a staff member or a machine client. Only the SHA-256 of its
// token is stored.
type Account struct {
	ID             string    `json:"id"`
	Role           string    `json:"role"`
	Name           string    `json:"name"`
	CollectiviteID string    `json:"collectivite_id,omitempty"`
	Services       []string  `json:"services,omitempty"`
	Schools        []string  `json:"schools,omitempty"`
	Machine        bool      `json:"machine,omitempty"`
	TokenHash      string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
}

// Widget-token key algorithms of an ENT.
const (
	AlgHS256 = "HS256"
	AlgES256 = "ES256"
)

// ENT is an ENT integration: the body that syncs parents, embeds the widget
// and mints parent tokens.
type ENT struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Origins    []string  `json:"origins"`
	Schools    []string  `json:"schools"`
	KeyAlg     string    `json:"key_alg"`
	HMACSecret []byte    `json:"-"` // HS256 shared secret (needed to verify, so not hashed)
	PublicKey  string    `json:"public_key,omitempty"`
	APIKeyHash string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`

	// Credential rotation (see ent_keys.go): the API key and the widget key
	// replaced by the last rotation of each stay valid until their Until
	// (nil: not at all). The rules are ENT methods, decided there only.
	PrevAPIKeyHash     string     `json:"-"`
	PrevAPIKeyUntil    *time.Time `json:"previous_api_key_until,omitempty"`
	PrevHMACSecret     []byte     `json:"-"`
	PrevPublicKey      string     `json:"-"`
	PrevWidgetKeyUntil *time.Time `json:"previous_widget_key_until,omitempty"`
	// RevokedAt: every credential of the ENT is refused from then on.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// KeysVersion counts the changes of credentials (optimistic
	// concurrency of UpdateENTKeys).
	KeysVersion int `json:"-"`
}

// Child is one child of a parent: a school, a level and a class. No name.
type Child struct {
	UAI   string            `json:"uai"`
	Level conventions.Level `json:"level"`
	Class string            `json:"class,omitempty"`
	// Enrolment: the services the ENT's directory knows the child is, or
	// is not, enrolled in (enrolment.go); the zero value is all unknown.
	Enrolment Enrolment `json:"enrolment,omitzero"`
	// Declared: what the parent declared of them (SetDeclaredEnrolments),
	// filled in by the store when it reads the parent; UpsertParents does
	// not write it. Child.Enrolled merges both.
	Declared Enrolment `json:"declared,omitzero"`
}

// Parent is an opaque ENT account linked to children. No name, e-mail or
// phone number is ever stored.
type Parent struct {
	ENTID     string   `json:"ent_id"`
	ENTUserID string   `json:"ent_user_id"`
	Children  []Child  `json:"children"`
	Locale    string   `json:"locale,omitempty"`
	Muted     []string `json:"muted,omitempty"` // categories not pushed (feed only)
	// Digest: categories whose notices come in the daily summary rather
	// than one push each (see DigestStore). Never both muted and summarized.
	Digest    []string  `json:"digest,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AuditEntry is one link of the append-only, hash-chained audit log.
type AuditEntry struct {
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

// Convention statuses.
const (
	ConventionDraft     = "draft"
	ConventionActive    = "active"
	ConventionSuspended = "suspended"
	ConventionExpired   = "expired"
)

// Convention is a stored convention: indexed fields plus the current
// version's document (the JSON of conventions.Convention). Schools lists the
// UAIs the current version covers; the caller copies them from Doc (the
// store never parses Doc) and ListConventions filters on them.
type Convention struct {
	ID             string          `json:"id"`
	Number         int             `json:"number"`
	CollectiviteID string          `json:"collectivite_id"`
	Status         string          `json:"status"`
	Version        int             `json:"version"`
	Schools        []string        `json:"schools"`
	Doc            json.RawMessage `json:"doc"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// ConventionVersion is one immutable version of a convention.
type ConventionVersion struct {
	ConventionID string          `json:"convention_id"`
	Version      int             `json:"version"`
	Doc          json.RawMessage `json:"doc"`
	CreatedAt    time.Time       `json:"created_at"`
	CreatedBy    string          `json:"created_by"`
	Reason       string          `json:"reason,omitempty"`
}

// Notice statuses. "published" and "expired" are derived from the clock for
// reads; the stored status is scheduled/published/withdrawn.
const (
	NoticeScheduled = "scheduled"
	NoticePublished = "published"
	NoticeWithdrawn = "withdrawn"
	NoticeExpired   = "expired"
)

// Audience selects families: children in these schools, optionally of these
// levels and classes (empty = all).
type Audience struct {
	Schools []string            `json:"schools"`
	Levels  []conventions.Level `json:"levels,omitempty"`
	Classes []string            `json:"classes,omitempty"`
	// Services, when not empty, restricts the audience to the families
	// enrolled in one of these services, unknown enrolments included;
	// Lines, to the families of these transport lines (or of an unknown
	// line). See Audience.ReachesEnrolment.
	Enrolments []string `json:"enrolments,omitempty"`
	Lines      []string `json:"lines,omitempty"`
}

// Notice is the current version of a notice. Earlier versions are kept
// (Store.NoticeVersions reads them).
type Notice struct {
	ID                string          `json:"id"`
	Version           int             `json:"version"`
	CollectiviteID    string          `json:"collectivite_id"`
	AuthorID          string          `json:"author_id"`
	Service           string          `json:"service"`
	Category          string          `json:"category"`
	Priority          string          `json:"priority"`
	Title             string          `json:"title"`
	Body              string          `json:"body"`
	Audience          Audience        `json:"audience"`
	Content           json.RawMessage `json:"content,omitempty"` // structured menu / transport
	PublishAt         time.Time       `json:"publish_at"`
	ExpiresAt         time.Time       `json:"expires_at"`
	AckRequired       bool            `json:"ack_required"`
	Push              bool            `json:"push"`
	Critical          bool            `json:"critical"`
	Status            string          `json:"status"`
	ConventionID      string          `json:"convention_id"`
	ConventionNumber  int             `json:"convention_number"`
	ConventionVersion int             `json:"convention_version"`
	Article           string          `json:"article"`
	IdempotencyKey    string          `json:"-"`
	// RequestHash fingerprints the publication request that created the
	// notice, so that a retry with the same Idempotency-Key but another
	// request is told so instead of getting this notice back ("" for
	// notices published before it was kept). Only NoticeByIdempotencyKey
	// reads it back; every update keeps it.
	RequestHash      string     `json:"-"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	CorrectionReason string     `json:"correction_reason,omitempty"`
	WithdrawnAt      *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawReason   string     `json:"withdraw_reason,omitempty"`
	// PushVersion is the version whose push fan-out carries the notice
	// to parents' devices: version 1, then each correction pushed again
	// (one that changes what a notification shows, at most one a Paris
	// day). A correction that is not pushed keeps it: the new version
	// replaces the old one in the feed, and the fan-out already started
	// (or still to start) goes on. 0, as stored before it was kept: the
	// current version (every version was pushed). See PushedVersion.
	PushVersion int `json:"-"`
	// RepushedAt is when a correction was last pushed again (nil: never).
	RepushedAt *time.Time `json:"-"`
	// Attachments are the notice's files, in the order they were added
	// (their content is stored apart: AttachmentStore). Every version
	// keeps the list it had.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment describes a file attached to a notice; its content is kept
// by AttachmentStore under (notice, ID).
type Attachment struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`          // the file name shown, cleaned
	ContentType string    `json:"content_type"`  // from the content: application/pdf, image/jpeg, image/png
	Size        int64     `json:"size"`          // bytes
	Alt         string    `json:"alt,omitempty"` // text alternative (required for images)
	AddedAt     time.Time `json:"added_at"`
}

// PushedVersion is the version whose fan-out pushes the notice (see
// PushVersion): the delivery scheduler starts one fan-out per pushed
// version, and stops a fan-out whose version is no longer it.
func (n *Notice) PushedVersion() int {
	if n.PushVersion > 0 {
		return n.PushVersion
	}
	return n.Version
}

// StatusAt is the notice's status as seen at time now.
func (n *Notice) StatusAt(now time.Time) string {
	switch {
	case n.Status == NoticeWithdrawn:
		return NoticeWithdrawn
	case !now.Before(n.ExpiresAt):
		return NoticeExpired
	case now.Before(n.PublishAt):
		return NoticeScheduled
	default:
		return NoticePublished
	}
}

// NoticeFilter scopes a notice listing. Empty fields do not filter.
type NoticeFilter struct {
	CollectiviteID string
	Schools        []string // notices whose audience touches any of these schools
	Cursor         string   // opaque: the last ID of the previous page
	Limit          int
}
