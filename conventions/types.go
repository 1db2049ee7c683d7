package conventions

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // Europe/Paris must be available in a distroless image.
)

var paris = mustLoadParis()

func mustLoadParis() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic("conventions: cannot load Europe/Paris: " + err.Error())
	}
	return loc
}

// Paris returns the Europe/Paris location used for every calendar
// computation of the package (loaded once at package initialisation).
func Paris() *time.Location { return paris }

// Status is the lifecycle status of a convention version.
type Status string

// Convention statuses. Only StatusActive allows publications.
const (
	StatusDraft     Status = "draft"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusExpired   Status = "expired"
)

// Services (the "service" of an agent or of a machine client).
const (
	ServiceRestauration    = "restauration"
	ServiceTransport       = "transport"
	ServiceEnfanceJeunesse = "enfance_jeunesse"
	ServiceTechnique       = "technique"
	ServiceCulture         = "culture"
	ServiceCommunication   = "communication"
	ServiceElus            = "elus"
)

// Categories of notices.
const (
	CategoryCantine      = "cantine"
	CategoryTransport    = "transport"
	CategoryPeriscolaire = "periscolaire"
	CategoryEtudes       = "etudes"
	CategoryBatiment     = "batiment"
	CategoryCulture      = "culture"
	CategoryAlerte       = "alerte"
)

// Level is a level of schooling: a child's (the audience of a notice,
// a rule's restriction, the directory) or a school's. Its values are the
// Level constants; in JSON and in every store it is the plain code.
type Level string

// Child levels (audience), and school levels (LevelPrimaire is only a
// school level: a school with both maternelle and élémentaire classes).
const (
	LevelMaternelle  Level = "maternelle"
	LevelElementaire Level = "elementaire"
	LevelCollege     Level = "college"
	LevelLycee       Level = "lycee"
	LevelPrimaire    Level = "primaire"
)

// Valid reports whether l is a child level (one of Levels): what a notice,
// a rule or the directory may name.
func (l Level) Valid() bool { return slices.Contains(Levels, l) }

// IsSchoolLevel reports whether l is a level a school is registered with
// (one of SchoolLevels).
func (l Level) IsSchoolLevel() bool { return slices.Contains(SchoolLevels, l) }

// Priorities, in increasing order.
const (
	PriorityNormal = "normal"
	PriorityUrgent = "urgent"
)

// Signatory roles.
const (
	RoleIEN       = "ien"
	RoleMaire     = "maire"
	RolePresident = "president"
	RoleOperateur = "operateur"
)

// Services lists the known service codes in display order.
var Services = []string{ServiceRestauration, ServiceTransport, ServiceEnfanceJeunesse, ServiceTechnique, ServiceCulture, ServiceCommunication, ServiceElus}

// Categories lists the known category codes in display order.
var Categories = []string{CategoryCantine, CategoryTransport, CategoryPeriscolaire, CategoryEtudes, CategoryBatiment, CategoryCulture, CategoryAlerte}

// Levels lists the child levels usable in rules and requests.
var Levels = []Level{LevelMaternelle, LevelElementaire, LevelCollege, LevelLycee}

// SchoolLevels lists the levels a school is registered with: the child
// levels and LevelPrimaire, in display order.
var SchoolLevels = []Level{LevelMaternelle, LevelElementaire, LevelPrimaire, LevelCollege, LevelLycee}

// Enrolment services: what a child may be known as enrolled in, and a
// notice may target ("the families enrolled in"). Package store's
// enrolments use these codes.
const (
	EnrolCantine       = "cantine"
	EnrolTransport     = "transport"
	EnrolGarderieMatin = "garderie_matin"
	EnrolGarderieSoir  = "garderie_soir"
	EnrolEtudes        = "etudes"
	EnrolMercredi      = "mercredi"
)

// EnrolmentServices lists the enrolment services in display order.
var EnrolmentServices = []string{EnrolCantine, EnrolTransport, EnrolGarderieMatin, EnrolGarderieSoir, EnrolEtudes, EnrolMercredi}

// Priorities lists the priorities in increasing order.
var Priorities = []string{PriorityNormal, PriorityUrgent}

// These lists are the one definition of each code list: the API's
// validator tags, the back office's forms and the enums of openapi.yaml
// are checked against them.

// Convention is one version of a convention. Versions are immutable once
// active: an amendment (avenant) is a new version with the same ID and Number.
type Convention struct {
	ID             string      `json:"id,omitempty"`
	Number         int         `json:"number,omitempty"`
	CollectiviteID string      `json:"collectivite_id"`
	Version        int         `json:"version,omitempty"`
	Status         Status      `json:"status,omitempty"`
	Schools        []School    `json:"schools"`
	Signatories    []Signatory `json:"signatories"`
	ValidFrom      Date        `json:"valid_from"`
	ValidUntil     Date        `json:"valid_until"`
	Limits         Limits      `json:"limits"`
	Rules          []Rule      `json:"rules"`
	// Targeting is the enrolment targeting the notices of a category
	// must have, e.g. transport notices must name a line.
	Targeting []Targeting `json:"targeting,omitempty"`
}

