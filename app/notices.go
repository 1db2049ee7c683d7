package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// The notice use cases: check, publish, correct and withdraw a notice,
// list and read notices, and what an agent may publish. The daily quota,
// the family count and who may change which notice are decided here, for
// the API and the back-office alike.

// maxConventions bounds the active conventions read for one decision.
const maxConventions = 200

// AudienceRequest is who a notice is for: schools, and optionally levels
// and classes of them, and the families enrolled in some services
// (cantine, transport…) and transport lines (store.Audience).
type AudienceRequest struct {
	Schools    []string            `json:"schools" validate:"required,min=1,max=500,unique,dive,uai"`
	Levels     []conventions.Level `json:"levels,omitempty" validate:"max=4,unique,dive,level"`
	Classes    []string            `json:"classes,omitempty" validate:"max=40,unique,dive,min=1,max=32,text,class"`
	Enrolments []string            `json:"enrolments,omitempty" validate:"max=6,unique,dive,enrolment"`
	Lines      []string            `json:"lines,omitempty" validate:"max=20,dive,min=1,max=16,text,line"`
}

// normalize puts a validated audience in the form it is decided and
// stored in: UAIs and classes normalised, lines too (store.NormalizeLine,
// without duplicates), and transport among the enrolments when lines are
// named (a line is a transport line).
func (r *AudienceRequest) normalize() {
	for i := range r.Schools {
		r.Schools[i] = frenchid.NormalizeUAI(r.Schools[i])
	}
	r.Classes = frenchid.NormalizeClasses(r.Classes)
	r.Lines = store.NormalizeLines(r.Lines)
	if len(r.Lines) > 0 && !slices.Contains(r.Enrolments, store.ServiceTransport) {
		r.Enrolments = append(r.Enrolments, store.ServiceTransport)
	}
}

// audience is the store audience of a normalised request.
func (r *AudienceRequest) audience() store.Audience {
	return store.Audience{Schools: r.Schools, Levels: r.Levels, Classes: r.Classes, Enrolments: r.Enrolments, Lines: r.Lines}
}

// PublishRequest is a publication (and a check of one).
type PublishRequest struct {
	Service     string          `json:"service,omitempty" validate:"omitempty,service"`
	Category    string          `json:"category" validate:"required,category"`
	Priority    string          `json:"priority,omitempty" validate:"omitempty,priority"`
	Title       string          `json:"title" validate:"required,min=3,max=120,text"`
	Body        string          `json:"body,omitempty" validate:"max=2000,multiline"`
	Audience    AudienceRequest `json:"audience"`
	PublishAt   *time.Time      `json:"publish_at,omitempty"`
	ExpiresAt   *time.Time      `json:"expires_at" validate:"required"`
	AckRequired bool            `json:"ack_required,omitempty"`
	Push        *bool           `json:"push,omitempty"`
	Content     *NoticeContent  `json:"content,omitempty"`
	// IdempotencyKey, when set, makes a retried publication answer with
	// the notice already made (an HTTP header in the API).
	IdempotencyKey string `json:"-"`
}

