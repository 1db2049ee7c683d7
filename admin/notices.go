package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

type noticeRow struct {
	store.Notice
	CollectiviteName string
	SchoolNames      []string
	Rule             string // the convention article, described
	CanChange        bool
}

type noticeListData struct {
	Rows       []noticeRow
	NextCursor string
	Viewer     bool
}

// ruleText describes a convention rule in one line: "Restauration
// scolaire : cantine — priorité normale, notification".
func ruleText(lang string, r conventions.Rule) string {
	var svc, cats []string
	for _, s := range r.Services {
		svc = append(svc, conventions.ServiceLabel(s, lang))
	}
	for _, c := range r.Categories {
		cats = append(cats, conventions.CategoryLabel(c, lang))
	}
	prio := r.MaxPriority
	if prio == "" {
		prio = conventions.PriorityNormal
	}
	push := "notification"
	if !r.Push {
		push = map[string]string{"fr": "fil seulement", "en": "feed only"}[lang]
	}
	if lang == "en" {
		return fmt.Sprintf("%s: %s — highest priority %s, %s", strings.Join(svc, ", "), strings.Join(cats, ", "), conventions.PriorityLabel(prio, lang), push)
	}
	return fmt.Sprintf("%s : %s — priorité maximale %s, %s", strings.Join(svc, ", "), strings.Join(cats, ", "), conventions.PriorityLabel(prio, lang), push)
}

// articleOf is the text of the convention article behind a notice, in the
// version it was published under ("" when that convention cannot be read
// or lacks the article). cache keeps each convention's versions, loaded
// once per page.
func (r *rq) articleOf(cache map[string]map[int]conventions.Convention, n store.Notice) string {
	vers, ok := cache[n.ConventionID]
	if !ok {
		vers = map[int]conventions.Convention{}
		var cv struct {
			conventions.Convention
			Versions []struct {
				Version  int                    `json:"version"`
				Document conventions.Convention `json:"document"`
			} `json:"versions"`
		}
		if err := r.api("GET", "/v1/conventions/"+n.ConventionID, nil, &cv); err == nil {
			vers[cv.Version] = cv.Convention
			for _, v := range cv.Versions {
				vers[v.Version] = v.Document
			}
		}
		cache[n.ConventionID] = vers
	}
	doc, ok := vers[n.ConventionVersion]
	if !ok {
		return ""
	}
	for _, rule := range doc.Rules {
		if rule.Article == n.Article {
			return ruleText(r.lang, rule)
		}
	}
	return ""
}

func (r *rq) names() (cols map[string]string, schools map[string]string) {
	cols, schools = map[string]string{}, map[string]string{}
	if cs, err := listAll[store.Collectivite](r, "/v1/collectivites", 5000); err == nil {
		for _, c := range cs {
			cols[c.ID] = c.Name
		}
	}
	if ss, err := listAll[store.School](r, "/v1/schools", 20000); err == nil {
		for _, s := range ss {
			schools[s.UAI] = s.Name
		}
	}
	return cols, schools
}

func mayChange(acc *store.Account, n store.Notice, withdraw bool) bool {
	if n.CollectiviteID != acc.CollectiviteID || n.Status == store.NoticeWithdrawn || n.Status == store.NoticeExpired {
		return false
	}
	switch acc.Role {
	case store.RoleAgent:
		return hasString(acc.Services, n.Service)
	case store.RoleAdmin:
		return withdraw
	}
	return false
}