// Targeting requires the notices of Category to target the families
// enrolled in Service (one of EnrolmentServices) — and, with Lines (for
// transport only), to name at least one line.
type Targeting struct {
	Category string `json:"category"`
	Service  string `json:"service"`
	Lines    bool   `json:"lines,omitempty"`
}

// ParseDocument reads a convention document written by hand (as in the
// documentation's example) or stored by an earlier version, where the
// collectivité was named "collectivite": that former name of
// collectivite_id is still read; both given with different values is an
// error. (Convention has no UnmarshalJSON of its own: the structs that
// embed it would lose their other fields.)
func ParseDocument(b []byte) (Convention, error) {
	var c Convention
	if err := json.Unmarshal(b, &c); err != nil {
		return Convention{}, err
	}
	var former struct {
		Collectivite *string `json:"collectivite"`
	}
	if err := json.Unmarshal(b, &former); err != nil {
		return Convention{}, err
	}
	if old := former.Collectivite; old != nil {
		switch {
		case c.CollectiviteID == "":
			c.CollectiviteID = *old
		case c.CollectiviteID != *old:
			return Convention{}, errors.New("conventions: collectivite and collectivite_id differ")
		}
	}
	return c, nil
}

// School is a school covered by a convention. In JSON it is either an object
// {"uai": "0801001D", "level": "maternelle", "commune": "80702"} or, as in the
// signed example, a bare UAI string "0801001D". It is always written as an
// object.
type School struct {
	UAI     string `json:"uai"`
	Level   Level  `json:"level,omitempty"`   // maternelle|elementaire|primaire|college|lycee
	Commune string `json:"commune,omitempty"` // INSEE code
}

// UnmarshalJSON accepts a bare UAI string or an object.
func (s *School) UnmarshalJSON(b []byte) error {
	var uai string
	if err := json.Unmarshal(b, &uai); err == nil {
		*s = School{UAI: uai}
		return nil
	}
	type plain School
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = School(p)
	return nil
}

// Signatory is one of the three signing parties.
type Signatory struct {
	Role     string `json:"role"` // ien|maire|president|operateur
	Name     string `json:"name"`
	SignedAt Date   `json:"signed_at"`
}

// QuietHours is a Europe/Paris wall-clock window "HH:MM"–"HH:MM" during
// which non-urgent, non-critical pushes are delayed. The window may cross
// midnight (20:00–07:30). From == To means no quiet hours.
type QuietHours struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DefaultQuietHours applies when neither the rule nor the convention sets
// quiet hours.
var DefaultQuietHours = QuietHours{From: "20:00", To: "07:30"}

// Limits are the convention-wide defaults.
type Limits struct {
	// MaxPerSchoolPerDay is the daily quota per school (0 = no quota).
	MaxPerSchoolPerDay int `json:"max_per_school_per_day,omitempty"`
	// MaxValidityDays is the longest lifetime of a notice (0 = no limit).
	MaxValidityDays int `json:"max_validity_days,omitempty"`
	// QuietHours for pushes; nil means DefaultQuietHours.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
	// DigestHour is when the daily summary of the notices parents chose to
	// get that way goes, "HH:MM" Europe/Paris ("" = DefaultDigestHour,
	// 18:00). A parent whose pending notices come under several
	// conventions gets one summary, at the earliest of their hours.
	DigestHour string `json:"digest_hour,omitempty"`
}

// Rule grants services some categories for an audience, within limits.
type Rule struct {
	Article    string   `json:"article"`
	Services   []string `json:"services"`
	Categories []string `json:"categories"`
	// Schools restricts the audience to these UAIs (empty = all schools of
	// the convention).
	Schools []string `json:"schools,omitempty"`
	// Levels restricts the audience to these child levels (empty = all).
	Levels []Level `json:"levels,omitempty"`
	// Classes restricts the audience to these classes (empty = all).
	Classes []string `json:"classes,omitempty"`
	// MaxPriority is normal (default when empty) or urgent.
	MaxPriority string `json:"max_priority,omitempty"`
	// Push allows web push notifications; false means feed only.
	Push bool `json:"push,omitempty"`
	// Critical notices cannot be muted by parents; CriticalWhenUrgent makes
	// urgent notices critical.
	Critical           bool `json:"critical,omitempty"`
	CriticalWhenUrgent bool `json:"critical_when_urgent,omitempty"`
	// AckAllowed allows asking parents for a read acknowledgement.
	AckAllowed bool `json:"ack_allowed,omitempty"`
	// QuotaExempt notices neither count against nor are limited by the
	// daily quota.
	QuotaExempt bool `json:"quota_exempt,omitempty"`
	// MaxPerSchoolPerDay overrides the convention quota when > 0.
	MaxPerSchoolPerDay int `json:"max_per_school_per_day,omitempty"`
	// MaxValidityDays overrides the convention limit when > 0.
	MaxValidityDays int `json:"max_validity_days,omitempty"`
	// QuietHours overrides the convention quiet hours when set.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
}

