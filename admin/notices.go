package admin

import (
	"encoding/json"
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

func (r *rq) names() (cols map[string]string, schools map[string]string) {
	cols, schools = map[string]string{}, map[string]string{}
	if cs, err := r.collectivites(5000); err == nil {
		for _, c := range cs {
			cols[c.ID] = c.Name
		}
	}
	if ss, err := r.schools(20000); err == nil {
		for _, s := range ss {
			schools[s.UAI] = s.Name
		}
	}
	return cols, schools
}

// noticePage is how many notices the list shows at once.
const noticePage = 50

func (a *Admin) noticeList(r *rq) error {
	ctx, p := r.c.UserContext(), r.principal()
	items, err := a.core.Notices(ctx, p, store.Page{Cursor: r.c.Query("cursor"), Limit: noticePage})
	if err != nil {
		return a.failurePage(r, err)
	}
	cols, schools := r.names()
	viewer := r.acc.Role == store.RoleViewer
	d := noticeListData{Viewer: viewer}
	if len(items) == noticePage {
		d.NextCursor = items[len(items)-1].ID
	}
	var rules map[string]conventions.Rule
	if viewer || r.acc.Role == store.RoleAdmin || r.acc.Role == store.RoleOperator {
		if rules, err = a.core.NoticeRules(ctx, p, items); err != nil {
			return a.failurePage(r, err)
		}
	}
	for _, n := range items {
		row := noticeRow{Notice: n, CollectiviteName: cols[n.CollectiviteID], CanChange: a.core.MayWithdraw(p, n)}
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
		if rule, ok := rules[n.ID]; ok {
			row.Rule = ruleText(r.lang, rule)
		}
		d.Rows = append(d.Rows, row)
	}
	title := r.L("Informations publiées", "Published notices")
	if viewer {
		title = r.L("Informations publiées auprès des familles de vos écoles", "Notices published to the families of your schools")
	}
	return a.render(r, fiber.StatusOK, "notices", title, formErrors{}, d)
}

// decodeContent is a notice's structured content (a menu or a transport
// disruption) as the forms show it.
func decodeContent(raw json.RawMessage) (menu []menuDayForm, tr *transportForm) {
	if len(raw) == 0 {
		return nil, nil
	}
	var c app.NoticeContent
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
			tr.From = t.From.Format(time.RFC3339Nano)
		}
		if t.To != nil {
			tr.To = t.To.Format(time.RFC3339Nano)
		}
	}
	return menu, tr
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

// show is what the page prints for a figure: the range a given figure
// stands for ("20 à 24"), or the words of a withheld one ("moins de 5").
func (r *rq) show(key, label string, f app.Figure) shownFigure {
	out := shownFigure{Key: key, Label: label, Text: f.Label.In(r.lang), Withheld: f.Value == nil}
	if out.Text == "" {
		out.Text = r.L("non communiqué", "not given")
	}
	return out
}

// minFamilies is the smallest count the page prints (the API's small-group
// rule: no figure about 1 to 4 families).
const minFamilies = 5

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
func (r *rq) statFigures(st app.NoticeStats) []shownFigure {
	var out []shownFigure
	add := func(key, fr, en string, f *app.Figure) {
		if f != nil {
			out = append(out, r.show("stats."+key, r.L(fr, en), *f))
		}
	}
	add("families_targeted", "Familles ciblées", "Families targeted", &st.FamiliesTargeted)
	add("families_subscribed", "Familles abonnées aux notifications", "Families subscribed to notifications", st.FamiliesSubscribed)
	if p := st.Pushes; p != nil {
		add("pushes.targeted", "Notifications à envoyer (appareils abonnés)", "Notifications to send (subscribed devices)", &p.Targeted)
		add("pushes.accepted", "Notifications remises au service de notification", "Notifications handed to the push service", &p.Accepted)
		add("pushes.deferred", "Notifications différées (heures calmes)", "Notifications deferred (quiet hours)", &p.Deferred)
		add("pushes.muted", "Notifications non envoyées (catégorie désactivée par la famille)", "Notifications not sent (category muted by the family)", &p.Muted)
		add("pushes.digest", "Notifications regroupées dans le résumé quotidien (choix de la famille)", "Notifications grouped in the daily summary (the family's choice)", &p.Digest)
		add("pushes.cancelled", "Notifications annulées (information retirée, expirée ou corrigée)", "Notifications cancelled (notice withdrawn, expired or corrected)", &p.Cancelled)
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
		f := st.Failed[k]
		add("failed."+k, "Notifications en échec : "+why[0], "Notifications failed: "+why[1], &f)
	}
	add("shown", "Notifications affichées sur un appareil", "Notifications shown on a device", st.Shown)
	add("clicked", "Notifications ouvertes", "Notifications opened", st.Clicked)
	add("read", "Familles ayant lu l'information", "Families who read the notice", st.Read)
	add("acknowledged", "Familles ayant accusé lecture", "Families who acknowledged it", st.Acknowledged)
	return out
}