func (a *Admin) noticeList(r *rq) error {
	var page struct {
		Items      []store.Notice `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	if err := r.api("GET", q("/v1/notices", "limit", "50", "cursor", r.c.Query("cursor")), nil, &page); err != nil {
		return a.apiFailure(r, err)
	}
	cols, schools := r.names()
	viewer := r.acc.Role == store.RoleViewer
	cache := map[string]map[int]conventions.Convention{}
	d := noticeListData{NextCursor: page.NextCursor, Viewer: viewer}
	for _, n := range page.Items {
		row := noticeRow{Notice: n, CollectiviteName: cols[n.CollectiviteID], CanChange: mayChange(r.acc, n, true)}
		if row.CollectiviteName == "" {
			row.CollectiviteName = n.CollectiviteID
		}
		for _, u := range n.Audience.Schools {
			if nm := schools[u]; nm != "" {
				row.SchoolNames = append(row.SchoolNames, nm)
			} else {
				row.SchoolNames = append(row.SchoolNames, u)
			}
		}
		if viewer || r.acc.Role == store.RoleAdmin || r.acc.Role == store.RoleOperator {
			row.Rule = r.articleOf(cache, n)
		}
		d.Rows = append(d.Rows, row)
	}
	title := r.L("Informations publiées", "Published notices")
	if viewer {
		title = r.L("Informations publiées auprès des familles de vos écoles", "Notices published to the families of your schools")
	}
	return a.render(r, fiber.StatusOK, "notices", title, formErrors{}, d)
}

// noticeContent decodes a notice's structured content: a menu or a
// transport disruption.
type noticeContent struct {
	Menu *struct {
		Days []struct {
			Date      string `json:"date"`
			NoService bool   `json:"no_service"`
			Note      string `json:"note"`
			Dishes    []struct {
				Course    string   `json:"course"`
				Name      string   `json:"name"`
				Allergens []string `json:"allergens"`
				Labels    []string `json:"labels"`
			} `json:"dishes"`
		} `json:"days"`
	} `json:"menu"`
	Transport *struct {
		Line        string   `json:"line"`
		Stops       []string `json:"stops"`
		From        *string  `json:"from"`
		To          *string  `json:"to"`
		Replacement string   `json:"replacement"`
		Cause       string   `json:"cause"`
	} `json:"transport"`
}

func decodeContent(raw json.RawMessage) (menu []menuDayForm, tr *transportForm) {
	if len(raw) == 0 {
		return nil, nil
	}
	var c noticeContent
	if json.Unmarshal(raw, &c) != nil {
		return nil, nil
	}
	if c.Menu != nil {
		for _, d := range c.Menu.Days {
			day := menuDayForm{Date: d.Date, NoService: d.NoService, Note: d.Note}
			for _, x := range d.Dishes {
				day.Dishes = append(day.Dishes, dishForm{Course: x.Course, Name: x.Name, Allergens: x.Allergens, Labels: x.Labels})
			}
			menu = append(menu, day)
		}
	}
	if t := c.Transport; t != nil {
		tr = &transportForm{Line: t.Line, Stops: strings.Join(t.Stops, "\n"), Replacement: t.Replacement, Cause: t.Cause}
		if t.From != nil {
			tr.From = *t.From
		}
		if t.To != nil {
			tr.To = *t.To
		}
	}
	return menu, tr
}

// apiFigure is a count as the API gives it: {"value": n, "label": "n"},
// or {"value": null, "label": "moins de 5"} when it is withheld under the
// small-group rule. A counter the API gives as a plain number is read as a
// figure with that value and no label.
type apiFigure struct {
	Value *int
	Label string
}

func (f *apiFigure) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = apiFigure{}
		return nil
	case len(b) > 0 && b[0] == '{':
		var v struct {
			Value *int   `json:"value"`
			Label string `json:"label"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = apiFigure{Value: v.Value, Label: v.Label}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a figure is a number or {value, label}: %w", err)
	}
	*f = apiFigure{Value: &n}
	return nil
}

// shownFigure is one figure of the notice page: its label, what the page
// shows, and the key the browser tests find it by (data-figure).
type shownFigure struct {
	Key   string // e.g. "stats.pushes.accepted", "reach.0801001D.cp.read"
	Label string // what it counts, in the page's language
	Text  string // the number, or the API's words for a withheld figure
	// Withheld: the API gave no number (the text is its label).
	Withheld bool
}

// show is what the page prints for a figure. A withheld figure shows the
// API's label ("moins de 5"). A plain number from 1 to 4 (a counter the API
// did not run through the small-group rule) is not printed either: the
// page never shows a figure about fewer than 5 families.
func (r *rq) show(key, label string, f apiFigure) shownFigure {
	out := shownFigure{Key: key, Label: label}
	switch {
	case f.Value == nil:
		out.Text, out.Withheld = f.Label, true
		if out.Text == "" {
			out.Text = r.L("non communiqué", "not given")
		}
	case f.Label == "" && *f.Value > 0 && *f.Value < minFamilies:
		out.Text, out.Withheld = r.L("moins de 5", "fewer than 5"), true
	case f.Label != "":
		out.Text = f.Label // the range a rounded figure stands for ("20 à 24")
	default:
		out.Text = strconv.Itoa(*f.Value)
	}
	return out
}

