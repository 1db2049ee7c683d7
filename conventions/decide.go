package conventions

import (
	"slices"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
)

// prioRank orders priorities; -1 for an unknown priority. Empty means normal.
func prioRank(p string) int {
	if p == "" {
		return 0 // normal
	}
	return slices.Index(Priorities, p)
}

// containsFold: class names compare as one normalised spelling, the
// same everywhere in Liaison.
func containsFold(xs []string, s string) bool {
	return slices.ContainsFunc(xs, func(x string) bool { return frenchid.SameClass(x, s) })
}

func (c *Convention) isZero() bool {
	return c.ID == "" && c.Number == 0 && c.Version == 0 && len(c.Rules) == 0 && len(c.Schools) == 0
}

func (c *Convention) hasSchool(uai string) bool {
	for i := range c.Schools {
		if c.Schools[i].UAI == uai {
			return true
		}
	}
	return false
}

// effRule is a rule with the convention defaults resolved. It is the single
// source of the rule semantics for Decide and Capabilities.
type effRule struct {
	i       int
	r       *Rule
	maxPrio int // rank of max_priority (unknown → normal)
	quota   int // daily quota per school, 0 = unlimited or exempt
	maxDays int // 0 = unlimited
	qh      *QuietHours
}

func effective(c *Convention, i int) effRule {
	r := &c.Rules[i]
	e := effRule{i: i, r: r, maxPrio: max(prioRank(r.MaxPriority), 0)}
	if !r.QuotaExempt {
		e.quota = r.MaxPerSchoolPerDay
		if e.quota <= 0 {
			e.quota = max(c.Limits.MaxPerSchoolPerDay, 0)
		}
	}
	e.maxDays = r.MaxValidityDays
	if e.maxDays <= 0 {
		e.maxDays = max(c.Limits.MaxValidityDays, 0)
	}
	e.qh = r.QuietHours
	if e.qh == nil {
		e.qh = c.Limits.QuietHours
	}
	return e
}

func (e *effRule) grants(service, category string) bool {
	return slices.Contains(e.r.Services, service) && slices.Contains(e.r.Categories, category)
}

// coversSchool: the rule's audience includes this school (the school is
// assumed to be one of the convention's).
func (e *effRule) coversSchool(uai string) bool {
	return len(e.r.Schools) == 0 || slices.Contains(e.r.Schools, uai)
}

// remaining daily quota of a school, -1 when unlimited.
func (e *effRule) remaining(uai string, published map[string]int) int {
	if e.quota == 0 {
		return -1
	}
	return max(e.quota-published[uai], 0)
}

// maxExpiry is the latest expiry of a notice published at pub (zero when
// unlimited): the same Paris wall-clock time maxDays calendar days later.
func (e *effRule) maxExpiry(pub time.Time) time.Time {
	if e.maxDays == 0 {
		return time.Time{}
	}
	return pub.In(paris).AddDate(0, 0, e.maxDays)
}

func (e *effRule) critical(prio int) bool {
	return e.r.Critical || (e.r.CriticalWhenUrgent && prio >= 1)
}

// quietHours applying to a push of this priority (nil: none). Returns a
// copy, never the convention's own pointer.
func (e *effRule) quietHours(prio int) *QuietHours {
	if e.critical(prio) || prio >= 1 {
		return nil
	}
	q := DefaultQuietHours
	if e.qh != nil {
		q = *e.qh
	}
	return &q
}