// reachRow is one line of the per-school reach table.
type reachRow struct {
	UAI, School, Level string
	Cells              []shownFigure
}

// reachColumns are the figures of a reach group, in the table's order;
// a notice to classes adds « Classe inconnue » (app.ReachGroup.ClassUnknown).
func (r *rq) reachColumns(classes bool) []string {
	cols := []string{r.L("Familles ciblées", "Families targeted"), r.L("Ont lu", "Have read"),
		r.L("Ont accusé lecture", "Have acknowledged"), r.L("Non atteintes", "Not reached")}
	if classes {
		cols = append(cols, r.L("Classe inconnue", "Class unknown"))
	}
	return cols
}

// classTargeted reports whether the reach gives « classe inconnue ».
func classTargeted(v app.Reach) bool {
	return slices.ContainsFunc(v.Groups, func(g app.ReachGroup) bool { return g.ClassUnknown != nil })
}

// reachRows turns the reach groups into table rows (school names from
// the reach, else from the list of schools, else the UAI).
func (r *rq) reachRows(v app.Reach, schools map[string]string) []reachRow {
	cols := r.reachColumns(classTargeted(v))
	var rows []reachRow
	for _, g := range v.Groups {
		row := reachRow{UAI: g.UAI, School: g.School, Level: conventions.LevelLabel(g.Level, r.lang)}
		if row.School == "" {
			row.School = orUAI(schools[g.UAI], g.UAI)
		}
		key := "reach." + g.UAI + "." + string(g.Level) + "."
		type fig struct {
			k string
			v app.Figure
		}
		figs := []fig{{"families", g.Families}, {"read", g.Read}, {"acknowledged", g.Acknowledged}, {"not_reached", g.NotReached}}
		if g.ClassUnknown != nil {
			figs = append(figs, fig{"class_unknown", *g.ClassUnknown})
		}
		for i, f := range figs {
			row.Cells = append(row.Cells, r.show(key+f.k, cols[i], f.v))
		}
		rows = append(rows, row)
	}
	return rows
}