// minFamilies is the smallest count the page prints (the API's small-group
// rule: no figure about 1 to 4 families).
const minFamilies = 5

// noticeStatsView is GET /v1/notices/{id}/stats. Every counter may be a
// plain number or a {value, label} figure; a counter the API leaves out
// (null, or absent when the audience is too small) is not shown.
type noticeStatsView struct {
	NoticeID           string     `json:"notice_id"`
	FamiliesTargeted   *apiFigure `json:"families_targeted"`
	Withheld           bool       `json:"withheld"`
	Message            string     `json:"message"`
	FamiliesSubscribed *apiFigure `json:"families_subscribed"`
	Pushes             *struct {
		Targeted  *apiFigure `json:"targeted"`
		Accepted  *apiFigure `json:"accepted"`
		Deferred  *apiFigure `json:"deferred"`
		Muted     *apiFigure `json:"muted"`
		Cancelled *apiFigure `json:"cancelled"`
	} `json:"pushes"`
	Failed       map[string]*apiFigure `json:"failed"`
	Shown        *apiFigure            `json:"shown"`
	Clicked      *apiFigure            `json:"clicked"`
	Read         *apiFigure            `json:"read"`
	Acknowledged *apiFigure            `json:"acknowledged"`
}

// failureLabels names the reasons a push failed (webpush outcomes).
var failureLabels = map[string][2]string{
	"gone":          {"abonnement expiré ou supprimé", "subscription expired or removed"},
	"throttled":     {"service de notification saturé", "push service throttling"},
	"too_large":     {"message trop long", "message too large"},
	"auth_rejected": {"clé du serveur refusée", "server key refused"},
	"bad_request":   {"requête refusée", "request refused"},
	"transient":     {"erreur temporaire", "temporary error"},
	"invalid":       {"abonnement inutilisable", "unusable subscription"},
}

// statFigures lists the stats counters in reading order, labelled.
func (r *rq) statFigures(st noticeStatsView) []shownFigure {
	var out []shownFigure
	add := func(key, fr, en string, f *apiFigure) {
		if f != nil {
			out = append(out, r.show("stats."+key, r.L(fr, en), *f))
		}
	}
	add("families_targeted", "Familles ciblées", "Families targeted", st.FamiliesTargeted)
	add("families_subscribed", "Familles abonnées aux notifications", "Families subscribed to notifications", st.FamiliesSubscribed)
	if p := st.Pushes; p != nil {
		add("pushes.targeted", "Notifications à envoyer (appareils abonnés)", "Notifications to send (subscribed devices)", p.Targeted)
		add("pushes.accepted", "Notifications remises au service de notification", "Notifications handed to the push service", p.Accepted)
		add("pushes.deferred", "Notifications différées (heures calmes)", "Notifications deferred (quiet hours)", p.Deferred)
		add("pushes.muted", "Notifications non envoyées (catégorie désactivée par la famille)", "Notifications not sent (category muted by the family)", p.Muted)
		add("pushes.cancelled", "Notifications annulées (information retirée, expirée ou corrigée)", "Notifications cancelled (notice withdrawn, expired or corrected)", p.Cancelled)
	}
	reasons := make([]string, 0, len(st.Failed))
	for k := range st.Failed {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		why, ok := failureLabels[k]
		if !ok {
			why = [2]string{strings.ReplaceAll(k, "_", " "), strings.ReplaceAll(k, "_", " ")}
		}
		add("failed."+k, "Notifications en échec : "+why[0], "Notifications failed: "+why[1], st.Failed[k])
	}
	add("shown", "Notifications affichées sur un appareil", "Notifications shown on a device", st.Shown)
	add("clicked", "Notifications ouvertes", "Notifications opened", st.Clicked)
	add("read", "Familles ayant lu l'information", "Families who read the notice", st.Read)
	add("acknowledged", "Familles ayant accusé lecture", "Families who acknowledged it", st.Acknowledged)
	return out
}

// reachGroupView is one school and level of GET /v1/notices/{id}/reach.
type reachGroupView struct {
	UAI          string    `json:"uai"`
	School       string    `json:"school"`
	Level        string    `json:"level"`
	Families     apiFigure `json:"families"`
	Read         apiFigure `json:"read"`
	Acknowledged apiFigure `json:"acknowledged"`
	NotReached   apiFigure `json:"not_reached"`
}