// evalRule checks a request against one rule granting its service and
// category, and returns the number of failures. With out == nil it only
// counts, allocating nothing, and stops once stopAt failures are found
// (stopAt <= 0: count them all); otherwise it appends every reason to out.
func evalRule(c *Convention, e *effRule, r *Request, prio int, pub time.Time, out *[]Reason, stopAt int) int {
	n := 0
	fail := func(mk func() Reason) bool {
		n++
		if out == nil {
			return stopAt > 0 && n >= stopAt
		}
		*out = append(*out, mk())
		return false
	}
	cv := convOf(c)
	svc := r.Service
	for _, uai := range r.Schools {
		if !e.coversSchool(uai) {
			if fail(func() Reason { return reasonRuleSchool(cv, svc, e.r, e.i, uai) }) {
				return n
			}
		}
	}
	if len(e.r.Levels) > 0 {
		if len(r.Levels) == 0 {
			if fail(func() Reason { return reasonRuleLevel(cv, svc, e.r, e.i, "") }) {
				return n
			}
		}
		for _, l := range r.Levels {
			if !slices.Contains(e.r.Levels, l) {
				if fail(func() Reason { return reasonRuleLevel(cv, svc, e.r, e.i, l) }) {
					return n
				}
			}
		}
	}
	if len(e.r.Classes) > 0 {
		if len(r.Classes) == 0 {
			if fail(func() Reason { return reasonRuleClass(cv, svc, e.r, e.i, "") }) {
				return n
			}
		}
		for _, cl := range r.Classes {
			if !containsFold(e.r.Classes, cl) {
				if fail(func() Reason { return reasonRuleClass(cv, svc, e.r, e.i, cl) }) {
					return n
				}
			}
		}
	}
	if prio > e.maxPrio {
		if fail(func() Reason { return reasonPriority(cv, svc, e.r, e.i, Priorities[prio], Priorities[e.maxPrio]) }) {
			return n
		}
	}
	if r.Push && !e.r.Push {
		if fail(func() Reason { return reasonPush(cv, svc, e.r, e.i) }) {
			return n
		}
	}
	if r.AckRequired && !e.r.AckAllowed {
		if fail(func() Reason { return reasonAck(cv, svc, e.r, e.i) }) {
			return n
		}
	}
	if !r.ExpiresAt.IsZero() {
		if maxExp := e.maxExpiry(pub); !maxExp.IsZero() && r.ExpiresAt.After(maxExp) {
			if fail(func() Reason { return reasonValidity(cv, svc, e.r, e.i, e.maxDays, maxExp) }) {
				return n
			}
		}
	}
	if e.quota > 0 {
		for _, uai := range r.Schools {
			if e.remaining(uai, r.PublishedToday) == 0 {
				if fail(func() Reason {
					return reasonQuota(cv, svc, e.r, e.i, e.quota, uai, r.PublishedToday[uai], ParisDay(pub))
				}) {
					return n
				}
			}
		}
	}
	return n
}

// fitsAudience: the request's audience (schools, levels, classes) is one
// the rule may address.
func (e *effRule) fitsAudience(r *Request) bool {
	for _, uai := range r.Schools {
		if !e.coversSchool(uai) {
			return false
		}
	}
	if len(e.r.Levels) > 0 {
		if len(r.Levels) == 0 {
			return false
		}
		for _, l := range r.Levels {
			if !slices.Contains(e.r.Levels, l) {
				return false
			}
		}
	}
	if len(e.r.Classes) > 0 {
		if len(r.Classes) == 0 {
			return false
		}
		for _, cl := range r.Classes {
			if !containsFold(e.r.Classes, cl) {
				return false
			}
		}
	}
	return true
}

// whoMay lists, for a request refused for its service or category, the
// other services the convention lets publish in that category for that
// audience, rule by rule (the services in the order each rule names them).
func whoMay(c *Convention, r *Request) []allower {
	var out []allower
	for i := range c.Rules {
		e := effective(c, i)
		if !slices.Contains(e.r.Categories, r.Category) || !e.fitsAudience(r) {
			continue
		}
		for _, s := range e.r.Services {
			if s != r.Service {
				out = append(out, allower{service: s, r: e.r, i: i})
			}
		}
	}
	return out
}

// checkConvention returns the reasons why nothing at all may be published
// under c at time at.
func checkConvention(c *Convention, at time.Time) []Reason {
	if c.isZero() {
		return []Reason{reasonNoneActive()}
	}
	if at.IsZero() {
		return []Reason{reasonNoTime()}
	}
	var rs []Reason
	if c.Status != StatusActive {
		rs = append(rs, reasonNotActive(convOf(c), c.Status))
	}
	if !c.ValidFrom.Valid() || !c.ValidUntil.Valid() || at.Before(c.ValidFrom.Start()) || !at.Before(c.ValidUntil.End()) {
		rs = append(rs, reasonOutsideValidity(convOf(c), c.ValidFrom, c.ValidUntil, at))
	}
	return rs
}

// checkRequest returns the reasons why the request is malformed or targets
// schools outside the convention.
func checkRequest(c *Convention, r *Request) []Reason {
	var rs []Reason
	if len(r.Schools) == 0 {
		rs = append(rs, reasonNoSchool())
	}
	if prioRank(r.Priority) < 0 {
		rs = append(rs, reasonInvalidPriority(r.Priority))
	}
	for _, l := range r.Levels {
		if !l.Valid() {
			rs = append(rs, reasonInvalidLevel(l))
		}
	}
	for _, uai := range r.Schools {
		if !c.hasSchool(uai) {
			rs = append(rs, reasonSchoolNotInConvention(convOf(c), uai))
		}
	}
	for _, t := range c.Targeting {
		if t.Category == r.Category && (!slices.Contains(r.Enrolments, t.Service) || (t.Lines && len(r.Lines) == 0)) {
			rs = append(rs, reasonEnrolmentRequired(convOf(c), t))
		}
	}
	return rs
}