type noticeDetailData struct {
	// CanReuse: the page offers to start a new notice from this one
	// (app.Reuse); HasMenu, from its menu for the following week.
	CanReuse, HasMenu bool
	N                 store.Notice
	Files             []fileItem // the notice's attachments
	CanAttach         bool       // another file may be added now
	AttachAlt         string     // the text alternative of a refused upload, kept
	// NotCopied: the files of the notice it was made from that could not
	// be copied onto it at publication, and why.
	NotCopied    []notCopied
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
	// ClassUnknownNote explains « Classe inconnue » (a notice to classes).
	ClassUnknownNote string
	ReachMissing     bool
	Correct          correctForm
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

// reachOf loads the notice's stats and reach; an error is "unavailable",
// a refusal (a role that may not read the delivery figures) hides them.
func (r *rq) reachOf(d *noticeDetailData, schools map[string]string) {
	ctx, p := r.c.UserContext(), r.principal()
	if st, err := r.a.core.Stats(ctx, p, d.N.ID); err != nil {
		if ae, ok := r.uiError(err); ok && ae.Status == fiber.StatusForbidden {
			d.StatsHidden = true
		} else {
			d.StatsMissing = true
		}
	} else {
		if st.Withheld {
			d.StatsWithheld = st.Message.In(r.lang)
		}
		d.Stats = r.statFigures(st)
	}
	if reach, err := r.a.core.NoticeReach(ctx, p, d.N.ID); err != nil {
		d.ReachMissing = true
	} else {
		d.ReachCols, d.Reach, d.ReachNote = r.reachColumns(classTargeted(reach)), r.reachRows(reach, schools), reach.Note.In(r.lang)
		if classTargeted(reach) {
			d.ClassUnknownNote = app.ClassUnknownNote.In(r.lang)
		}
	}
}

func (a *Admin) loadNoticeDetail(r *rq) (noticeDetailData, error) {
	var d noticeDetailData
	ctx, p := r.c.UserContext(), r.principal()
	n, versions, err := a.core.NoticeWithVersions(ctx, p, r.c.Params("id"))
	if err != nil {
		return d, err
	}
	d.N, d.Versions = n, versions
	cols, schools := r.names()
	d.Collectivite = cols[n.CollectiviteID]
	for _, u := range n.Audience.Schools {
		d.Schools = append(d.Schools, schoolOpt{UAI: u, Name: orUAI(schools[u], u)})
	}
	if rules, err := a.core.NoticeRules(ctx, p, []store.Notice{n}); err == nil {
		if rule, ok := rules[n.ID]; ok {
			d.Rule = ruleText(r.lang, rule)
		}
	}
	d.Menu, d.Transport = decodeContent(n.Content)
	if d.Transport != nil {
		d.StopList = splitLines(d.Transport.Stops)
	}
	d.CanCorrect = a.core.MayCorrect(p, n)
	d.CanReuse = app.MayChange(p, n, false)
	d.HasMenu = len(d.Menu) > 0
	d.CanWithdraw = a.core.MayWithdraw(p, n)
	d.Files = filesOf(n, r.lang)
	d.CanAttach = d.CanCorrect && len(n.Attachments) < app.MaxAttachments
	d.NotCopied = r.notCopied()
	// The family count the compose page passes on after publishing: a
	// number only, never one from 1 to 4, and rounded down to 5 as the
	// small-group rule gives it.
	if k, err := strconv.Atoi(r.c.Query("familles")); err == nil && k >= 0 {
		switch lo := k - k%minFamilies; {
		case k == 0:
			d.Families = "0"
		case k < minFamilies:
			d.Families = r.L("moins de 5", "fewer than 5")
		default:
			d.Families = fmt.Sprintf(r.L("%d à %d", "%d to %d"), lo, lo+minFamilies-1)
		}
	}
	d.Correct = correctForm{Title: n.Title, Body: n.Body, Priority: n.Priority, ExpiresAt: dtLocal(n.ExpiresAt), AckRequired: n.AckRequired,
		Urgent: n.Priority == conventions.PriorityUrgent, HadContent: len(d.Menu) > 0 || d.Transport != nil}
	d.Correct.setContent(n, d.Menu, d.Transport)
	if d.CanCorrect {
		// Offer "urgent" only when the service may publish urgent notices
		// in this category now.
		if caps, err := a.core.Capabilities(ctx, p, n.Service); err == nil {
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

// notCopied is a file the publication could not copy, as the page says it.
type notCopied struct{ Name, Reason string }

// notCopied reads the files the compose form's publication could not
// copy (?depuis=ID&non_copiee=ATT:code, app.PublishFrom): each named as
// the original notice lists it (its ID when it cannot be read) with the
// catalog's sentence for why.
func (r *rq) notCopied() []notCopied {
	list := r.c.Request().URI().QueryArgs().PeekMulti("non_copiee")
	if len(list) == 0 {
		return nil
	}
	var files []store.Attachment
	if src, err := r.a.core.Notice(r.c.UserContext(), r.principal(), r.c.Query("depuis")); err == nil {
		files = src.Attachments
	}
	var out []notCopied
	for _, raw := range list {
		id, code, _ := strings.Cut(string(raw), ":")
		nc := notCopied{Name: id, Reason: r.L("Une erreur inattendue s'est produite ; elle a été enregistrée.", "An unexpected error occurred; it has been logged.")}
		if i := slices.IndexFunc(files, func(x store.Attachment) bool { return x.ID == id }); i >= 0 {
			nc.Name = files[i].Name
		}
		for _, c := range app.Codes() {
			if c.String() == code {
				nc.Reason = c.Message(r.lang)
			}
		}
		out = append(out, nc)
	}
	return out
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
		return a.failurePage(r, err)
	}
	return a.render(r, fiber.StatusOK, "notice", d.N.Title, formErrors{}, d)
}

func (a *Admin) noticePaper(r *rq) error {
	d, err := a.loadNoticeDetail(r)
	if err != nil {
		return a.failurePage(r, err)
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
		cf.Menu = menuSlots(menu)
	case conventions.CategoryTransport:
		cf.ContentKind = "transport"
		if tr != nil {
			cf.Transport = *tr
			cf.Transport.From, cf.Transport.To = localOf(tr.From), localOf(tr.To)
		}
	}
}

// menuSlots is a menu as the forms edit it: each day's dishes in their
// courses (goûter kept), and an empty slot for each usual course it has
// no dish of.
func menuSlots(menu []menuDayForm) []menuDayForm {
	var out []menuDayForm
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
		out = append(out, day)
	}
	return out
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
	req := app.CorrectionRequest{Reason: cf.Reason, Title: &cf.Title, Body: &cf.Body, AckRequired: &cf.AckRequired}
	if cf.Priority != "" {
		req.Priority = &cf.Priority
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
		if content := contentRequest(category, cf.Menu, cf.Transport); content != nil {
			req.Content = content
		} else if cf.HadContent {
			req.Content = &app.NoticeContent{} // what was there is removed
		}
	}
	if t, ok := parseLocal(cf.ExpiresAt); ok {
		t = t.UTC()
		req.ExpiresAt = &t
	}
	pub, err := a.core.Correct(c.UserContext(), r.principal(), c.Params("id"), req)
	if err == nil {
		ok := "corrected" // pushed again (or with the push still to come)
		if !pub.Decision.Push {
			ok = "corrected_feed"
		}
		return c.Redirect("/admin/informations/"+c.Params("id")+"?ok="+ok, fiber.StatusSeeOther)
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
	_, err := a.core.Withdraw(r.c.UserContext(), r.principal(), r.c.Params("id"), app.WithdrawRequest{Reason: reasonText})
	if err == nil {
		return r.c.Redirect("/admin/informations/"+r.c.Params("id")+"?ok=withdrawn", fiber.StatusSeeOther)
	}
	return a.noticeFormFailure(r, err, nil, map[string]string{"reason": "withdraw_reason"})
}

// noticeFormFailure re-renders the notice page with the API's errors next
// to the correction or withdrawal fields.
func (a *Admin) noticeFormFailure(r *rq, err error, keep func(*noticeDetailData), aliases map[string]string) error {
	ae, ok := r.uiError(err)
	if !ok || ae.Status >= 500 || ae.Status == fiber.StatusNotFound {
		return a.failurePage(r, err)
	}
	d, lerr := a.loadNoticeDetail(r)
	if lerr != nil {
		return a.failurePage(r, lerr)
	}
	if keep != nil {
		keep(&d)
	}
	known := map[string]bool{"withdraw_reason": true, "file": true, "alt": true}
	for k := range correctFields {
		known[k] = true
	}
	return a.render(r, ae.Status, "notice", d.N.Title, mapErrors(ae, known, aliases), d)
}