// noticeReachView is GET /v1/notices/{id}/reach.
type noticeReachView struct {
	NoticeID string           `json:"notice_id"`
	MinGroup int              `json:"min_group"`
	Groups   []reachGroupView `json:"groups"`
	// NotReached repeats the groups with families who have not read yet.
	NotReached []reachGroupView `json:"not_reached"`
	Note       string           `json:"note"`
}

// reachRow is one line of the per-school reach table.
type reachRow struct {
	UAI, School, Level string
	Cells              []shownFigure
}

// reachColumns are the figures of a reach group, in the table's order.
func (r *rq) reachColumns() []string {
	return []string{r.L("Familles ciblées", "Families targeted"), r.L("Ont lu", "Have read"),
		r.L("Ont accusé lecture", "Have acknowledged"), r.L("Non atteintes", "Not reached")}
}

// reachRows turns the API's groups into table rows (school names from the
// API, else from the list of schools, else the UAI).
func (r *rq) reachRows(v noticeReachView, schools map[string]string) []reachRow {
	cols := r.reachColumns()
	var rows []reachRow
	for _, g := range v.Groups {
		row := reachRow{UAI: g.UAI, School: g.School, Level: conventions.LevelLabel(g.Level, r.lang)}
		if row.School == "" {
			row.School = orUAI(schools[g.UAI], g.UAI)
		}
		key := "reach." + g.UAI + "." + g.Level + "."
		for i, f := range []struct {
			k string
			v apiFigure
		}{{"families", g.Families}, {"read", g.Read}, {"acknowledged", g.Acknowledged}, {"not_reached", g.NotReached}} {
			row.Cells = append(row.Cells, r.show(key+f.k, cols[i], f.v))
		}
		rows = append(rows, row)
	}
	return rows
}

type noticeDetailData struct {
	N            store.Notice
	Versions     []store.Notice
	Collectivite string
	Schools      []schoolOpt
	Rule         string
	Menu         []menuDayForm
	Transport    *transportForm
	StopList     []string
	Families     string
	CanCorrect   bool
	CanWithdraw  bool
	Stats        []shownFigure
	StatsMissing bool
	// StatsHidden: the person's role may not read the delivery figures
	// (the school side reads /reach only).
	StatsHidden bool
	// StatsWithheld is the API's explanation when the audience is too
	// small for any figure.
	StatsWithheld string
	Reach         []reachRow
	ReachCols     []string
	ReachNote     string
	ReachMissing  bool
	Correct       correctForm
}

type correctForm struct {
	Reason, Title, Body, Priority, ExpiresAt string
	AckRequired                              bool
	Urgent                                   bool
	// ContentKind is "menu" (canteen notices) or "transport" (transport
	// notices): the form then edits that content too.
	ContentKind string
	HadContent  bool
	Menu        []menuDayForm
	Transport   transportForm
	Allergens   []struct{ Code, FR, EN string }
	DishLabels  []string
}

// reachOf loads the notice's stats and reach, decoded as the API gives
// them; an error (the route is not there, or nothing is measured yet) is
// "unavailable", a 403 (a role that may not read the delivery figures)
// hides them.
func (r *rq) reachOf(d *noticeDetailData, schools map[string]string) {
	var st noticeStatsView
	if err := r.api("GET", "/v1/notices/"+d.N.ID+"/stats", nil, &st); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == fiber.StatusForbidden {
			d.StatsHidden = true
		} else {
			d.StatsMissing = true
		}
	} else {
		if st.Withheld {
			d.StatsWithheld = st.Message
		}
		d.Stats = r.statFigures(st)
	}
	var reach noticeReachView
	if err := r.api("GET", "/v1/notices/"+d.N.ID+"/reach", nil, &reach); err != nil {
		d.ReachMissing = true
	} else {
		d.ReachCols, d.Reach, d.ReachNote = r.reachColumns(), r.reachRows(reach, schools), reach.Note
	}
}

