package admin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// composeForm is the compose form's state, as typed.
type composeForm struct {
	Service, Category, Priority, Title, Body string
	Schools                                  []string
	Levels                                   []conventions.Level
	Classes                                  string
	// Enrolments and Lines: the families enrolled in these services, of
	// these transport lines (typed "S12 S14").
	Enrolments           []string
	Lines                string
	AckRequired          bool
	Mode                 string // "now" or "later"
	PublishAt, ExpiresAt string // datetime-local, Paris
	Menu                 []menuDayForm
	Transport            transportForm
	// Key identifies this form's publication (sent as the API's
	// Idempotency-Key): a second click, or the browser sending the form
	// again, answers with the notice already published.
	Key string
	// AttachFrom is the notice this one starts from when it has files,
	// and AttachIDs those of its files ticked to be copied onto the new
	// notice once it is published (app.PublishFrom).
	AttachFrom string
	AttachIDs  []string
}

type menuDayForm struct {
	Date      string
	NoService bool
	Note      string
	Dishes    []dishForm
}

type dishForm struct {
	Course, Name      string
	Allergens, Labels []string
}

type transportForm struct {
	Line, Stops, From, To, Replacement, Cause string
}

// Menu editor shape: five school days × these courses.
var (
	menuCourses = []string{"entree", "plat", "accompagnement", "laitage", "dessert"}
	menuLabels  = []string{"bio", "local", "label_rouge", "aop", "peche_durable", "vegetarien", "fait_maison"}
)

const menuDays = 5

// expiryDefaults: how long a notice of each category usually stays useful.
var expiryDefaults = map[string]time.Duration{
	conventions.CategoryCantine:      7 * 24 * time.Hour,
	conventions.CategoryTransport:    24 * time.Hour,
	conventions.CategoryPeriscolaire: 14 * 24 * time.Hour,
	conventions.CategoryEtudes:       14 * 24 * time.Hour,
	conventions.CategoryBatiment:     3 * 24 * time.Hour,
	conventions.CategoryCulture:      14 * 24 * time.Hour,
	conventions.CategoryAlerte:       2 * 24 * time.Hour,
}

// schoolOpt is a school the form offers.
type schoolOpt struct {
	UAI, Name string
	Level     conventions.Level
	Remaining int // -1 unlimited
}

// Full: today's quota is reached for this school.
func (s schoolOpt) Full() bool { return s.Remaining == 0 }

// capsView is what the form may offer, from GET /v1/notices/capabilities.
type capsView struct {
	Service    string
	Services   []string
	Categories []string
	Schools    []schoolOpt
	Levels     []conventions.Level
	AnyLevel   bool
	Urgent     bool
	Ack        bool
	Push       bool
	Critical   bool
	MaxExpires time.Time
	Articles   []string
	Reasons    []string // why nothing may be published
}

// checkView is the answer of POST /v1/notices/check, for people.
type checkView struct {
	Allowed bool
	// Families is the count of families reached, as the page prints it
	// (never a number from 1 to 4); FamiliesValue the number, when given.
	Families         string
	FamiliesValue    *int
	Article          string
	ConventionNumber int
	Version          int
	Push, Critical   bool
	Reasons          []string
	Invalid          bool // the API refused the request itself (422…)
}

type previewView struct {
	Title, Body, Category, Priority, Collectivite string
	Push, Critical, Ack                           bool
	Menu                                          []menuDayForm
	Transport                                     transportForm
	StopList                                      []string
}

type composeData struct {
	Form       composeForm
	Caps       capsView
	Check      *checkView
	Preview    previewView
	Allergens  []struct{ Code, FR, EN string }
	DishLabels []string
	Courses    []string
	Choose     bool // pick a category first
	// From is the notice this one starts from ("Dupliquer", next week's
	// menu), when it does.
	From *reusedFrom
	// SourceFiles are the files of the notice the form starts from, each
	// with its box « Reprendre cette pièce jointe ».
	SourceFiles []sourceFile
}

// sourceFile is a file of the notice a compose form starts from.
type sourceFile struct {
	ID, Label, Alt string
	Image, Checked bool
}

