package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type audienceBody struct {
	Schools []string `json:"schools" validate:"required,min=1,max=500,unique,dive,uai"`
	Levels  []string `json:"levels,omitempty" validate:"max=4,unique,dive,level"`
	Classes []string `json:"classes,omitempty" validate:"max=40,unique,dive,min=1,max=32,text"`
}

// noticeRequest is a publication (POST /v1/notices and /v1/notices/check).
type noticeRequest struct {
	Service     string         `json:"service,omitempty" validate:"omitempty,service"`
	Category    string         `json:"category" validate:"required,category"`
	Priority    string         `json:"priority,omitempty" validate:"omitempty,priority"`
	Title       string         `json:"title" validate:"required,min=3,max=120,text"`
	Body        string         `json:"body,omitempty" validate:"max=2000,multiline"`
	Audience    audienceBody   `json:"audience"`
	PublishAt   *time.Time     `json:"publish_at,omitempty"`
	ExpiresAt   *time.Time     `json:"expires_at" validate:"required"`
	AckRequired bool           `json:"ack_required,omitempty"`
	Push        *bool          `json:"push,omitempty"`
	Content     *noticeContent `json:"content,omitempty"`
}

// correctionRequest changes a published or scheduled notice; omitted
// fields keep their value. The reason is shown to parents.
type correctionRequest struct {
	Reason      string         `json:"reason" validate:"required,min=3,max=500,multiline"`
	Priority    *string        `json:"priority,omitempty" validate:"omitempty,priority"`
	Title       *string        `json:"title,omitempty" validate:"omitempty,min=3,max=120,text"`
	Body        *string        `json:"body,omitempty" validate:"omitempty,max=2000,multiline"`
	Audience    *audienceBody  `json:"audience,omitempty"`
	ExpiresAt   *time.Time     `json:"expires_at,omitempty"`
	AckRequired *bool          `json:"ack_required,omitempty"`
	Content     *noticeContent `json:"content,omitempty"`
}

// Families, in both answers, is the families the audience reaches, as
// the small-group rule gives it (reach.go).
type publishAnswer struct {
	Notice   noticeView           `json:"notice"`
	Decision conventions.Decision `json:"decision"`
	Families figure               `json:"families"`
	Replayed bool                 `json:"replayed,omitempty"`
}

type checkAnswer struct {
	Allowed  bool                 `json:"allowed"`
	Decision conventions.Decision `json:"decision"`
	Families figure               `json:"families"`
}

// view shows a notice with its status at the time of the request.
func (s *Server) view(n store.Notice) noticeView {
	n.Status = n.StatusAt(s.utcNow())
	return viewNotice(n)
}

// publisher is the agent (or machine client) publishing, and the service
// it publishes for.
func publisherService(c *fiber.Ctx, asked string) (string, error) {
	acc := principal(c).Account
	if asked == "" {
		if len(acc.Services) == 1 {
			return acc.Services[0], nil
		}
		return "", app.Err(app.CodeRequestValidationFailed, app.NewDetail("service", "field.required",
			"Précisez le service au nom duquel vous publiez : "+strings.Join(acc.Services, ", ")+".",
			"Say which service you publish for: "+strings.Join(acc.Services, ", ")+"."))
	}
	if !slices.Contains(acc.Services, asked) {
		return "", app.Err(app.CodeAuthForbidden, app.NewDetail("service", "notices.service_not_yours",
			"Votre compte n'appartient pas à ce service.", "Your account does not belong to this service."))
	}
	return asked, nil
}

// decision is everything a publication check computes.
type decision struct {
	conventions.Decision
	Request    conventions.Request
	Convention conventions.Convention
	Families   familyCount
}