func (a *Admin) loadNoticeDetail(r *rq) (noticeDetailData, error) {
	var d noticeDetailData
	var n struct {
		store.Notice
		Versions []store.Notice `json:"versions"`
	}
	if err := r.api("GET", "/v1/notices/"+r.c.Params("id"), nil, &n); err != nil {
		return d, err
	}
	d.N, d.Versions = n.Notice, n.Versions
	cols, schools := r.names()
	d.Collectivite = cols[n.CollectiviteID]
	for _, u := range n.Audience.Schools {
		d.Schools = append(d.Schools, schoolOpt{UAI: u, Name: orUAI(schools[u], u)})
	}
	d.Rule = r.articleOf(map[string]map[int]conventions.Convention{}, n.Notice)
	d.Menu, d.Transport = decodeContent(n.Content)
	if d.Transport != nil {
		d.StopList = splitLines(d.Transport.Stops)
	}
	d.CanCorrect = mayChange(r.acc, n.Notice, false)
	d.CanWithdraw = mayChange(r.acc, n.Notice, true)
	// The family count the compose page passes on after publishing: a
	// number only, never one from 1 to 4, and rounded down to 5 as the
	// API gives it.
	if n, err := strconv.Atoi(r.c.Query("familles")); err == nil && n >= 0 {
		d.Families = r.show("", "", apiFigure{Value: &n}).Text
		if n >= minFamilies {
			lo := n - n%minFamilies
			d.Families = fmt.Sprintf(r.L("%d à %d", "%d to %d"), lo, lo+minFamilies-1)
		}
	}
	d.Correct = correctForm{Title: n.Title, Body: n.Body, Priority: n.Priority, ExpiresAt: dtLocal(n.ExpiresAt), AckRequired: n.AckRequired,
		Urgent: n.Priority == conventions.PriorityUrgent, HadContent: len(d.Menu) > 0 || d.Transport != nil}
	d.Correct.setContent(n.Notice, d.Menu, d.Transport)
	if d.CanCorrect {
		// Offer "urgent" only when the service may publish urgent notices
		// in this category now.
		var caps struct {
			Items []conventions.ServiceCapabilities `json:"items"`
		}
		if r.api("GET", q("/v1/notices/capabilities", "service", n.Service), nil, &caps) == nil {
			for _, it := range caps.Items {
				if cc, ok := it.Category(n.Category); ok {
					for _, g := range cc.Grants {
						if g.MaxPriority == conventions.PriorityUrgent {
							d.Correct.Urgent = true
						}
					}
				}
			}
		}
	}
	r.reachOf(&d, schools)
	return d, nil
}

func orUAI(name, uai string) string {
	if name == "" {
		return uai
	}
	return name
}

func (a *Admin) noticeDetail(r *rq) error {
	d, err := a.loadNoticeDetail(r)
	if err != nil {
		return a.apiFailure(r, err)
	}
	return a.render(r, fiber.StatusOK, "notice", d.N.Title, formErrors{}, d)
}

func (a *Admin) noticePaper(r *rq) error {
	d, err := a.loadNoticeDetail(r)
	if err != nil {
		return a.apiFailure(r, err)
	}
	return a.render(r, fiber.StatusOK, "paper", r.L("À remettre sur papier", "To hand out on paper")+" — "+d.N.Title, formErrors{}, d)
}

var correctFields = map[string]bool{"reason": true, "title": true, "body": true, "priority": true, "expires_at": true, "ack_required": true,
	"content.menu": true, "content.transport": true, "content.transport.line": true, "content.transport.stops": true,
	"content.transport.from": true, "content.transport.to": true, "content.transport.replacement": true, "content.transport.cause": true}

// setContent prepares the correction form's menu or transport part from
// the notice's current content: every day of its menu with a slot for each
// usual course (its dishes in their courses, goûter kept), or the days of
// the week after its publication when it has no menu yet.
func (cf *correctForm) setContent(n store.Notice, menu []menuDayForm, tr *transportForm) {
	switch n.Category {
	case conventions.CategoryCantine:
		cf.ContentKind = "menu"
		cf.Allergens, cf.DishLabels = app.Allergens, menuLabels
		if len(menu) == 0 {
			cf.Menu = weekMenu(n.PublishAt.In(paris))
			return
		}
		for _, d := range menu {
			day := menuDayForm{Date: d.Date, NoService: d.NoService, Note: d.Note}
			room := maxDishes - len(d.Dishes) // empty slots the form may add
			for _, course := range append(slices.Clone(menuCourses), "gouter") {
				found := false
				for _, x := range d.Dishes {
					if x.Course == course {
						day.Dishes, found = append(day.Dishes, x), true
					}
				}
				if !found && course != "gouter" && room > 0 {
					day.Dishes = append(day.Dishes, dishForm{Course: course})
					room--
				}
			}
			cf.Menu = append(cf.Menu, day)
		}
	case conventions.CategoryTransport:
		cf.ContentKind = "transport"
		if tr != nil {
			cf.Transport = *tr
			cf.Transport.From, cf.Transport.To = localOf(tr.From), localOf(tr.To)
		}
	}
}