// Decide checks a publication request against a convention version. A zero
// Convention (no convention found for the collectivité) yields
// convention.none_active. See the package documentation for the semantics.
func Decide(c Convention, r Request) Decision {
	d := Decision{ConventionID: c.ID, ConventionNumber: c.Number, Version: c.Version, Rule: -1}
	pub := r.PublishTime()
	if rs := checkConvention(&c, pub); len(rs) > 0 {
		d.Reasons = rs
		return d
	}
	if rs := checkRequest(&c, &r); len(rs) > 0 {
		d.Reasons = rs
		return d
	}
	prio := prioRank(r.Priority)
	expiresOK := r.ExpiresAt.IsZero() || r.ExpiresAt.After(pub)

	// Fast path: the first rule that allows, without allocating reasons.
	candidates := 0
	serviceKnown := false
	for i := range c.Rules {
		e := effective(&c, i)
		if !slices.Contains(e.r.Services, r.Service) {
			continue
		}
		serviceKnown = true
		if !slices.Contains(e.r.Categories, r.Category) {
			continue
		}
		candidates++
		if !expiresOK || evalRule(&c, &e, &r, prio, pub, nil, 1) > 0 {
			continue
		}
		d.Allowed = true
		d.Article = e.r.Article
		d.Rule = i
		d.Critical = e.critical(prio)
		d.Push = r.Push
		if r.Push {
			d.QuietHours = e.quietHours(prio)
		}
		d.ExpiresAt = r.ExpiresAt
		if d.ExpiresAt.IsZero() {
			d.ExpiresAt = e.maxExpiry(pub)
		}
		d.CountsAgainstQuota = !e.r.QuotaExempt
		d.DailyQuota = e.quota
		return d
	}

	// Refusal: explain.
	cv := convOf(&c)
	if !expiresOK {
		d.Reasons = append(d.Reasons, reasonExpiresBeforePublish(r.ExpiresAt, pub))
	}
	switch {
	case !serviceKnown:
		d.Reasons = append(d.Reasons, reasonServiceNotAllowed(cv, r.Service, r.Category, whoMay(&c, &r)))
		return d
	case candidates == 0:
		d.Reasons = append(d.Reasons, reasonCategoryNotAllowed(cv, r.Service, r.Category, whoMay(&c, &r)))
		return d
	}
	// The closest candidates fail on the fewest points: count first, then
	// write the messages of those only.
	best := -1
	for i := range c.Rules {
		e := effective(&c, i)
		if e.grants(r.Service, r.Category) {
			if n := evalRule(&c, &e, &r, prio, pub, nil, 0); best < 0 || n < best {
				best = n
			}
		}
	}
	for i := range c.Rules {
		e := effective(&c, i)
		if e.grants(r.Service, r.Category) && evalRule(&c, &e, &r, prio, pub, nil, 0) == best {
			evalRule(&c, &e, &r, prio, pub, &d.Reasons, 0)
		}
	}
	return d
}

// ServiceCapabilities is what one service may publish at a given time under
// a convention version.
type ServiceCapabilities struct {
	ConventionID     string    `json:"convention_id,omitempty"`
	ConventionNumber int       `json:"convention_number,omitempty"`
	Version          int       `json:"version,omitempty"`
	Service          string    `json:"service"`
	At               time.Time `json:"at"`
	// Day is the Paris day on which the remaining quotas are counted.
	Day Date `json:"day"`
	// Reasons why nothing may be published (then Categories is empty).
	Reasons []Reason `json:"reasons,omitempty"`
	// Categories the service may publish in, in the order of Categories.
	Categories []CategoryCapability `json:"categories,omitempty"`
}

// CategoryCapability lists the grants of one category; a request in this
// category is allowed when it fits at least one grant (the first one fitting
// is the one cited by Decide).
type CategoryCapability struct {
	Category string  `json:"category"`
	Grants   []Grant `json:"grants"`
}

// Grant is one rule as it applies now to the service.
type Grant struct {
	Article string `json:"article"`
	Rule    int    `json:"rule"`
	// Schools reachable under this rule, with their remaining daily quota.
	Schools []SchoolQuota `json:"schools"`
	// Levels and Classes the audience must be restricted to (empty = any,
	// including "all levels" / "all classes").
	Levels      []Level  `json:"levels,omitempty"`
	Classes     []string `json:"classes,omitempty"`
	MaxPriority string   `json:"max_priority"`
	Push        bool     `json:"push"`
	AckAllowed  bool     `json:"ack_allowed"`
	// Critical: every notice is critical; CriticalWhenUrgent: urgent ones are.
	Critical           bool `json:"critical"`
	CriticalWhenUrgent bool `json:"critical_when_urgent"`
	// QuietHours delaying normal, non-critical pushes.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
	// MaxValidityDays (0 = unlimited) and the resulting latest expiry for a
	// notice published at At.
	MaxValidityDays    int       `json:"max_validity_days,omitempty"`
	MaxExpiresAt       time.Time `json:"max_expires_at,omitzero"`
	QuotaExempt        bool      `json:"quota_exempt,omitempty"`
	MaxPerSchoolPerDay int       `json:"max_per_school_per_day,omitempty"`
}