// sourceFiles lists the files of the notice f starts from, ticked as f
// says; none when f starts from none or it cannot be read.
func (r *rq) sourceFiles(f composeForm) []sourceFile {
	if f.AttachFrom == "" {
		return nil
	}
	n, err := r.a.core.Notice(r.c.UserContext(), r.principal(), f.AttachFrom)
	if err != nil {
		return nil
	}
	var out []sourceFile
	for _, at := range n.Attachments {
		out = append(out, sourceFile{ID: at.ID, Label: fileLabel(at, r.lang), Alt: at.Alt, Image: app.IsImage(at.ContentType),
			Checked: hasString(f.AttachIDs, at.ID)})
	}
	return out
}

// fileLabel is a file's name, type and size: « Autorisation (PDF, 12 Ko) »,
// « sortie.png (PNG, 3 Ko) ».
func fileLabel(at store.Attachment, lang string) string {
	if !app.IsImage(at.ContentType) {
		return app.AttachmentLabel(at.Name, at.Size, lang)
	}
	kind := "PNG"
	if at.ContentType == app.TypeJPEG {
		kind = "JPEG"
	}
	return at.Name + " (" + kind + ", " + app.AttachmentSize(at.Size, lang) + ")"
}

// attachmentsFrom is what the form asks to copy from the notice it
// starts from (nil: nothing ticked).
func (f composeForm) attachmentsFrom() *app.AttachmentsFrom {
	if f.AttachFrom == "" || len(f.AttachIDs) == 0 {
		return nil
	}
	return &app.AttachmentsFrom{NoticeID: f.AttachFrom, IDs: f.AttachIDs}
}

// reusedFrom names the notice a compose form starts from.
type reusedFrom struct {
	ID, Title string
	NextWeek  bool
}

func catIndex(c string) int {
	for i, x := range conventions.Categories {
		if x == c {
			return i
		}
	}
	return 99
}

// narrow fills the options of one category from the capabilities.
func (r *rq) narrow(cv *capsView, category string, raw []conventions.ServiceCapabilities, names map[string]string) {
	schools := map[string]*schoolOpt{}
	levels := map[conventions.Level]bool{}
	for _, it := range raw {
		cc, ok := it.Category(category)
		if !ok {
			continue
		}
		for _, g := range cc.Grants {
			cv.Articles = append(cv.Articles, g.Article)
			if g.MaxPriority == conventions.PriorityUrgent {
				cv.Urgent = true
			}
			cv.Ack = cv.Ack || g.AckAllowed
			cv.Push = cv.Push || g.Push
			cv.Critical = cv.Critical || g.Critical
			if !g.MaxExpiresAt.IsZero() && (cv.MaxExpires.IsZero() || g.MaxExpiresAt.After(cv.MaxExpires)) {
				cv.MaxExpires = g.MaxExpiresAt
			}
			if len(g.Levels) == 0 {
				cv.AnyLevel = true
			}
			for _, l := range g.Levels {
				levels[l] = true
			}
			for _, s := range g.Schools {
				if o, ok := schools[s.UAI]; ok {
					if o.Remaining >= 0 && (s.Remaining < 0 || s.Remaining > o.Remaining) {
						o.Remaining = s.Remaining
					}
					continue
				}
				schools[s.UAI] = &schoolOpt{UAI: s.UAI, Name: names[s.UAI], Level: s.Level, Remaining: s.Remaining}
				switch s.Level {
				case conventions.LevelPrimaire:
					if len(g.Levels) == 0 {
						levels[conventions.LevelMaternelle], levels[conventions.LevelElementaire] = true, true
					}
				default:
					if len(g.Levels) == 0 && s.Level != "" {
						levels[s.Level] = true
					}
				}
			}
		}
	}
	for _, s := range schools {
		if s.Name == "" {
			s.Name = s.UAI
		}
		cv.Schools = append(cv.Schools, *s)
	}
	sort.Slice(cv.Schools, func(i, j int) bool { return cv.Schools[i].Name < cv.Schools[j].Name })
	for _, l := range conventions.Levels {
		if levels[l] {
			cv.Levels = append(cv.Levels, l)
		}
	}
}