// localOf is an RFC 3339 time as a datetime-local value (Paris time).
func localOf(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return dtLocal(t)
}

func (a *Admin) noticeCorrect(r *rq) error {
	c := r.c
	cf := correctForm{Reason: strings.TrimSpace(c.FormValue("reason")), Title: strings.TrimSpace(c.FormValue("title")),
		Body: strings.TrimSpace(strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n")), Priority: c.FormValue("priority"),
		ExpiresAt: c.FormValue("expires_at"), AckRequired: c.FormValue("ack_required") == "on"}
	req := map[string]any{"reason": cf.Reason, "title": cf.Title, "body": cf.Body, "ack_required": cf.AckRequired}
	if cf.Priority != "" {
		req["priority"] = cf.Priority
	}
	// The menu or transport disruption, when the form shows one: what the
	// agent leaves empty is removed (if there was anything to remove).
	cf.ContentKind, cf.HadContent = c.FormValue("content_kind"), c.FormValue("had_content") == "1"
	var category string
	switch cf.ContentKind {
	case "menu":
		category, cf.Menu = conventions.CategoryCantine, parseMenu(c, 0)
	case "transport":
		category, cf.Transport = conventions.CategoryTransport, parseTransport(c)
	}
	if category != "" {
		if content := contentRequest(category, cf.Menu, cf.Transport); len(content) > 0 || cf.HadContent {
			req["content"] = content
		}
	}
	if t, ok := parseLocal(cf.ExpiresAt); ok {
		req["expires_at"] = t.UTC()
	}
	err := r.api("POST", "/v1/notices/"+c.Params("id")+"/corrections", req, nil)
	if err == nil {
		return c.Redirect("/admin/informations/"+c.Params("id")+"?ok=corrected", fiber.StatusSeeOther)
	}
	return a.noticeFormFailure(r, err, func(d *noticeDetailData) {
		cf.Urgent = d.Correct.Urgent
		cf.Allergens, cf.DishLabels = d.Correct.Allergens, d.Correct.DishLabels
		if cf.ContentKind != d.Correct.ContentKind { // a stale form: show the notice's own content
			cf.ContentKind, cf.HadContent, cf.Menu, cf.Transport = d.Correct.ContentKind, d.Correct.HadContent, d.Correct.Menu, d.Correct.Transport
		}
		d.Correct = cf
	}, aliasesCorrect)
}

var aliasesCorrect = map[string]string{"schools": "title", "levels": "title", "ack": "ack_required", "content.menu.days": "content.menu"}

func (a *Admin) noticeWithdraw(r *rq) error {
	reasonText := strings.TrimSpace(r.c.FormValue("withdraw_reason"))
	err := r.api("POST", "/v1/notices/"+r.c.Params("id")+"/withdraw", map[string]any{"reason": reasonText}, nil)
	if err == nil {
		return r.c.Redirect("/admin/informations/"+r.c.Params("id")+"?ok=withdrawn", fiber.StatusSeeOther)
	}
	return a.noticeFormFailure(r, err, nil, map[string]string{"reason": "withdraw_reason"})
}

// noticeFormFailure re-renders the notice page with the API's errors next
// to the correction or withdrawal fields.
func (a *Admin) noticeFormFailure(r *rq, err error, keep func(*noticeDetailData), aliases map[string]string) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == fiber.StatusNotFound {
		return a.apiFailure(r, err)
	}
	d, lerr := a.loadNoticeDetail(r)
	if lerr != nil {
		return a.apiFailure(r, lerr)
	}
	if keep != nil {
		keep(&d)
	}
	known := map[string]bool{"withdraw_reason": true}
	for k := range correctFields {
		known[k] = true
	}
	return a.render(r, ae.Status, "notice", d.N.Title, mapErrors(err, known, aliases), d)
}