// decide loads the collectivité's active conventions, picks the one for
// the audience and asks the rules engine. exclude, when not nil, is a
// notice whose own quota count must not count (a correction).
//
// The family count covers only the audience's schools that the selected
// convention (one of the collectivité's own) covers: a check naming
// another collectivité's schools must not count their families.
func (s *Server) decide(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) (decision, error) {
	d, err := s.decideOnly(ctx, collectiviteID, r, exclude)
	if err != nil {
		return d, err
	}
	covered := slices.DeleteFunc(slices.Clone(r.Schools), func(uai string) bool {
		return !slices.ContainsFunc(d.Convention.Schools, func(sc conventions.School) bool { return sc.UAI == uai })
	})
	if len(covered) == 0 {
		return d, nil
	}
	d.Families, err = s.countAudience(ctx, store.Audience{Schools: covered, Levels: r.Levels, Classes: r.Classes})
	return d, err
}

// decideOnly is decide without the family count.
func (s *Server) decideOnly(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) (decision, error) {
	var out decision
	recs, err := s.store.ListConventions(ctx, store.ConventionFilter{CollectiviteID: collectiviteID, Status: store.ConventionActive, Page: store.Page{Limit: maxPageSize}})
	if err != nil {
		return out, err
	}
	docs := make([]conventions.Convention, 0, len(recs))
	for _, rec := range recs {
		doc, err := documentOf(rec)
		if err != nil {
			return out, err
		}
		docs = append(docs, doc)
	}
	conv, _ := conventions.Select(docs, r.Schools, r.PublishTime())
	if conv.ID != "" && hasQuota(conv) {
		if r.PublishedToday, err = s.publishedToday(ctx, conv, r.PublishTime(), exclude); err != nil {
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
func (s *Server) publishedToday(ctx context.Context, conv conventions.Convention, t time.Time, exclude *store.Notice) (map[string]int, error) {
	day := conventions.ParisDay(t)
	counts, err := s.store.CountNoticesPerSchool(ctx, conv.CollectiviteID, day.Start(), day.End())
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
		for _, uai := range exclude.Audience.Schools {
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
	return app.Err(app.CodeRequestValidationFailed, app.NewDetail("title", "field.invisible_characters",
		"Le titre contient des caractères invisibles ou de mise en forme (inversion du sens d'écriture, espace sans largeur…) : retapez-le sans les copier d'un autre document.",
		"The title contains invisible or formatting characters (writing-direction override, zero-width space…): type it again rather than pasting it."))
}

// requestOf builds the rules-engine request of a publication.
func (s *Server) requestOf(c *fiber.Ctx, req *noticeRequest) (conventions.Request, error) {
	if err := titleError(req.Title); err != nil {
		return conventions.Request{}, err
	}
	service, err := publisherService(c, req.Service)
	if err != nil {
		return conventions.Request{}, err
	}
	for i := range req.Audience.Schools {
		req.Audience.Schools[i] = frenchid.NormalizeUAI(req.Audience.Schools[i])
	}
	req.Audience.Classes = frenchid.NormalizeClasses(req.Audience.Classes)
	if req.Priority == "" {
		req.Priority = conventions.PriorityNormal
	}
	now := s.utcNow()
	r := conventions.Request{
		Now: now, Service: service, Category: req.Category, Priority: req.Priority,
		Schools: req.Audience.Schools, Levels: req.Audience.Levels, Classes: req.Audience.Classes,
		AckRequired: req.AckRequired, ExpiresAt: req.ExpiresAt.UTC().Truncate(time.Millisecond),
	}
	if req.PublishAt != nil {
		r.PublishAt = req.PublishAt.UTC().Truncate(time.Millisecond)
	}
	if ds := contentDetails(req.Category, req.Content); len(ds) > 0 {
		return r, app.Err(app.CodeRequestValidationFailed, ds...)
	}
	if req.Push != nil {
		r.Push = *req.Push
	} else {
		// Push when the convention allows it for this category, feed only
		// otherwise: the agent need not know the difference.
		if r.Push, err = s.pushAllowed(c.UserContext(), principal(c).Account.CollectiviteID, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// pushAllowed reports whether the convention would allow r with push. A
// store that cannot answer is an error, not a "no push": the publication
// is then refused (503) rather than silently sent to the feed only.
func (s *Server) pushAllowed(ctx context.Context, collectiviteID string, r conventions.Request) (bool, error) {
	probe := r
	probe.Push = true
	d, err := s.decideOnly(ctx, collectiviteID, probe, nil)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

func refusal(d decision) error {
	e := reasonsError(app.CodeNoticesRefused, d.Reasons)
	e.Extra = map[string]any{"decision": d.Decision}
	return e
}

// publishNotice is POST /v1/notices.
func (s *Server) publishNotice(c *fiber.Ctx) error {
	var req noticeRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	acc := principal(c).Account
	ctx := c.UserContext()
	hash := requestHash(&req) // as sent: before anything fills in defaults
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if key != "" {
		if len(key) > 200 || !app.Identifier(key) {
			return app.Err(app.CodeRequestValidationFailed, app.NewDetail("Idempotency-Key", "field.ident",
				"La clé d'idempotence doit faire au plus 200 caractères imprimables, sans espace.",
				"The idempotency key must be at most 200 printable characters without spaces."))
		}
		if n, err := s.store.NoticeByIdempotencyKey(ctx, acc.CollectiviteID, acc.ID, key); err == nil {
			return s.replay(c, n, hash)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	r, err := s.requestOf(c, &req)
	if err != nil {
		return err
	}
	d, err := s.decide(ctx, acc.CollectiviteID, r, nil)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return refusal(d)
	}
	now := s.utcNow()
	n := store.Notice{
		ID: store.NewID("ntc", now), Version: 1, CollectiviteID: acc.CollectiviteID, AuthorID: acc.ID,
		Service: r.Service, Category: r.Category, Priority: r.Priority, Title: req.Title, Body: req.Body,
		Audience:  store.Audience{Schools: r.Schools, Levels: r.Levels, Classes: r.Classes},
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
			return err
		}
	}
	a := s.auditEntry(c, "notice.publish", n.ID, fmt.Sprintf("Publication « %s » (%s, convention n° %d v%d, article %s)",
		n.Title, n.Category, n.ConventionNumber, n.ConventionVersion, n.Article), n.CollectiviteID)
	err = s.store.CreateNoticeInQuota(ctx, n, dailyQuota(d), a)
	if errors.Is(err, store.ErrQuotaReached) {
		// Another publication took the last place since the check: the
		// refusal says so with the day's count as it now is.
		return s.quotaRefusal(ctx, acc.CollectiviteID, r, nil)
	}
	if errors.Is(err, store.ErrConflict) && key != "" {
		// A concurrent retry with the same key won the race.
		if prev, err := s.store.NoticeByIdempotencyKey(ctx, acc.CollectiviteID, acc.ID, key); err == nil {
			return s.replay(c, prev, n.RequestHash)
		}
	}
	if err != nil {
		return err
	}
	s.noticesChanged()
	return c.Status(fiber.StatusCreated).JSON(publishAnswer{Notice: s.view(n), Decision: d.Decision, Families: smallGroups{Lang(c)}.families(d.Families)})
}

// quotaRefusal answers a publication, or a correction of exclude, the
// store refused for its daily quota.
func (s *Server) quotaRefusal(ctx context.Context, collectiviteID string, r conventions.Request, exclude *store.Notice) error {
	d, err := s.decideOnly(ctx, collectiviteID, r, exclude)
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
func (s *Server) replay(c *fiber.Ctx, n store.Notice, hash string) error {
	if n.RequestHash != "" && n.RequestHash != hash {
		return app.Err(app.CodeNoticesIdempotencyKeyReused)
	}
	fam, err := s.countAudience(c.UserContext(), n.Audience)
	if err != nil {
		return err
	}
	d := conventions.Decision{Allowed: true, ConventionID: n.ConventionID, ConventionNumber: n.ConventionNumber,
		Version: n.ConventionVersion, Article: n.Article, Critical: n.Critical, Push: n.Push, ExpiresAt: n.ExpiresAt, Rule: -1}
	c.Set("Idempotent-Replayed", "true")
	return c.Status(fiber.StatusOK).JSON(publishAnswer{Notice: s.view(n), Decision: d, Families: smallGroups{Lang(c)}.families(fam), Replayed: true})
}

// requestHash fingerprints a publication request: the same request sent
// again (a retry) has the same, whatever its JSON spacing or key order.
func requestHash(req *noticeRequest) string {
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkNotice is POST /v1/notices/check: the same decision and audience
// count, nothing stored.
func (s *Server) checkNotice(c *fiber.Ctx) error {
	var req noticeRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	r, err := s.requestOf(c, &req)
	if err != nil {
		return err
	}
	d, err := s.decide(c.UserContext(), principal(c).Account.CollectiviteID, r, nil)
	if err != nil {
		return err
	}
	return c.JSON(checkAnswer{Allowed: d.Allowed, Decision: d.Decision, Families: smallGroups{Lang(c)}.families(d.Families)})
}

// capabilities is GET /v1/notices/capabilities: what the caller may publish
// right now, per active convention of the collectivité.
func (s *Server) capabilities(c *fiber.Ctx) error {
	service, err := publisherService(c, c.Query("service"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	acc := principal(c).Account
	recs, err := s.store.ListConventions(ctx, store.ConventionFilter{CollectiviteID: acc.CollectiviteID, Status: store.ConventionActive, Page: store.Page{Limit: maxPageSize}})
	if err != nil {
		return err
	}
	now := s.utcNow()
	items := []conventions.ServiceCapabilities{}
	for _, rec := range recs {
		doc, err := documentOf(rec)
		if err != nil {
			return err
		}
		pub, err := s.publishedToday(ctx, doc, now, nil)
		if err != nil {
			return err
		}
		items = append(items, conventions.Capabilities(doc, service, now, pub))
	}
	return c.JSON(fiber.Map{"service": service, "items": items})
}

// noticeFilter scopes the notices the caller may list or load: operators
// all; admins and agents their collectivité's; viewers those reaching
// their schools.
func noticeFilter(p *app.Principal) (store.NoticeFilter, bool) {
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

func canRead(p *app.Principal, n store.Notice) bool {
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

func (s *Server) listNotices(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	f, ok := noticeFilter(principal(c))
	if !ok {
		return c.JSON(newList([]noticeView{}, 0, func(v noticeView) string { return v.ID }))
	}
	f.Cursor, f.Limit = p.Cursor, p.Limit
	items, err := s.store.ListNotices(c.UserContext(), f)
	if err != nil {
		return err
	}
	views := make([]noticeView, len(items))
	for i, n := range items {
		views[i] = s.view(n)
	}
	return c.JSON(newList(views, p.Limit, func(v noticeView) string { return v.ID }))
}

func (s *Server) loadNotice(c *fiber.Ctx) (store.Notice, error) {
	n, err := s.store.GetNotice(c.UserContext(), c.Params("id"))
	if err != nil {
		return n, err
	}
	if !canRead(principal(c), n) {
		return n, app.Err(app.CodeResourceNotFound)
	}
	return n, nil
}

func (s *Server) getNotice(c *fiber.Ctx) error {
	n, err := s.loadNotice(c)
	if err != nil {
		return err
	}
	versions, err := s.store.NoticeVersions(c.UserContext(), n.ID)
	if err != nil {
		return err
	}
	v := s.view(n)
	v.Versions = viewAll(versions, viewNotice)
	return c.JSON(v)
}

// mayChange: agents of the notice's collectivité and service correct and
// withdraw; admins of the collectivité may withdraw.
func mayChange(p *app.Principal, n store.Notice, withdraw bool) bool {
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

func (s *Server) correctNotice(c *fiber.Ctx) error {
	var req correctionRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	n, err := s.loadNotice(c)
	if err != nil {
		return err
	}
	if !mayChange(principal(c), n, false) {
		return app.Err(app.CodeAuthForbidden)
	}
	now := s.utcNow()
	if st := n.StatusAt(now); st == store.NoticeWithdrawn || st == store.NoticeExpired {
		return app.Err(app.CodeNoticesNotEditable)
	}
	next := n
	if req.Title != nil {
		if err := titleError(*req.Title); err != nil {
			return err
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
		for i := range req.Audience.Schools {
			req.Audience.Schools[i] = frenchid.NormalizeUAI(req.Audience.Schools[i])
		}
		req.Audience.Classes = frenchid.NormalizeClasses(req.Audience.Classes)
		next.Audience = store.Audience{Schools: req.Audience.Schools, Levels: req.Audience.Levels, Classes: req.Audience.Classes}
	}
	if req.ExpiresAt != nil {
		next.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	if req.AckRequired != nil {
		next.AckRequired = *req.AckRequired
	}
	if req.Content != nil {
		if ds := contentDetails(n.Category, req.Content); len(ds) > 0 {
			return app.Err(app.CodeRequestValidationFailed, ds...)
		}
		if next.Content, err = json.Marshal(req.Content); err != nil {
			return err
		}
	}
	// A correction is checked against the convention again.
	r := conventions.Request{Now: now, Service: n.Service, Category: n.Category, Priority: next.Priority,
		Schools: next.Audience.Schools, Levels: next.Audience.Levels, Classes: next.Audience.Classes,
		Push: n.Push, AckRequired: next.AckRequired, PublishAt: n.PublishAt, ExpiresAt: next.ExpiresAt}
	d, err := s.decide(c.UserContext(), n.CollectiviteID, r, &n)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return refusal(d)
	}
	next.Version = n.Version + 1
	next.Critical = d.Critical
	next.ConventionID, next.ConventionNumber, next.ConventionVersion, next.Article = d.ConventionID, d.ConventionNumber, d.Version, d.Article
	next.CorrectionReason = req.Reason
	next.UpdatedAt = now
	a := s.auditEntry(c, "notice.correct", n.ID, fmt.Sprintf("Correction de « %s » (version %d) : %s", n.Title, next.Version, req.Reason), n.CollectiviteID)
	// The schools a correction adds are counted against their quota in
	// the step that writes it, as a publication is.
	err = s.store.UpdateNoticeInQuota(c.UserContext(), next, n.Version, dailyQuota(d), a)
	if errors.Is(err, store.ErrQuotaReached) {
		return s.quotaRefusal(c.UserContext(), n.CollectiviteID, r, &n)
	}
	if err != nil {
		return err
	}
	s.noticesChanged()
	return c.JSON(publishAnswer{Notice: s.view(next), Decision: d.Decision, Families: smallGroups{Lang(c)}.families(d.Families)})
}

func (s *Server) withdrawNotice(c *fiber.Ctx) error {
	var req reasonBody
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	n, err := s.loadNotice(c)
	if err != nil {
		return err
	}
	if !mayChange(principal(c), n, true) {
		return app.Err(app.CodeAuthForbidden)
	}
	if n.Status == store.NoticeWithdrawn {
		return app.Err(app.CodeNoticesNotEditable)
	}
	now := s.utcNow()
	next := n
	next.Status = store.NoticeWithdrawn
	next.WithdrawnAt = &now
	next.WithdrawReason = req.Reason
	next.UpdatedAt = now
	a := s.auditEntry(c, "notice.withdraw", n.ID, fmt.Sprintf("Retrait de « %s » : %s", n.Title, req.Reason), n.CollectiviteID)
	if err := s.store.UpdateNotice(c.UserContext(), next, n.Version, a); err != nil {
		return err
	}
	s.noticesChanged()
	return c.JSON(s.view(next))
}