// Date is a calendar date, interpreted in Europe/Paris. Its JSON form is
// "2006-01-02" (the zero Date is "").
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// D is a short constructor for a Date.
func D(year int, month time.Month, day int) Date { return Date{year, month, day} }

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("conventions: invalid date %q (want YYYY-MM-DD)", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// ParisDay returns the Europe/Paris calendar date of t: the day against
// which daily quotas are counted.
func ParisDay(t time.Time) Date {
	y, m, d := t.In(paris).Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is a real calendar date.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 {
		return false
	}
	y, m, dd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Date()
	return y == d.Year && m == d.Month && dd == d.Day
}

// Start is 00:00 Europe/Paris on d.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, paris) }

// End is 24:00 Europe/Paris on d, i.e. 00:00 the next day (excluded bound).
func (d Date) End() time.Time { return time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, paris) }

// String returns "2006-01-02" ("" for the zero Date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Request is a publication request to check against a convention.
type Request struct {
	// Now is the time of the decision (required).
	Now time.Time `json:"-"`
	// Service of the agent or machine client.
	Service  string `json:"service"`
	Category string `json:"category"`
	// Priority is normal (default when empty) or urgent.
	Priority string `json:"priority,omitempty"`
	// Schools are the targeted UAIs (at least one).
	Schools []string `json:"schools"`
	// Levels and Classes restrict the audience; empty means every level /
	// every class, which a rule restricting levels / classes refuses.
	Levels  []Level  `json:"levels,omitempty"`
	Classes []string `json:"classes,omitempty"`
	// Enrolments and Lines restrict the audience to the families enrolled
	// in these services (EnrolmentServices) and transport lines; a
	// convention's Targeting may require them.
	Enrolments []string `json:"enrolments,omitempty"`
	Lines      []string `json:"lines,omitempty"`
	// Push asks for a web push notification.
	Push bool `json:"push,omitempty"`
	// AckRequired asks parents for a read acknowledgement.
	AckRequired bool `json:"ack_required,omitempty"`
	// PublishAt schedules the publication; zero or before Now means Now.
	PublishAt time.Time `json:"publish_at,omitzero"`
	// ExpiresAt is the end of the notice; zero means the longest allowed
	// (see Decision.ExpiresAt).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// PublishedToday counts, per school UAI, the notices already counted
	// against the quota on the Paris day of the publication (see ParisDay).
	PublishedToday map[string]int `json:"-"`
}

// PublishTime is the effective publication time: PublishAt, or Now when
// PublishAt is zero or in the past.
func (r Request) PublishTime() time.Time {
	if r.PublishAt.After(r.Now) {
		return r.PublishAt
	}
	return r.Now
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed          bool   `json:"allowed"`
	ConventionID     string `json:"convention_id,omitempty"`
	ConventionNumber int    `json:"convention_number,omitempty"`
	Version          int    `json:"version,omitempty"`
	// Article of the rule that allows the publication, to be stored with it.
	Article string `json:"article,omitempty"`
	// Rule is the index of that rule in Convention.Rules (-1 when refused).
	Rule int `json:"rule"`
	// Critical notices cannot be muted by parents.
	Critical bool `json:"critical,omitempty"`
	// Push: a web push notification is to be sent.
	Push bool `json:"push,omitempty"`
	// QuietHours, when not nil, delay the push (see PushAt).
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
	// ExpiresAt is the effective expiry: the requested one, or the longest
	// allowed when the request has none (zero: no limit).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// CountsAgainstQuota: the notice must be counted in PublishedToday of the
	// following requests (false for quota-exempt rules).
	CountsAgainstQuota bool `json:"counts_against_quota,omitempty"`
	// DailyQuota is the per-school daily quota of the allowing rule (0:
	// none), which the store enforces again, atomically, when it stores
	// the notice.
	DailyQuota int `json:"-"`
	// Reasons of a refusal (empty when allowed).
	Reasons []Reason `json:"reasons,omitempty"`
}

// Reason explains one ground of refusal or one validation error.
type Reason struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Article string `json:"article,omitempty"`
	FR      string `json:"fr"`
	EN      string `json:"en"`
	// AllowedBy: on a refusal of the service or the category, the rules of
	// the convention that let other services publish in that category for
	// that audience (who may) — also said in FR and EN.
	AllowedBy []Allowance `json:"allowed_by,omitempty"`
}

// Allowance is one rule letting a service publish in a category for an
// audience.
type Allowance struct {
	Service string `json:"service"`
	Article string `json:"article,omitempty"`
	Rule    int    `json:"rule"`
}

// Error returns the English message, so that a Reason can be used as an
// error.
func (r Reason) Error() string { return r.EN }