// loadCompose fetches capabilities and school names for the form.
func (r *rq) loadCompose(f *composeForm) (composeData, error) {
	d := composeData{Form: *f, Allergens: app.Allergens, DishLabels: menuLabels, Courses: menuCourses}
	out, err := r.a.core.Capabilities(r.c.UserContext(), r.principal(), f.Service)
	if err != nil {
		if ae, ok := r.uiError(err); ok && ae.Status < 500 && len(r.acc.Services) > 1 && f.Service == "" {
			// Several services: ask which one first.
			d.Caps.Services = r.acc.Services
			d.Choose = true
			return d, nil
		}
		return d, err
	}
	cv, _ := r.capsFrom(out.Service, out.Items)
	schools, err := r.schools(2000)
	if err != nil {
		return d, err
	}
	names := map[string]string{}
	for _, s := range schools {
		names[s.UAI] = s.Name
	}
	if f.Category == "" && len(cv.Categories) == 1 {
		f.Category = cv.Categories[0]
	}
	if f.Category != "" && !hasString(cv.Categories, f.Category) {
		f.Category = ""
	}
	if f.Category == "" {
		d.Choose = true
	} else {
		r.narrow(&cv, f.Category, out.Items, names)
	}
	f.Service = cv.Service
	d.Caps = cv
	d.Form = *f
	return d, nil
}

func (r *rq) capsFrom(service string, items []conventions.ServiceCapabilities) (capsView, error) {
	cv := capsView{Service: service, Services: r.acc.Services}
	seen := map[string]bool{}
	for _, it := range items {
		for _, rs := range it.Reasons {
			cv.Reasons = append(cv.Reasons, r.L(rs.FR, rs.EN))
		}
		for _, cc := range it.Categories {
			if !seen[cc.Category] {
				seen[cc.Category] = true
				cv.Categories = append(cv.Categories, cc.Category)
			}
		}
	}
	if len(items) == 0 {
		cv.Reasons = append(cv.Reasons, r.L("Aucune convention n'est en vigueur pour votre collectivité : rien ne peut être publié.", "No convention is in force for your local authority: nothing can be published."))
	}
	sort.SliceStable(cv.Categories, func(i, j int) bool { return catIndex(cv.Categories[i]) < catIndex(cv.Categories[j]) })
	return cv, nil
}

func hasString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// defaultForm is a fresh form: next week's menu days, a sensible expiry.
func (a *Admin) defaultForm(category string) composeForm {
	now := a.now().In(paris)
	f := composeForm{Category: category, Priority: conventions.PriorityNormal, Mode: "now", Key: formKey()}
	d := expiryDefaults[category]
	if d == 0 {
		d = 7 * 24 * time.Hour
	}
	// Expire at the end of the day the default duration reaches.
	end := now.Add(d)
	f.ExpiresAt = dtLocal(time.Date(end.Year(), end.Month(), end.Day(), 23, 59, 0, 0, paris))
	f.PublishAt = dtLocal(now.Add(time.Hour).Truncate(time.Hour))
	f.Menu = weekMenu(now)
	monday := mondayAfter(now)
	if category == conventions.CategoryCantine {
		// Expire once the menu's week is over.
		fri := monday.AddDate(0, 0, 4)
		f.ExpiresAt = dtLocal(time.Date(fri.Year(), fri.Month(), fri.Day(), 23, 59, 0, 0, paris))
	}
	return f
}

// formKey is a new compose form's publication key.
func formKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "bo-" + hex.EncodeToString(b)
}

// mondayAfter is the first Monday after t's day.
func mondayAfter(t time.Time) time.Time {
	monday := t.AddDate(0, 0, (8-int(t.Weekday()))%7)
	if monday.YearDay() == t.YearDay() {
		monday = monday.AddDate(0, 0, 7)
	}
	return monday
}

// weekMenu is an empty menu for the school week after t: five days, a slot
// per usual course.
func weekMenu(t time.Time) []menuDayForm {
	monday := mondayAfter(t)
	var menu []menuDayForm
	for i := 0; i < menuDays; i++ {
		day := menuDayForm{Date: monday.AddDate(0, 0, i).Format(time.DateOnly)}
		for _, c := range menuCourses {
			day.Dishes = append(day.Dishes, dishForm{Course: c})
		}
		menu = append(menu, day)
	}
	return menu
}

// parseTransport reads the transport disruption part of a posted form.
func parseTransport(c *fiber.Ctx) transportForm {
	return transportForm{Line: strings.TrimSpace(c.FormValue("content.transport.line")), Stops: c.FormValue("content.transport.stops"),
		From: c.FormValue("content.transport.from"), To: c.FormValue("content.transport.to"),
		Replacement: strings.TrimSpace(c.FormValue("content.transport.replacement")), Cause: strings.TrimSpace(c.FormValue("content.transport.cause"))}
}