// SchoolQuota is a reachable school and its remaining daily quota
// (-1 = unlimited, 0 = quota reached: nothing more may be published today).
type SchoolQuota struct {
	UAI       string `json:"uai"`
	Level     Level  `json:"level,omitempty"`
	Remaining int    `json:"remaining"`
}

// Capabilities reports what service may publish at now under c;
// publishedToday counts, per UAI, the notices already counted against the
// quota on the Paris day of now. It is derived from the same rule
// evaluation as Decide: Decide(c, r) with r.Now = now allows r if and only
// if r fits one grant of the category of r.
func Capabilities(c Convention, service string, now time.Time, publishedToday map[string]int) ServiceCapabilities {
	out := ServiceCapabilities{ConventionID: c.ID, ConventionNumber: c.Number, Version: c.Version, Service: service, At: now}
	if !now.IsZero() {
		out.Day = ParisDay(now)
	}
	if rs := checkConvention(&c, now); len(rs) > 0 {
		out.Reasons = rs
		return out
	}
	for _, cat := range Categories {
		var cc CategoryCapability
		for i := range c.Rules {
			e := effective(&c, i)
			if !e.grants(service, cat) {
				continue
			}
			g := Grant{
				Article:            e.r.Article,
				Rule:               i,
				Levels:             slices.Clone(e.r.Levels),
				Classes:            slices.Clone(e.r.Classes),
				MaxPriority:        Priorities[e.maxPrio],
				Push:               e.r.Push,
				AckAllowed:         e.r.AckAllowed,
				Critical:           e.r.Critical,
				CriticalWhenUrgent: e.r.CriticalWhenUrgent,
				QuietHours:         e.quietHours(0),
				MaxValidityDays:    e.maxDays,
				MaxExpiresAt:       e.maxExpiry(now),
				QuotaExempt:        e.r.QuotaExempt,
				MaxPerSchoolPerDay: e.quota,
			}
			if !g.Push {
				g.QuietHours = nil
			}
			for _, s := range c.Schools {
				if e.coversSchool(s.UAI) {
					g.Schools = append(g.Schools, SchoolQuota{UAI: s.UAI, Level: s.Level, Remaining: e.remaining(s.UAI, publishedToday)})
				}
			}
			cc.Grants = append(cc.Grants, g)
		}
		if len(cc.Grants) > 0 {
			cc.Category = cat
			out.Categories = append(out.Categories, cc)
		}
	}
	return out
}

// Category returns the capability of one category, if any.
func (s ServiceCapabilities) Category(category string) (CategoryCapability, bool) {
	for _, c := range s.Categories {
		if c.Category == category {
			return c, true
		}
	}
	return CategoryCapability{}, false
}

// Select picks, among the versions of the conventions of a collectivité,
// the one to decide with: an active convention valid at at and covering
// every targeted school, the highest version first. When none covers every
// school, an active valid one covering some school is returned (Decide then
// explains which school is not covered). ok is false when no convention is
// active and valid at at; Decide(Convention{}, r) then reports
// convention.none_active.
func Select(cs []Convention, schools []string, at time.Time) (c Convention, ok bool) {
	bestAll, bestSome := -1, -1
	for i := range cs {
		x := &cs[i]
		if x.Status != StatusActive || len(checkConvention(x, at)) > 0 {
			continue
		}
		all, some := true, false
		for _, s := range schools {
			if x.hasSchool(s) {
				some = true
			} else {
				all = false
			}
		}
		if all && (bestAll < 0 || x.Version > cs[bestAll].Version) {
			bestAll = i
		}
		if some && (bestSome < 0 || x.Version > cs[bestSome].Version) {
			bestSome = i
		}
	}
	switch {
	case bestAll >= 0:
		return cs[bestAll], true
	case bestSome >= 0:
		return cs[bestSome], true
	}
	return Convention{}, false
}

// Amend returns next as the new version (avenant) of prev: same ID, number
// and collectivité, version prev.Version+1, status draft (it must be
// activated, see CheckActivation).
func Amend(prev, next Convention) Convention {
	next.ID = prev.ID
	next.Number = prev.Number
	next.CollectiviteID = prev.CollectiviteID
	next.Version = prev.Version + 1
	next.Status = StatusDraft
	return next
}