// CorrectionRequest changes a published or scheduled notice; nil fields
// keep their value. The reason is shown to parents.
type CorrectionRequest struct {
	Reason      string           `json:"reason" validate:"required,min=3,max=500,multiline"`
	Priority    *string          `json:"priority,omitempty" validate:"omitempty,priority"`
	Title       *string          `json:"title,omitempty" validate:"omitempty,min=3,max=120,text"`
	Body        *string          `json:"body,omitempty" validate:"omitempty,max=2000,multiline"`
	Audience    *AudienceRequest `json:"audience,omitempty"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	AckRequired *bool            `json:"ack_required,omitempty"`
	Content     *NoticeContent   `json:"content,omitempty"`
}

// WithdrawRequest withdraws a notice; the reason is kept in the audit log
// and shown to parents.
type WithdrawRequest struct {
	Reason string `json:"reason" validate:"required,min=3,max=500,multiline"`
}

// Publication is the outcome of a publication or a correction: the
// notice as stored (its status at the time of the call), the convention's
// decision, and the families it reaches under the small-group rule.
type Publication struct {
	Notice   store.Notice
	Decision conventions.Decision
	Families Figure
	// Replayed: a retry with the same idempotency key; Notice is the one
	// made by the first call, nothing new was stored.
	Replayed bool
}

// CheckResult is what a publication would give, nothing stored.
type CheckResult struct {
	Allowed  bool
	Decision conventions.Decision
	Families Figure
}

// Capabilities is what an agent's service may publish now, per active
// convention of the collectivité.
type Capabilities struct {
	Service string
	Items   []conventions.ServiceCapabilities
}

// decision is everything a publication check computes.
type decision struct {
	conventions.Decision
	Request    conventions.Request
	Convention conventions.Convention
	Families   familyCount
}

// agent is the principal's account when it may publish (an agent).
func agent(p *Principal) (*store.Account, error) {
	if !p.Is(store.RoleAgent) {
		return nil, Err(CodeAuthForbidden)
	}
	return p.Account, nil
}

// publisherService is the service an agent publishes for: the one asked,
// which must be theirs, or their only one.
func publisherService(acc *store.Account, asked string) (string, error) {
	if asked == "" {
		if len(acc.Services) == 1 {
			return acc.Services[0], nil
		}
		return "", Err(CodeRequestValidationFailed, NewDetail("service", "field.required",
			"Précisez le service au nom duquel vous publiez : "+strings.Join(acc.Services, ", ")+".",
			"Say which service you publish for: "+strings.Join(acc.Services, ", ")+"."))
	}
	if !slices.Contains(acc.Services, asked) {
		return "", Err(CodeAuthForbidden, NewDetail("service", "notices.service_not_yours",
			"Votre compte n'appartient pas à ce service.", "Your account does not belong to this service."))
	}
	return asked, nil
}

// DocumentOf decodes a stored convention, its identity taken from the
// record (the source of truth for status and number).
func DocumentOf(rec store.Convention) (conventions.Convention, error) {
	doc, err := conventions.ParseDocument(rec.Doc)
	if err != nil {
		return doc, fmt.Errorf("app: stored convention %s is unreadable: %w", rec.ID, err)
	}
	doc.ID, doc.Number, doc.Version, doc.Status, doc.CollectiviteID = rec.ID, rec.Number, rec.Version, conventions.Status(rec.Status), rec.CollectiviteID
	return doc, nil
}

// decide loads the collectivité's active conventions, picks the one for
// the audience and asks the rules engine. exclude, when not nil, is a
// notice whose own quota count must not count (a correction).
//
// The family count covers only the audience's schools that the selected
// convention (one of the collectivité's own) covers: a check naming
// another collectivité's schools must not count their families.
func (a *App) decide(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) (decision, error) {
	d, err := a.decideOnly(ctx, collectiviteID, r, exclude)
	if err != nil {
		return d, err
	}
	covered := slices.DeleteFunc(slices.Clone(r.Schools), func(uai string) bool {
		return !slices.ContainsFunc(d.Convention.Schools, func(sc conventions.School) bool { return sc.UAI == uai })
	})
	if len(covered) == 0 {
		return d, nil
	}
	d.Families, err = a.countAudience(ctx, store.Audience{Schools: covered, Levels: r.Levels, Classes: r.Classes, Enrolments: r.Enrolments, Lines: r.Lines})
	return d, err
}

// activeConventions are the collectivité's conventions in force.
func (a *App) activeConventions(ctx context.Context, collectiviteID string) ([]conventions.Convention, error) {
	recs, err := a.store.ListConventions(ctx, store.ConventionFilter{CollectiviteID: collectiviteID, Status: store.ConventionActive, Page: store.Page{Limit: maxConventions}})
	if err != nil {
		return nil, err
	}
	docs := make([]conventions.Convention, 0, len(recs))
	for _, rec := range recs {
		doc, err := DocumentOf(rec)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// decideOnly is decide without the family count.
func (a *App) decideOnly(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) (decision, error) {
	var out decision
	docs, err := a.activeConventions(ctx, collectiviteID)
	if err != nil {
		return out, err
	}
	conv, _ := conventions.Select(docs, r.Schools, r.PublishTime())
	if conv.ID != "" && hasQuota(conv) {
		if r.PublishedToday, err = a.publishedToday(ctx, conv, r.PublishTime(), exclude); err != nil {
			return out, err
		}
	}
	out.Decision = conventions.Decide(conv, r)
	out.Request, out.Convention = r, conv
	return out, nil
}

// hasQuota reports whether a daily quota applies anywhere in a convention
// (only then are the day's notices counted).
func hasQuota(c conventions.Convention) bool {
	if c.Limits.MaxPerSchoolPerDay > 0 {
		return true
	}
	return slices.ContainsFunc(c.Rules, func(r conventions.Rule) bool { return r.MaxPerSchoolPerDay > 0 })
}

// publishedToday counts, per school, the notices of the Paris day of t
// that count against the quota: categories granted only by quota-exempt
// rules do not.
func (a *App) publishedToday(ctx context.Context, conv conventions.Convention, t time.Time, exclude *store.Notice) (map[string]int, error) {
	day := conventions.ParisDay(t)
	counts, err := a.store.CountNoticesPerSchool(ctx, conv.CollectiviteID, day.Start(), day.End())
	if err != nil {
		return nil, err
	}
	counted := map[string]bool{}
	for _, cat := range countedCategories(conv) {
		counted[cat] = true
	}
	out := make(map[string]int, len(counts))
	for uai, byCat := range counts {
		for cat, n := range byCat {
			if counted[cat] {
				out[uai] += n
			}
		}
	}
	if exclude != nil && counted[exclude.Category] && conventions.ParisDay(exclude.PublishAt) == day {
		// The notice counts at every school it ever targeted (a correction
		// that takes a school out does not give its place back): leave it
		// out of all of them.
		schools := slices.Clone(exclude.Audience.Schools)
		earlier, err := a.store.NoticeVersions(ctx, exclude.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range earlier {
			schools = append(schools, v.Audience.Schools...)
		}
		slices.Sort(schools)
		for _, uai := range slices.Compact(schools) {
			if out[uai] > 0 {
				out[uai]--
			}
		}
	}
	return out, nil
}

// countedCategories are the categories whose notices count against the
// daily quota: those granted by a rule that is not quota-exempt.
func countedCategories(c conventions.Convention) []string {
	var out []string
	for _, r := range c.Rules {
		if !r.QuotaExempt {
			for _, cat := range r.Categories {
				if !slices.Contains(out, cat) {
					out = append(out, cat)
				}
			}
		}
	}
	return out
}

// dailyQuota is the quota a decided publication is stored under: the
// store counts the day's notices again in the write that inserts it, so
// that concurrent publications cannot all pass the check made before
// (nil when the convention has no quota).
func dailyQuota(d decision) *store.DailyQuota {
	if !hasQuota(d.Convention) {
		return nil
	}
	day := conventions.ParisDay(d.Request.PublishTime())
	return &store.DailyQuota{From: day.Start(), To: day.End(), Categories: countedCategories(d.Convention), Max: d.DailyQuota}
}

// titleError refuses a title with invisible or formatting characters
// (Unicode category Cf): a right-to-left override (U+202E) shows the
// title reversed in parents' feeds and push notifications, zero-width
// characters make two titles that look the same differ.
func titleError(title string) error {
	if !strings.ContainsFunc(title, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		return nil
	}
	return Err(CodeRequestValidationFailed, NewDetail("title", "field.invisible_characters",
		"Le titre contient des caractères invisibles ou de mise en forme (inversion du sens d'écriture, espace sans largeur…) : retapez-le sans les copier d'un autre document.",
		"The title contains invisible or formatting characters (writing-direction override, zero-width space…): type it again rather than pasting it."))
}

// decideRequest is the convention request of an agent's publication
// request (requestOf) and the decision on it, allowed or not.
func (a *App) decideRequest(ctx context.Context, acc *store.Account, req *PublishRequest) (conventions.Request, decision, error) {
	r, err := a.requestOf(ctx, acc, req)
	if err != nil {
		return r, decision{}, err
	}
	d, err := a.decide(ctx, acc.CollectiviteID, r, nil)
	return r, d, err
}

// requestOf builds the rules-engine request of a validated publication.
func (a *App) requestOf(ctx context.Context, acc *store.Account, req *PublishRequest) (conventions.Request, error) {
	if err := titleError(req.Title); err != nil {
		return conventions.Request{}, err
	}
	service, err := publisherService(acc, req.Service)
	if err != nil {
		return conventions.Request{}, err
	}
	req.Audience.normalize()
	if req.Priority == "" {
		req.Priority = conventions.PriorityNormal
	}
	r := conventions.Request{
		Now: a.Now(), Service: service, Category: req.Category, Priority: req.Priority,
		Schools: req.Audience.Schools, Levels: req.Audience.Levels, Classes: req.Audience.Classes,
		Enrolments: req.Audience.Enrolments, Lines: req.Audience.Lines,
		AckRequired: req.AckRequired, ExpiresAt: req.ExpiresAt.UTC().Truncate(time.Millisecond),
	}
	if req.PublishAt != nil {
		r.PublishAt = req.PublishAt.UTC().Truncate(time.Millisecond)
	}
	if ds := ContentDetails(req.Category, req.Content); len(ds) > 0 {
		return r, Err(CodeRequestValidationFailed, ds...)
	}
	if req.Push != nil {
		r.Push = *req.Push
	} else {
		// Push when the convention allows it for this category, feed only
		// otherwise: the agent need not know the difference.
		if r.Push, err = a.pushAllowed(ctx, acc.CollectiviteID, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// pushAllowed reports whether the convention would allow r with push. A
// store that cannot answer is an error, not a "no push": the publication
// is then refused (503) rather than silently sent to the feed only.
func (a *App) pushAllowed(ctx context.Context, collectiviteID string, r conventions.Request) (bool, error) {
	probe := r
	probe.Push = true
	d, err := a.decideOnly(ctx, collectiviteID, probe, nil)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

// ReasonsError is a catalog error whose details are the reasons of a
// decision (a refused publication, a convention that cannot be activated).
func ReasonsError(code Code, rs []conventions.Reason) *Error {
	ds := make([]Detail, len(rs))
	for i, r := range rs {
		ds[i] = NewDetail(r.Field, r.Code, r.FR, r.EN)
	}
	return Err(code, ds...)
}

// refusal is the error of a publication the convention refuses; it
// carries the decision.
func refusal(d decision) error {
	e := ReasonsError(CodeNoticesRefused, d.Reasons)
	e.Extra = map[string]any{"decision": d.Decision}
	return e
}

// requestHash fingerprints a publication request and the files it copies
// from another notice (nil: none): the same request sent again (a retry)
// has the same, whatever its JSON spacing or key order. Without files it
// is the fingerprint of the request alone, as stored before files could
// be copied.
func requestHash(req *PublishRequest, from *AttachmentsFrom) string {
	var b []byte
	if from == nil {
		b, _ = json.Marshal(req)
	} else {
		b, _ = json.Marshal(struct {
			Req  *PublishRequest  `json:"request"`
			From *AttachmentsFrom `json:"attachments_from"`
		}{req, from})
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// withStatus is n with its status at now (a scheduled notice whose time
// came is published, a published one past its expiry expired).
func (a *App) withStatus(n store.Notice) store.Notice {
	n.Status = n.StatusAt(a.Now())
	return n
}

// Publish publishes a notice for an agent: validated, decided by the
// collectivité's convention, counted against the daily quota in the
// step that stores it, audited. A retry with the same idempotency key
// answers with the notice already made.
func (a *App) Publish(ctx context.Context, p *Principal, req PublishRequest) (Publication, error) {
	return a.publish(ctx, p, req, nil)
}

// publish is Publish for a request that copies from's files once
// published (PublishFrom): they are part of what its idempotency key
// stands for.
func (a *App) publish(ctx context.Context, p *Principal, req PublishRequest, from *AttachmentsFrom) (Publication, error) {
	acc, err := agent(p)
	if err != nil {
		return Publication{}, err
	}
	if err := a.Validate(&req); err != nil {
		return Publication{}, err
	}
	hash := requestHash(&req, from) // as sent: before anything fills in defaults
	key := strings.TrimSpace(req.IdempotencyKey)
	if key != "" {
		if len(key) > 200 || !Identifier(key) {
			return Publication{}, Err(CodeRequestValidationFailed, NewDetail("Idempotency-Key", "field.ident",
				"La clé d'idempotence doit faire au plus 200 caractères imprimables, sans espace.",
				"The idempotency key must be at most 200 printable characters without spaces."))
		}
		if n, err := a.store.NoticeByIdempotencyKey(ctx, acc.CollectiviteID, acc.ID, key); err == nil {
			return a.replay(ctx, n, hash)
		} else if !errors.Is(err, store.ErrNotFound) {
			return Publication{}, err
		}
	}
	r, d, err := a.decideRequest(ctx, acc, &req)
	if err != nil {
		return Publication{}, err
	}
	if !d.Allowed {
		return Publication{}, refusal(d)
	}
	now := a.Now()
	n := store.Notice{
		ID: store.NewID("ntc", now), Version: 1, CollectiviteID: acc.CollectiviteID, AuthorID: acc.ID,
		Service: r.Service, Category: r.Category, Priority: r.Priority, Title: req.Title, Body: req.Body,
		Audience:  store.Audience{Schools: r.Schools, Levels: r.Levels, Classes: r.Classes, Enrolments: r.Enrolments, Lines: r.Lines},
		PublishAt: r.PublishTime(), ExpiresAt: d.ExpiresAt.UTC(), AckRequired: r.AckRequired, Push: d.Push,
		Critical: d.Critical, Status: store.NoticePublished, ConventionID: d.ConventionID,
		ConventionNumber: d.ConventionNumber, ConventionVersion: d.Version, Article: d.Article,
		IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
	}
	if key != "" {
		n.RequestHash = hash
	}
	if n.PublishAt.After(now) {
		n.Status = store.NoticeScheduled
	}
	if req.Content != nil {
		if n.Content, err = json.Marshal(req.Content); err != nil {
			return Publication{}, err
		}
	}
	entry := a.Audit(p, "notice.publish", n.ID, fmt.Sprintf("Publication « %s » (%s, convention n° %d v%d, article %s)",
		n.Title, n.Category, n.ConventionNumber, n.ConventionVersion, n.Article), n.CollectiviteID)
	err = a.store.CreateNoticeInQuota(ctx, n, dailyQuota(d), entry)
	if errors.Is(err, store.ErrQuotaReached) {
		// Another publication took the last place since the check: the
		// refusal says so with the day's count as it now is.
		return Publication{}, a.quotaRefusal(ctx, acc.CollectiviteID, r, nil)
	}
	if errors.Is(err, store.ErrConflict) && key != "" {
		// A concurrent retry with the same key won the race.
		if prev, err := a.store.NoticeByIdempotencyKey(ctx, acc.CollectiviteID, acc.ID, key); err == nil {
			return a.replay(ctx, prev, n.RequestHash)
		}
	}
	if err != nil {
		return Publication{}, err
	}
	a.NoticesChanged()
	return Publication{Notice: a.withStatus(n), Decision: d.Decision, Families: smallGroups{}.families(d.Families)}, nil
}

// quotaRefusal answers a publication, or a correction of exclude, the
// store refused for its daily quota.
func (a *App) quotaRefusal(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) error {
	d, err := a.decideOnly(ctx, collectiviteID, r, exclude)
	if err != nil {
		return err
	}
	if d.Allowed {
		// The count read again leaves room the store did not find (a
		// publication still being written): refuse all the same.
		d.Allowed = false
		d.Reasons = []conventions.Reason{{Code: conventions.CodeQuotaReached, Field: "schools",
			FR: "Le quota quotidien de publications d'un des établissements vient d'être atteint par une autre publication (les informations retirées comptent aussi).",
			EN: "The daily publication quota of one of the schools has just been reached by another publication (withdrawn notices count too)."}}
	}
	return refusal(d)
}

// replay answers a retried publication with the notice already made.
func (a *App) replay(ctx context.Context, n store.Notice, hash string) (Publication, error) {
	if n.RequestHash != "" && n.RequestHash != hash {
		return Publication{}, Err(CodeNoticesIdempotencyKeyReused)
	}
	fam, err := a.countAudience(ctx, n.Audience)
	if err != nil {
		return Publication{}, err
	}
	d := conventions.Decision{Allowed: true, ConventionID: n.ConventionID, ConventionNumber: n.ConventionNumber,
		Version: n.ConventionVersion, Article: n.Article, Critical: n.Critical, Push: n.Push, ExpiresAt: n.ExpiresAt, Rule: -1}
	return Publication{Notice: a.withStatus(n), Decision: d, Families: smallGroups{}.families(fam), Replayed: true}, nil
}

// Check decides a publication and counts the families it would reach;
// nothing is stored.
func (a *App) Check(ctx context.Context, p *Principal, req PublishRequest) (CheckResult, error) {
	acc, err := agent(p)
	if err != nil {
		return CheckResult{}, err
	}
	if err := a.Validate(&req); err != nil {
		return CheckResult{}, err
	}
	_, d, err := a.decideRequest(ctx, acc, &req)
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{Allowed: d.Allowed, Decision: d.Decision, Families: smallGroups{}.families(d.Families)}, nil
}

// Capabilities is what an agent may publish right now for service (their
// only one when empty), per active convention of their collectivité.
func (a *App) Capabilities(ctx context.Context, p *Principal, service string) (Capabilities, error) {
	acc, err := agent(p)
	if err != nil {
		return Capabilities{}, err
	}
	if service, err = publisherService(acc, service); err != nil {
		return Capabilities{}, err
	}
	docs, err := a.activeConventions(ctx, acc.CollectiviteID)
	if err != nil {
		return Capabilities{}, err
	}
	now := a.Now()
	out := Capabilities{Service: service, Items: []conventions.ServiceCapabilities{}}
	for _, doc := range docs {
		pub, err := a.publishedToday(ctx, doc, now, nil)
		if err != nil {
			return Capabilities{}, err
		}
		out.Items = append(out.Items, conventions.Capabilities(doc, service, now, pub))
	}
	return out, nil
}

// noticeFilter scopes the notices a principal may list or load: operators
// all; admins and agents their collectivité's; viewers those reaching
// their schools.
func noticeFilter(p *Principal) (store.NoticeFilter, bool) {
	switch {
	case p.Is(store.RoleOperator):
		return store.NoticeFilter{}, true
	case p.Is(store.RoleAdmin, store.RoleAgent):
		return store.NoticeFilter{CollectiviteID: p.Account.CollectiviteID}, true
	case p.Is(store.RoleViewer) && len(p.Account.Schools) > 0:
		return store.NoticeFilter{Schools: p.Account.Schools}, true
	}
	// Deny by default: an empty filter would be every notice.
	return store.NoticeFilter{}, false
}

// canRead reports whether p may read n (see noticeFilter).
func canRead(p *Principal, n store.Notice) bool {
	f, ok := noticeFilter(p)
	switch {
	case !ok:
		return false
	case f.CollectiviteID != "":
		return n.CollectiviteID == f.CollectiviteID
	case f.Schools != nil:
		return slices.ContainsFunc(n.Audience.Schools, func(u string) bool { return slices.Contains(f.Schools, u) })
	}
	return true
}

// Notices lists the notices p may read, newest first, one page.
func (a *App) Notices(ctx context.Context, p *Principal, page store.Page) ([]store.Notice, error) {
	f, ok := noticeFilter(p)
	if !ok {
		return []store.Notice{}, nil
	}
	f.Cursor, f.Limit = page.Cursor, page.Limit
	items, err := a.store.ListNotices(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i] = a.withStatus(items[i])
	}
	return items, nil
}

// Notice is one notice p may read (resource.not_found otherwise: a notice
// of another collectivité does not exist for them).
func (a *App) Notice(ctx context.Context, p *Principal, id string) (store.Notice, error) {
	n, err := a.store.GetNotice(ctx, id)
	if err != nil {
		return n, err
	}
	if !canRead(p, n) {
		return store.Notice{}, Err(CodeResourceNotFound)
	}
	return a.withStatus(n), nil
}

// NoticeWithVersions is a notice p may read (see Notice) and its earlier
// versions, oldest first.
func (a *App) NoticeWithVersions(ctx context.Context, p *Principal, id string) (store.Notice, []store.Notice, error) {
	n, err := a.Notice(ctx, p, id)
	if err != nil {
		return n, nil, err
	}
	versions, err := a.store.NoticeVersions(ctx, id)
	return n, versions, err
}

// MayChange reports whether p may correct (withdraw false) or withdraw n:
// agents of the notice's collectivité and service correct and withdraw;
// admins of the collectivité may withdraw.
func MayChange(p *Principal, n store.Notice, withdraw bool) bool {
	if p.Account == nil || p.Account.CollectiviteID != n.CollectiviteID {
		return false
	}
	switch p.Account.Role {
	case store.RoleAgent:
		return slices.Contains(p.Account.Services, n.Service)
	case store.RoleAdmin:
		return withdraw
	}
	return false
}

// MayCorrect reports whether p may correct n now: MayChange, and n is
// neither withdrawn nor expired. The back-office offers the correction
// form only then.
func (a *App) MayCorrect(p *Principal, n store.Notice) bool {
	return MayChange(p, n, false) && editable(n.StatusAt(a.Now()))
}

// MayWithdraw reports whether p may withdraw n now.
func (a *App) MayWithdraw(p *Principal, n store.Notice) bool {
	return MayChange(p, n, true) && editable(n.StatusAt(a.Now()))
}

// editable: a withdrawn or expired notice can no longer be changed.
func editable(status string) bool {
	return status != store.NoticeWithdrawn && status != store.NoticeExpired
}

// NoticeRules are the convention rules the notices were published under
// (the article of the convention version in force then), by notice ID; a
// notice whose convention or article cannot be read has none. Whoever may
// read a notice may read the rule it was published under.
func (a *App) NoticeRules(ctx context.Context, p *Principal, notices []store.Notice) (map[string]conventions.Rule, error) {
	out := map[string]conventions.Rule{}
	versions := map[string]map[int]conventions.Convention{} // convention → version → document
	for _, n := range notices {
		if !canRead(p, n) || n.ConventionID == "" {
			continue
		}
		docs, ok := versions[n.ConventionID]
		if !ok {
			docs = map[int]conventions.Convention{}
			if rec, err := a.store.GetConvention(ctx, n.ConventionID); err == nil {
				if doc, err := DocumentOf(rec); err == nil {
					docs[rec.Version] = doc
				}
				vs, err := a.store.ConventionVersions(ctx, rec.ID)
				if err != nil {
					return nil, err
				}
				for _, v := range vs {
					if doc, err := conventions.ParseDocument(v.Doc); err == nil {
						docs[v.Version] = doc
					}
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			versions[n.ConventionID] = docs
		}
		for _, rule := range docs[n.ConventionVersion].Rules {
			if rule.Article == n.Article {
				out[n.ID] = rule
				break
			}
		}
	}
	return out, nil
}

// changeable loads a notice p may change (correct, or withdraw).
func (a *App) changeable(ctx context.Context, p *Principal, id string, withdraw bool) (store.Notice, error) {
	n, err := a.store.GetNotice(ctx, id)
	if err != nil {
		return n, err
	}
	if !canRead(p, n) {
		return store.Notice{}, Err(CodeResourceNotFound)
	}
	if !MayChange(p, n, withdraw) {
		return store.Notice{}, Err(CodeAuthForbidden)
	}
	return n, nil
}

// Correct makes a new version of a published or scheduled notice: the
// correction is checked against the convention again, and the schools it
// adds against their daily quota in the step that stores it.
func (a *App) Correct(ctx context.Context, p *Principal, id string, req CorrectionRequest) (Publication, error) {
	if err := a.Validate(&req); err != nil {
		return Publication{}, err
	}
	n, err := a.changeable(ctx, p, id, false)
	if err != nil {
		return Publication{}, err
	}
	now := a.Now()
	if !editable(n.StatusAt(now)) {
		return Publication{}, Err(CodeNoticesNotEditable)
	}
	next := n
	if req.Title != nil {
		if err := titleError(*req.Title); err != nil {
			return Publication{}, err
		}
		next.Title = *req.Title
	}
	if req.Body != nil {
		next.Body = *req.Body
	}
	if req.Priority != nil {
		next.Priority = *req.Priority
	}
	if req.Audience != nil {
		req.Audience.normalize()
		next.Audience = req.Audience.audience()
	}
	if req.ExpiresAt != nil {
		next.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	if req.AckRequired != nil {
		next.AckRequired = *req.AckRequired
	}
	if req.Content != nil {
		if ds := ContentDetails(n.Category, req.Content); len(ds) > 0 {
			return Publication{}, Err(CodeRequestValidationFailed, ds...)
		}
		if next.Content, err = json.Marshal(req.Content); err != nil {
			return Publication{}, err
		}
	}
	if !changesFeed(n, next) {
		return Publication{}, Err(CodeRequestValidationFailed, NewDetail("", "notices.nothing_changed",
			"La correction ne change rien à l'information : modifiez le titre, le texte, la date de fin, le public ou le contenu.",
			"The correction changes nothing in the notice: change its title, text, end date, audience or content."))
	}
	r := conventions.Request{Now: now, Service: n.Service, Category: n.Category, Priority: next.Priority,
		Schools: next.Audience.Schools, Levels: next.Audience.Levels, Classes: next.Audience.Classes,
		Enrolments: next.Audience.Enrolments, Lines: next.Audience.Lines, Push: n.Push, AckRequired: next.AckRequired, PublishAt: n.PublishAt, ExpiresAt: next.ExpiresAt}
	d, err := a.decide(ctx, n.CollectiviteID, r, &n)
	if err != nil {
		return Publication{}, err
	}
	if !d.Allowed {
		return Publication{}, refusal(d)
	}
	next.Version = n.Version + 1
	next.Critical = d.Critical
	next.ConventionID, next.ConventionNumber, next.ConventionVersion, next.Article = d.ConventionID, d.ConventionNumber, d.Version, d.Article
	next.CorrectionReason = req.Reason
	next.UpdatedAt = now
	pushed := repush(n, &next, now)
	entry := a.Audit(p, "notice.correct", n.ID, fmt.Sprintf("Correction de « %s » (version %d) : %s", n.Title, next.Version, req.Reason), n.CollectiviteID)
	err = a.store.UpdateNoticeInQuota(ctx, next, n.Version, dailyQuota(d), entry)
	if errors.Is(err, store.ErrQuotaReached) {
		return Publication{}, a.quotaRefusal(ctx, n.CollectiviteID, r, &n)
	}
	if err != nil {
		return Publication{}, err
	}
	a.NoticesChanged()
	// The decision's push, for a correction: whether this version goes
	// out as a push (see repush).
	d.Decision.Push = pushed
	return Publication{Notice: a.withStatus(next), Decision: d.Decision, Families: smallGroups{}.families(d.Families)}, nil
}

// changesFeed reports whether a correction next of n changes anything
// parents see (a correction that changes only its reason is refused: it
// would be a new version, in the feed and possibly pushed, for nothing).
func changesFeed(n, next store.Notice) bool {
	return next.Title != n.Title || next.Body != n.Body || next.Priority != n.Priority ||
		!next.ExpiresAt.Equal(n.ExpiresAt) || next.AckRequired != n.AckRequired ||
		!sameSet(next.Audience.Schools, n.Audience.Schools) || !sameSet(next.Audience.Levels, n.Audience.Levels) ||
		!sameSet(next.Audience.Classes, n.Audience.Classes) || !sameSet(next.Audience.Enrolments, n.Audience.Enrolments) ||
		!sameSet(next.Audience.Lines, n.Audience.Lines) || !sameJSON(next.Content, n.Content)
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet[S ~string](a, b []S) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// sameJSON reports whether two JSON documents hold the same value (both
// empty: no content).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// repush decides whether the correction next of n goes out as a push,
// setting next's pushed version: every correction is a new version in the
// feed, but only one that changes what a notification shows (title, text,
// priority) is pushed again, and at most one a Paris day per notice —
// otherwise a notice under a daily quota of one would reach families'
// devices as many times as it is corrected. A correction not pushed again
// keeps the pushed version before it, whose fan-out goes on (showing the
// corrected notice). A notice not yet published is pushed when its time
// comes, corrected: its pending push carries the correction.
func repush(n store.Notice, next *store.Notice, now time.Time) bool {
	next.PushVersion, next.RepushedAt = n.PushedVersion(), n.RepushedAt
	switch {
	case !n.Push:
		return false
	case n.StatusAt(now) == store.NoticeScheduled:
		return true
	case next.Title == n.Title && next.Body == n.Body && next.Priority == n.Priority:
		return false
	case n.RepushedAt != nil && conventions.ParisDay(*n.RepushedAt) == conventions.ParisDay(now):
		return false
	}
	next.PushVersion, next.RepushedAt = next.Version, &now
	return true
}

// Withdraw withdraws a notice: parents no longer see it; it still counts
// against the day's quota (its push may have gone out).
func (a *App) Withdraw(ctx context.Context, p *Principal, id string, req WithdrawRequest) (store.Notice, error) {
	if err := a.Validate(&req); err != nil {
		return store.Notice{}, err
	}
	n, err := a.changeable(ctx, p, id, true)
	if err != nil {
		return n, err
	}
	now := a.Now()
	if !editable(n.StatusAt(now)) {
		return store.Notice{}, Err(CodeNoticesNotEditable)
	}
	next := n
	next.Status = store.NoticeWithdrawn
	next.WithdrawnAt = &now
	next.WithdrawReason = req.Reason
	next.UpdatedAt = now
	entry := a.Audit(p, "notice.withdraw", n.ID, fmt.Sprintf("Retrait de « %s » : %s", n.Title, req.Reason), n.CollectiviteID)
	if err := a.store.UpdateNotice(ctx, next, n.Version, entry); err != nil {
		return store.Notice{}, err
	}
	a.NoticesChanged()
	return a.withStatus(next), nil
}