// formValues are the non-empty values of a repeated form field, trimmed.
func formValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		if s := strings.TrimSpace(string(v)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseCompose reads the posted form.
func parseCompose(c *fiber.Ctx) composeForm {
	f := composeForm{
		Service: c.FormValue("service"), Category: c.FormValue("category"), Priority: c.FormValue("priority"),
		Title: strings.TrimSpace(c.FormValue("title")), Body: strings.TrimSpace(strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n")),
		Schools: formValues(c, "audience.schools"), Levels: conventions.LevelsOf(formValues(c, "audience.levels")), Classes: c.FormValue("audience.classes"),
		Enrolments: formValues(c, "audience.enrolments"), Lines: c.FormValue("audience.lines"),
		AckRequired: c.FormValue("ack_required") == "on", Mode: c.FormValue("mode"),
		PublishAt: c.FormValue("publish_at"), ExpiresAt: c.FormValue("expires_at"),
		Transport:  parseTransport(c),
		Key:        strings.TrimSpace(c.FormValue("form_key")),
		AttachFrom: strings.TrimSpace(c.FormValue("attachments.from")),
		AttachIDs:  formValues(c, "attachments.ids"),
	}
	f.Menu = parseMenu(c, menuDays)
	return f
}

// menuCourseSet are the courses the API knows (goûter too, which the
// compose form does not offer but a menu published through the API may
// have, and a correction keeps).
var menuCourseSet = map[string]bool{"entree": true, "plat": true, "accompagnement": true, "laitage": true, "dessert": true, "gouter": true}

// maxMenuDays and maxDishes bound what a posted menu form is read for (the
// API's own limits).
const (
	maxMenuDays = 7
	maxDishes   = 12
)

// parseMenu reads the menu part of a posted form: at least days days
// (those of the compose form), up to maxMenuDays when the form has more
// (a correction shows a menu's own days). A dish's course is its hidden
// course field when the form has one, else the compose form's course of
// its slot.
func parseMenu(c *fiber.Ctx, days int) []menuDayForm {
	args := c.Request().PostArgs()
	var menu []menuDayForm
	for i := 0; i < maxMenuDays; i++ {
		p := fmt.Sprintf("menu.%d.", i)
		if i >= days && !args.Has(p+"date") {
			break
		}
		day := menuDayForm{Date: c.FormValue(p + "date"), NoService: c.FormValue(p+"no_service") == "on",
			Note: strings.TrimSpace(c.FormValue(p + "note"))}
		for j := 0; j < maxDishes; j++ {
			dp := fmt.Sprintf("%s%d.", p, j)
			course := c.FormValue(dp + "course")
			if !menuCourseSet[course] {
				if j >= len(menuCourses) {
					break
				}
				course = menuCourses[j]
			}
			day.Dishes = append(day.Dishes, dishForm{Course: course, Name: strings.TrimSpace(c.FormValue(dp + "name")),
				Allergens: formValues(c, dp+"allergens"), Labels: formValues(c, dp+"labels")})
		}
		menu = append(menu, day)
	}
	return menu
}

// request is the publication the form describes; menu and transport
// only for their category and only when filled in.
func (f composeForm) request() app.PublishRequest {
	req := app.PublishRequest{Service: f.Service, Category: f.Category, Priority: f.Priority, Title: f.Title, Body: f.Body,
		AckRequired: f.AckRequired, IdempotencyKey: f.Key,
		Audience: app.AudienceRequest{Schools: nonNil(f.Schools), Levels: f.Levels}}
	if cls := strings.Fields(strings.ReplaceAll(f.Classes, ",", " ")); len(cls) > 0 {
		req.Audience.Classes = cls
	}
	req.Audience.Enrolments = f.Enrolments
	if lines := strings.Fields(strings.ReplaceAll(f.Lines, ",", " ")); len(lines) > 0 {
		req.Audience.Lines = lines
	}
	if t, ok := parseLocal(f.ExpiresAt); ok {
		t = t.UTC()
		req.ExpiresAt = &t
	}
	if f.Mode == "later" {
		if t, ok := parseLocal(f.PublishAt); ok {
			t = t.UTC()
			req.PublishAt = &t
		}
	}
	req.Content = contentRequest(f.Category, f.Menu, f.Transport)
	return req
}

// contentRequest is a notice's structured content from the form's menu
// (canteen notices) or transport disruption (transport notices); nil when
// nothing is filled in.
func contentRequest(category string, menu []menuDayForm, t transportForm) *app.NoticeContent {
	var content app.NoticeContent
	if category == conventions.CategoryCantine {
		var days []app.MenuDay
		for _, d := range menu {
			var dishes []app.Dish
			for _, x := range d.Dishes {
				if x.Name != "" {
					dishes = append(dishes, app.Dish{Course: x.Course, Name: x.Name, Allergens: x.Allergens, Labels: x.Labels})
				}
			}
			if len(dishes) == 0 && !d.NoService {
				continue
			}
			day := app.MenuDay{Date: d.Date, Note: d.Note, NoService: d.NoService}
			if !d.NoService {
				day.Dishes = dishes
			}
			days = append(days, day)
		}
		if len(days) > 0 {
			content.Menu = &app.MenuContent{Days: days}
		}
	}
	if category == conventions.CategoryTransport && t.Line != "" {
		tr := &app.TransportContent{Line: t.Line, Stops: splitLines(t.Stops), Replacement: t.Replacement, Cause: t.Cause}
		if v, ok := parseLocal(t.From); ok {
			v = v.UTC()
			tr.From = &v
		}
		if v, ok := parseLocal(t.To); ok {
			v = v.UTC()
			tr.To = &v
		}
		content.Transport = tr
	}
	if content.Menu == nil && content.Transport == nil {
		return nil
	}
	return &content
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// composeFields are the form's field paths errors can be tied to.
func composeFields(f composeForm) map[string]bool {
	known := map[string]bool{"service": true, "category": true, "priority": true, "title": true, "body": true,
		"audience.schools": true, "audience.levels": true, "audience.classes": true, "expires_at": true, "publish_at": true,
		"audience.enrolments": true, "audience.lines": true,
		"ack_required": true, "content.menu": true, "content.transport": true, "content.transport.line": true,
		"content.transport.stops": true, "content.transport.from": true, "content.transport.to": true,
		"content.transport.replacement": true, "content.transport.cause": true, "attachments.ids": true}
	return known
}

// composeAliases: the decision's field names → the form's.
var composeAliases = map[string]string{
	"schools": "audience.schools", "levels": "audience.levels", "classes": "audience.classes",
	"enrolments": "audience.enrolments", "lines": "audience.lines",
	"ack": "ack_required", "push": "priority", "now": "publish_at", "audience": "audience.schools",
	"content.menu.days": "content.menu",
	"attachments_from":  "attachments.ids", "attachments_from.ids": "attachments.ids",
}

func (r *rq) preview(f composeForm, cv capsView) previewView {
	p := previewView{Title: f.Title, Body: f.Body, Category: f.Category, Priority: f.Priority, Push: cv.Push, Critical: cv.Critical,
		Ack: f.AckRequired, Transport: f.Transport, StopList: splitLines(f.Transport.Stops)}
	if p.Title == "" {
		p.Title = r.L("Titre de l'information", "Notice title")
	}
	if f.Category == conventions.CategoryCantine {
		for _, d := range f.Menu {
			var dishes []dishForm
			for _, x := range d.Dishes {
				if x.Name != "" {
					dishes = append(dishes, x)
				}
			}
			if len(dishes) > 0 || d.NoService {
				p.Menu = append(p.Menu, menuDayForm{Date: d.Date, NoService: d.NoService, Dishes: dishes})
			}
		}
	}
	if cols, err := r.collectivites(1); err == nil && len(cols) > 0 {
		p.Collectivite = cols[0].Name
	}
	return p
}

func (a *Admin) composeForm(r *rq) error {
	if id := r.c.Query("depuis"); id != "" {
		return a.reuseForm(r, id, r.c.Query("semaine") == "suivante")
	}
	f := a.defaultForm(r.c.Query("categorie"))
	f.Service = r.c.Query("service")
	d, err := r.loadCompose(&f)
	if err != nil {
		return a.failurePage(r, err)
	}
	if f.Category != "" && r.c.Query("categorie") == "" {
		// Only one category: defaults for it.
		nf := a.defaultForm(f.Category)
		nf.Service = f.Service
		f = nf
	}
	if len(d.Caps.Schools) > 0 && len(f.Schools) == 0 {
		for _, s := range d.Caps.Schools {
			if !s.Full() {
				f.Schools = append(f.Schools, s.UAI)
			}
		}
	}
	d.Form = f
	d.Preview = r.preview(f, d.Caps)
	return a.render(r, fiber.StatusOK, "compose", r.L("Rédiger une information", "Compose a notice"), formErrors{}, d)
}

// reuseForm is the compose form of a new notice made from notice id
// (app.Reuse): ?depuis=ID, and &semaine=suivante for the following
// week's menu. Nothing is published until the agent checks and sends it.
func (a *Admin) reuseForm(r *rq, id string, nextWeek bool) error {
	draft, err := a.core.ReuseDraft(r.c.UserContext(), r.principal(), app.ReuseRequest{NoticeID: id, NextWeek: nextWeek})
	if err != nil {
		return a.failurePage(r, err)
	}
	f := formFromRequest(draft.Request, a.now())
	if len(draft.Attachments) > 0 {
		// Its files, ticked to duplicate a notice, not for the following
		// week's menu.
		f.AttachFrom, f.AttachIDs = draft.From.NoticeID, draft.From.IDs
	}
	d, err := r.loadCompose(&f)
	if err != nil {
		return a.failurePage(r, err)
	}
	if model, err := a.core.Notice(r.c.UserContext(), r.principal(), id); err == nil {
		d.From = &reusedFrom{ID: id, Title: model.Title, NextWeek: nextWeek}
	}
	d.Form = f
	d.SourceFiles = r.sourceFiles(f)
	d.Preview = r.preview(f, d.Caps)
	return a.render(r, fiber.StatusOK, "compose", r.L("Rédiger une information", "Compose a notice"), formErrors{}, d)
}

// formFromRequest is the compose form of a publication request (a
// reused notice's), with a new publication key; a canteen notice without
// a menu gets the empty menu of the week after now.
func formFromRequest(req app.PublishRequest, now time.Time) composeForm {
	f := composeForm{Service: req.Service, Category: req.Category, Priority: req.Priority, Title: req.Title, Body: req.Body,
		Schools: req.Audience.Schools, Levels: req.Audience.Levels, Classes: strings.Join(req.Audience.Classes, ", "),
		Enrolments: req.Audience.Enrolments, Lines: strings.Join(req.Audience.Lines, " "),
		AckRequired: req.AckRequired, Mode: "now", Key: formKey()}
	if req.ExpiresAt != nil {
		f.ExpiresAt = dtLocal(*req.ExpiresAt)
	}
	if req.PublishAt != nil {
		f.Mode, f.PublishAt = "later", dtLocal(*req.PublishAt)
	}
	if c := req.Content; c != nil {
		raw, _ := json.Marshal(c)
		menu, tr := decodeContent(raw)
		f.Menu = menuSlots(menu)
		if tr != nil {
			f.Transport = *tr
			f.Transport.From, f.Transport.To = localOf(tr.From), localOf(tr.To)
		}
	}
	if f.Category == conventions.CategoryCantine && len(f.Menu) == 0 {
		f.Menu = weekMenu(now.In(paris))
	}
	return f
}

// check asks whether the form would be accepted, and how many families
// it reaches.
func (r *rq) check(f composeForm) (*checkView, formErrors) {
	ans, err := r.a.core.Check(r.c.UserContext(), r.principal(), f.request())
	if err != nil {
		fe := mapErrors(r.uiErr(err), composeFields(f), composeAliases)
		return &checkView{Invalid: true, Reasons: summaryMessages(fe)}, fe
	}
	fam := r.show("", "", ans.Families)
	cv := &checkView{Allowed: ans.Allowed, Families: fam.Text, Article: ans.Decision.Article,
		ConventionNumber: ans.Decision.ConventionNumber, Version: ans.Decision.Version, Push: ans.Decision.Push, Critical: ans.Decision.Critical}
	if !fam.Withheld {
		cv.FamiliesValue = ans.Families.Value
	}
	var fe formErrors
	if !ans.Allowed {
		rs := make([]reason, len(ans.Decision.Reasons))
		for i, x := range ans.Decision.Reasons {
			rs[i] = reason{Code: x.Code, Field: x.Field, Article: x.Article, FR: x.FR, EN: x.EN}
			cv.Reasons = append(cv.Reasons, r.L(x.FR, x.EN))
		}
		fe = reasonErrors(r.L("La convention ne permet pas cette publication.", "The convention does not allow this publication."), rs, r.lang, composeFields(f), composeAliases)
	}
	return cv, fe
}

func summaryMessages(fe formErrors) []string {
	var out []string
	for _, s := range fe.Summary {
		out = append(out, s.Message)
	}
	if len(out) == 0 && fe.Message != "" {
		out = append(out, fe.Message)
	}
	return out
}

// composeCheck is the "Vérifier" button (and the live check of the
// progressive script, which asks for the panel alone).
func (a *Admin) composeCheck(r *rq) error {
	f := parseCompose(r.c)
	live := r.c.Get("X-Liaison-Live") == "1"
	if live && len([]rune(f.Title)) < 3 {
		f.Title = r.L("Aperçu", "Preview")
	}
	d, err := r.loadCompose(&f)
	if err != nil {
		return a.failurePage(r, err)
	}
	var fe formErrors
	if !d.Choose {
		d.Check, fe = r.check(f)
	}
	d.SourceFiles = r.sourceFiles(f)
	d.Preview = r.preview(f, d.Caps)
	if live {
		v := view{Lang: r.lang, D: d, Errs: fe}
		return a.execute(r, fiber.StatusOK, "compose", "checkpanel", v)
	}
	return a.render(r, fiber.StatusOK, "compose", r.L("Rédiger une information", "Compose a notice"), fe, d)
}

func (a *Admin) composePublish(r *rq) error {
	f := parseCompose(r.c)
	ans, notCopied, err := a.core.PublishFrom(r.c.UserContext(), r.principal(), f.request(), f.attachmentsFrom())
	if err == nil {
		ok := "published"
		if ans.Notice.Status == store.NoticeScheduled {
			ok = "scheduled"
		}
		to := fmt.Sprintf("/admin/informations/%s?ok=%s", ans.Notice.ID, ok)
		if v := ans.Families.Value; v != nil { // no count from 1 to 4, not even in the URL
			to += "&familles=" + strconv.Itoa(*v)
		}
		if len(notCopied) > 0 {
			// The notice page says which files were not copied, and why.
			to += "&depuis=" + url.QueryEscape(f.AttachFrom)
			for _, nc := range notCopied {
				to += "&non_copiee=" + url.QueryEscape(nc.Attachment.ID+":"+nc.Err.Code.String())
			}
		}
		return r.c.Redirect(to, fiber.StatusSeeOther)
	}
	ae, ok := r.uiError(err)
	if !ok || ae.Status >= 500 {
		return a.failurePage(r, err)
	}
	d, lerr := r.loadCompose(&f)
	if lerr != nil {
		return a.failurePage(r, lerr)
	}
	fe := mapErrors(ae, composeFields(f), composeAliases)
	if ae.Code == app.CodeNoticesIdempotencyKeyReused.String() {
		// Published from this form already, then changed: say so, and let
		// a new click publish the form as it is now, as a new notice.
		fe = formErrors{Message: r.L("Une information a déjà été publiée depuis ce formulaire, avant vos dernières modifications. Pour publier celle-ci comme une nouvelle information, cliquez à nouveau sur « Publier ».",
			"A notice was already published from this form, before your last changes. To publish this one as a new notice, click “Publish” again.")}
		d.Form.Key = formKey()
	}
	if dec, ok := decisionOf(err); ok {
		d.Check = &checkView{Allowed: false}
		for _, x := range dec.Reasons {
			d.Check.Reasons = append(d.Check.Reasons, r.L(x.FR, x.EN))
		}
	}
	d.SourceFiles = r.sourceFiles(f)
	d.Preview = r.preview(f, d.Caps)
	return a.render(r, ae.Status, "compose", r.L("Rédiger une information", "Compose a notice"), fe, d)
}

// decisionOf is the convention decision a refused publication carries.
func decisionOf(err error) (conventions.Decision, bool) {
	var e *app.Error
	if !errors.As(err, &e) {
		return conventions.Decision{}, false
	}
	d, ok := e.Extra["decision"].(conventions.Decision)
	return d, ok
}
