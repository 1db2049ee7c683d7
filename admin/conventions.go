package admin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// ruleRow is one line of the article 3 table.
type ruleRow struct {
	Article, Services, Categories, Public, MaxPriority, Push, Critical, Ack string
}

type checkItem struct {
	Field, FR, EN string
	OK            bool
	Detail        string
}

type readableConvention struct {
	C            app.Convention
	Collectivite string
	Schools      []schoolOpt
	Rules        []ruleRow
	Quota        string
	Validity     string
	Quiet        string
	From, Until  string
	Expiring     bool // ends within 60 days
	Checklist    []checkItem
	Admins       int
}

func dateText(lang string, d conventions.Date) string {
	if d.IsZero() {
		return "—"
	}
	if lang == "en" {
		return conventions.FormatDateEN(d)
	}
	return conventions.FormatDateFR(d)
}

func (r *rq) describeRule(rule conventions.Rule, schools map[string]string) ruleRow {
	L := r.L
	var svc, cats []string
	for _, s := range rule.Services {
		svc = append(svc, conventions.ServiceLabel(s, r.lang))
	}
	for _, c := range rule.Categories {
		cats = append(cats, conventions.CategoryLabel(c, r.lang))
	}
	public := L("toutes les écoles de la convention", "every school of the convention")
	if len(rule.Schools) > 0 {
		var ns []string
		for _, u := range rule.Schools {
			ns = append(ns, orUAI(schools[u], u))
		}
		public = strings.Join(ns, ", ")
	}
	if len(rule.Levels) > 0 {
		var ls []string
		for _, l := range rule.Levels {
			ls = append(ls, conventions.LevelLabel(l, r.lang))
		}
		public += ", " + strings.Join(ls, ", ")
	} else {
		public += L(", tous niveaux", ", all levels")
	}
	if len(rule.Classes) > 0 {
		public += " (" + strings.Join(rule.Classes, ", ") + ")"
	}
	prio := rule.MaxPriority
	if prio == "" {
		prio = conventions.PriorityNormal
	}
	row := ruleRow{Article: rule.Article, Services: strings.Join(svc, ", "), Categories: strings.Join(cats, ", "), Public: public,
		MaxPriority: conventions.PriorityLabel(prio, r.lang), Push: L("oui", "yes"), Critical: L("non", "no"), Ack: L("non", "no")}
	if !rule.Push {
		row.Push = L("non (fil seulement)", "no (feed only)")
	}
	switch {
	case rule.Critical:
		row.Critical = L("oui", "yes")
	case rule.CriticalWhenUrgent:
		row.Critical = L("oui si urgente", "yes when urgent")
	}
	if rule.AckAllowed {
		row.Ack = L("oui", "yes")
	}
	if rule.MaxValidityDays > 0 {
		row.Public += fmt.Sprintf(L(" — validité %d jours au plus", " — valid %d days at most"), rule.MaxValidityDays)
	}
	return row
}

func (r *rq) readable(c app.Convention, cols, schools map[string]string) readableConvention {
	rc := readableConvention{C: c, Collectivite: orUAI(cols[c.CollectiviteID], c.CollectiviteID),
		From: dateText(r.lang, c.ValidFrom), Until: dateText(r.lang, c.ValidUntil)}
	for _, s := range c.Schools {
		rc.Schools = append(rc.Schools, schoolOpt{UAI: s.UAI, Name: orUAI(schools[s.UAI], s.UAI), Level: s.Level})
	}
	for _, rule := range c.Rules {
		rc.Rules = append(rc.Rules, r.describeRule(rule, schools))
	}
	rc.Quota = r.L("aucun", "none")
	if n := c.Limits.MaxPerSchoolPerDay; n > 0 {
		rc.Quota = fmt.Sprintf(r.L("au plus %d informations par école et par jour (hors règles exemptées)", "at most %d notices per school per day (exempt rules aside)"), n)
	}
	rc.Validity = r.L("sans limite", "unlimited")
	if n := c.Limits.MaxValidityDays; n > 0 {
		rc.Validity = fmt.Sprintf(r.L("%d jours au plus", "%d days at most"), n)
	}
	qh := conventions.DefaultQuietHours
	if c.Limits.QuietHours != nil {
		qh = *c.Limits.QuietHours
	}
	rc.Quiet = fmt.Sprintf(r.L("pas de notification entre %s et %s, sauf priorité urgente", "no notification between %s and %s, urgent priority excepted"), qh.From, qh.To)
	dh := c.Limits.DigestHour
	if dh == "" {
		dh = conventions.DefaultDigestHour
	}
	rc.Quiet += fmt.Sprintf(r.L(" ; résumé quotidien à %s pour les familles qui l'ont choisi", "; daily summary at %s for the families who chose it"), dh)
	if c.ValidUntil.Valid() {
		end := c.ValidUntil.End()
		now := r.a.now()
		rc.Expiring = end.After(now) && end.Sub(now) <= 60*24*time.Hour
	}
	return rc
}

// checklist shows the activation conditions as observed; the API decides
// (its reasons are shown next to each item on refusal).
func (r *rq) checklist(rc *readableConvention) {
	has := func(roles ...string) bool {
		for _, s := range rc.C.Signatories {
			for _, ro := range roles {
				if s.Role == ro && s.Name != "" && s.SignedAt.Valid() {
					return true
				}
			}
		}
		return false
	}
	admins, _ := r.a.core.ListAccounts(r.c.UserContext(), r.principal(),
		app.ListAccountsRequest{Role: store.RoleAdmin, CollectiviteID: rc.C.CollectiviteID, Page: store.Page{Limit: 1000}})
	rc.Admins = len(admins)
	rc.Checklist = []checkItem{
		{Field: "signatories", FR: "Signatures : IEN, maire ou président, opérateur (nom et date)", EN: "Signatures: IEN, mayor or president, operator (name and date)",
			OK: has(conventions.RoleIEN) && has(conventions.RoleMaire, conventions.RolePresident) && has(conventions.RoleOperateur)},
		{Field: "rules", FR: "Au moins une règle de publication", EN: "At least one publication rule", OK: len(rc.C.Rules) > 0},
		{Field: "schools", FR: "Écoles situées dans le territoire de la collectivité", EN: "Schools inside the local authority's territory", OK: len(rc.C.Schools) > 0},
		{Field: "admins", FR: "Au moins deux administrateurs dans la collectivité", EN: "At least two admins in the local authority", OK: rc.Admins >= 2,
			Detail: fmt.Sprintf(r.L("%d administrateur(s) aujourd'hui", "%d admin(s) today"), rc.Admins)},
	}
}

// conventions are the conventions the person may read, up to max.
func (r *rq) conventions(max int) ([]app.Convention, error) {
	list, err := r.a.core.ListConventions(r.c.UserContext(), r.principal(), app.ListConventionsRequest{Page: store.Page{Limit: max}})
	return list.Items, err
}

type conventionListData struct {
	Items    []readableConvention
	Operator bool
}

func (a *Admin) conventionList(r *rq) error {
	items, err := r.conventions(5000)
	if err != nil {
		return a.failurePage(r, err)
	}
	cols, schools := r.names()
	d := conventionListData{Operator: r.acc.Role == store.RoleOperator}
	for _, c := range items {
		d.Items = append(d.Items, r.readable(c, cols, schools))
	}
	sort.SliceStable(d.Items, func(i, j int) bool { return d.Items[i].C.Number < d.Items[j].C.Number })
	title := r.L("Conventions", "Conventions")
	if r.acc.Role == store.RoleAdmin {
		title = r.L("La convention en vigueur", "The convention in force")
	}
	return a.render(r, fiber.StatusOK, "conventions", title, formErrors{}, d)
}

type conventionDetailData struct {
	R        readableConvention
	Operator bool
	History  []struct {
		Version int
		At      time.Time
		Reason  string
	}
}

func (a *Admin) loadConventionDetail(r *rq) (conventionDetailData, error) {
	var d conventionDetailData
	c, err := a.core.GetConvention(r.c.UserContext(), r.principal(), app.ConventionRequest{ID: r.c.Params("id")})
	if err != nil {
		return d, err
	}
	cols, schools := r.names()
	d.R = r.readable(c, cols, schools)
	d.Operator = r.acc.Role == store.RoleOperator
	if d.Operator {
		r.checklist(&d.R)
	}
	for _, v := range c.Versions {
		d.History = append(d.History, struct {
			Version int
			At      time.Time
			Reason  string
		}{v.Version, v.CreatedAt, v.Reason})
	}
	return d, nil
}

func (a *Admin) conventionDetail(r *rq) error {
	d, err := a.loadConventionDetail(r)
	if err != nil {
		return a.failurePage(r, err)
	}
	title := fmt.Sprintf(r.L("Convention n° %d", "Convention no. %d"), d.R.C.Number)
	return a.render(r, fiber.StatusOK, "convention", title, formErrors{}, d)
}

func (a *Admin) conventionActivate(r *rq) error {
	_, err := a.core.ActivateConvention(r.c.UserContext(), r.principal(), app.ConventionRequest{ID: r.c.Params("id")})
	if err == nil {
		return r.c.Redirect("/admin/conventions/"+r.c.Params("id")+"?ok=activated", fiber.StatusSeeOther)
	}
	return a.conventionActionFailure(r, err)
}

func (a *Admin) conventionSuspend(r *rq) error {
	_, err := a.core.SuspendConvention(r.c.UserContext(), r.principal(),
		app.SuspendConventionRequest{ID: r.c.Params("id"), Reason: strings.TrimSpace(r.c.FormValue("reason"))})
	if err == nil {
		return r.c.Redirect("/admin/conventions/"+r.c.Params("id")+"?ok=suspended", fiber.StatusSeeOther)
	}
	return a.conventionActionFailure(r, err)
}

// conventionActionFailure shows an activation or suspension refusal next
// to the checklist items (signatories, rules, schools, admins) or the
// reason field.
func (a *Admin) conventionActionFailure(r *rq, err error) error {
	status, ok := r.refusal(err)
	if !ok || status == fiber.StatusNotFound {
		return a.failurePage(r, err)
	}
	d, lerr := a.loadConventionDetail(r)
	if lerr != nil {
		return a.failurePage(r, lerr)
	}
	known := map[string]bool{"signatories": true, "rules": true, "schools": true, "admins": true, "reason": true, "valid_until": true, "valid_from": true, "status": true}
	fe := mapErrors(r.uiErr(err), known, nil)
	title := fmt.Sprintf(r.L("Convention n° %d", "Convention no. %d"), d.R.C.Number)
	return a.render(r, status, "convention", title, fe, d)
}

// conventionForm is the create/amend form, named by the API's field paths.
type conventionForm struct {
	ID, CollectiviteID, ValidFrom, ValidUntil, Reason string
	Schools                                           []string
	Signatories                                       []sigForm
	MaxPerDay, MaxValidity, QuietFrom, QuietTo        string
	DigestHour                                        string
	Rules                                             []ruleForm
	Targeting                                         []targetingForm // one per category
	Amend                                             bool
	Number                                            int
}

type sigForm struct{ Role, Name, SignedAt string }

// targetingForm is a category's required enrolment targeting
// (conventions.Targeting): Service "" for none.
type targetingForm struct {
	Category, Service string
	Lines             bool
}

// targetingRows are the form's rows, one per category, from a
// convention's targeting.
func targetingRows(ts []conventions.Targeting) []targetingForm {
	out := make([]targetingForm, len(conventions.Categories))
	for i, cat := range conventions.Categories {
		out[i].Category = cat
		for _, t := range ts {
			if t.Category == cat {
				out[i].Service, out[i].Lines = t.Service, t.Lines
			}
		}
	}
	return out
}

type ruleForm struct {
	Article, Schools, Classes, MaxPriority, MaxValidityDays, MaxPerDay string
	Services, Categories                                               []string
	Levels                                                             []conventions.Level
	Push, Critical, CriticalWhenUrgent, AckAllowed, QuotaExempt        bool
}

type conventionFormData struct {
	F          conventionForm
	Cols       []store.Collectivite
	Schools    []store.School
	Services   []string
	Categories []string
	Levels     []conventions.Level
	SignRoles  []string
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func formOf(c conventions.Convention) conventionForm {
	f := conventionForm{ID: c.ID, CollectiviteID: c.CollectiviteID, ValidFrom: c.ValidFrom.String(), ValidUntil: c.ValidUntil.String(),
		MaxPerDay: itoa0(c.Limits.MaxPerSchoolPerDay), MaxValidity: itoa0(c.Limits.MaxValidityDays), Number: c.Number}
	if qh := c.Limits.QuietHours; qh != nil {
		f.QuietFrom, f.QuietTo = qh.From, qh.To
	}
	f.DigestHour = c.Limits.DigestHour
	f.Targeting = targetingRows(c.Targeting)
	for _, s := range c.Schools {
		f.Schools = append(f.Schools, s.UAI)
	}
	for _, s := range c.Signatories {
		f.Signatories = append(f.Signatories, sigForm{Role: s.Role, Name: s.Name, SignedAt: s.SignedAt.String()})
	}
	for _, ru := range c.Rules {
		f.Rules = append(f.Rules, ruleForm{Article: ru.Article, Schools: strings.Join(ru.Schools, " "), Classes: strings.Join(ru.Classes, " "),
			MaxPriority: ru.MaxPriority, MaxValidityDays: itoa0(ru.MaxValidityDays), MaxPerDay: itoa0(ru.MaxPerSchoolPerDay),
			Services: ru.Services, Categories: ru.Categories, Levels: ru.Levels, Push: ru.Push, Critical: ru.Critical,
			CriticalWhenUrgent: ru.CriticalWhenUrgent, AckAllowed: ru.AckAllowed, QuotaExempt: ru.QuotaExempt})
	}
	return f
}

// pad gives the form three signatory rows and one blank rule row (more
// with ?regles=N).
func (f *conventionForm) pad(extraRules int) {
	if f.Targeting == nil {
		f.Targeting = targetingRows(nil)
	}
	roles := []string{conventions.RoleIEN, conventions.RoleMaire, conventions.RoleOperateur}
	for len(f.Signatories) < 3 {
		f.Signatories = append(f.Signatories, sigForm{Role: roles[len(f.Signatories)]})
	}
	for i := 0; i < extraRules; i++ {
		f.Rules = append(f.Rules, ruleForm{MaxPriority: conventions.PriorityNormal, Push: true})
	}
}

func parseConventionForm(c *fiber.Ctx) conventionForm {
	args := c.Request().PostArgs()
	multi := func(name string) []string {
		var out []string
		for _, v := range args.PeekMulti(name) {
			out = append(out, string(v))
		}
		return out
	}
	on := func(name string) bool { return c.FormValue(name) == "on" }
	f := conventionForm{CollectiviteID: c.FormValue("collectivite"), ValidFrom: c.FormValue("valid_from"), ValidUntil: c.FormValue("valid_until"),
		Reason: strings.TrimSpace(c.FormValue("reason")), Schools: multi("schools"),
		MaxPerDay: c.FormValue("limits.max_per_school_per_day"), MaxValidity: c.FormValue("limits.max_validity_days"),
		QuietFrom: c.FormValue("limits.quiet_hours.from"), QuietTo: c.FormValue("limits.quiet_hours.to"),
		DigestHour: strings.TrimSpace(c.FormValue("limits.digest_hour"))}
	f.Targeting = targetingRows(nil)
	for i := range f.Targeting {
		p := "targeting." + f.Targeting[i].Category + "."
		f.Targeting[i].Service, f.Targeting[i].Lines = c.FormValue(p+"service"), on(p+"lines")
	}
	for i := 0; i < 10; i++ {
		p := fmt.Sprintf("signatories[%d].", i)
		if !args.Has(p + "role") {
			break
		}
		f.Signatories = append(f.Signatories, sigForm{Role: c.FormValue(p + "role"), Name: strings.TrimSpace(c.FormValue(p + "name")), SignedAt: c.FormValue(p + "signed_at")})
	}
	for i := 0; i < 100; i++ {
		p := fmt.Sprintf("rules[%d].", i)
		if !args.Has(p + "article") {
			break
		}
		f.Rules = append(f.Rules, ruleForm{Article: strings.TrimSpace(c.FormValue(p + "article")), Schools: c.FormValue(p + "schools"),
			Classes: c.FormValue(p + "classes"), MaxPriority: c.FormValue(p + "max_priority"), MaxValidityDays: c.FormValue(p + "max_validity_days"),
			MaxPerDay: c.FormValue(p + "max_per_school_per_day"), Services: multi(p + "services"), Categories: multi(p + "categories"),
			Levels: conventions.LevelsOf(multi(p + "levels")), Push: on(p + "push"), Critical: on(p + "critical"), CriticalWhenUrgent: on(p + "critical_when_urgent"),
			AckAllowed: on(p + "ack_allowed"), QuotaExempt: on(p + "quota_exempt")})
	}
	return f
}

// body builds the convention's text from the form. Blank signatory and
// rule rows are left out; renumber maps the text's rules[i]/signatories[i]
// back to the form's rows, so errors land on the right row. A date that is
// not YYYY-MM-DD is refused at its field.
func (f conventionForm) body() (app.ConventionBody, map[string]string, error) {
	renumber := map[string]string{}
	num := func(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }
	var bad []app.Detail
	date := func(field, s string) conventions.Date {
		if s == "" {
			return conventions.Date{}
		}
		d, err := conventions.ParseDate(s)
		if err != nil {
			bad = append(bad, app.NewDetail(field, "json.date",
				"Une date est invalide : format attendu AAAA-MM-JJ (ex. 2026-09-01).",
				"A date is invalid: expected format YYYY-MM-DD (e.g. 2026-09-01)."))
		}
		return d
	}
	b := app.ConventionBody{Schools: []conventions.School{}, Signatories: []conventions.Signatory{}, Rules: []conventions.Rule{},
		ValidFrom: date("valid_from", f.ValidFrom), ValidUntil: date("valid_until", f.ValidUntil)}
	for _, u := range f.Schools {
		b.Schools = append(b.Schools, conventions.School{UAI: u})
	}
	for i, s := range f.Signatories {
		if s.Name == "" && s.SignedAt == "" {
			continue
		}
		renumber[fmt.Sprintf("signatories[%d]", len(b.Signatories))] = fmt.Sprintf("signatories[%d]", i)
		b.Signatories = append(b.Signatories, conventions.Signatory{Role: s.Role, Name: s.Name,
			SignedAt: date(fmt.Sprintf("signatories[%d].signed_at", i), s.SignedAt)})
	}
	for i, ru := range f.Rules {
		if ru.Article == "" && len(ru.Services) == 0 && len(ru.Categories) == 0 {
			continue
		}
		renumber[fmt.Sprintf("rules[%d]", len(b.Rules))] = fmt.Sprintf("rules[%d]", i)
		rule := conventions.Rule{Article: ru.Article, Services: nonNil(ru.Services), Categories: nonNil(ru.Categories),
			MaxPriority: ru.MaxPriority, Push: ru.Push, Critical: ru.Critical, CriticalWhenUrgent: ru.CriticalWhenUrgent,
			AckAllowed: ru.AckAllowed, QuotaExempt: ru.QuotaExempt, MaxValidityDays: num(ru.MaxValidityDays), MaxPerSchoolPerDay: num(ru.MaxPerDay)}
		if len(ru.Levels) > 0 {
			rule.Levels = ru.Levels
		}
		if s := strings.Fields(strings.ReplaceAll(ru.Schools, ",", " ")); len(s) > 0 {
			rule.Schools = s
		}
		if s := strings.Fields(strings.ReplaceAll(ru.Classes, ",", " ")); len(s) > 0 {
			rule.Classes = s
		}
		b.Rules = append(b.Rules, rule)
	}
	for _, t := range f.Targeting {
		if t.Service == "" {
			continue
		}
		renumber[fmt.Sprintf("targeting[%d]", len(b.Targeting))] = "targeting." + t.Category
		b.Targeting = append(b.Targeting, conventions.Targeting{Category: t.Category, Service: t.Service, Lines: t.Lines})
	}
	b.Limits = conventions.Limits{MaxPerSchoolPerDay: num(f.MaxPerDay), MaxValidityDays: num(f.MaxValidity), DigestHour: f.DigestHour}
	if f.QuietFrom != "" || f.QuietTo != "" {
		b.Limits.QuietHours = &conventions.QuietHours{From: f.QuietFrom, To: f.QuietTo}
	}
	if len(bad) > 0 {
		return b, renumber, app.Err(app.CodeRequestWrongType, bad...)
	}
	return b, renumber, nil
}

// conventionFields: every field path of the form, for error placement.
func conventionFields(f conventionForm) map[string]bool {
	known := map[string]bool{"collectivite": true, "schools": true, "signatories": true, "valid_from": true, "valid_until": true,
		"limits.max_per_school_per_day": true, "limits.max_validity_days": true, "limits.quiet_hours": true, "limits.digest_hour": true, "rules": true, "reason": true, "admins": true}
	for _, cat := range conventions.Categories {
		for _, k := range []string{"", ".category", ".service", ".lines"} {
			known["targeting."+cat+k] = true
		}
	}
	for i := range f.Signatories {
		for _, k := range []string{"", ".role", ".name", ".signed_at"} {
			known[fmt.Sprintf("signatories[%d]%s", i, k)] = true
		}
	}
	for i := range f.Rules {
		for _, k := range []string{"", ".article", ".services", ".categories", ".levels", ".schools", ".classes", ".max_priority", ".max_validity_days", ".max_per_school_per_day", ".quiet_hours"} {
			known[fmt.Sprintf("rules[%d]%s", i, k)] = true
		}
	}
	return known
}

func (a *Admin) conventionFormData(r *rq, f conventionForm) (conventionFormData, error) {
	d := conventionFormData{F: f, Services: conventions.Services, Categories: conventions.Categories,
		Levels: conventions.Levels, SignRoles: []string{conventions.RoleIEN, conventions.RoleMaire, conventions.RolePresident, conventions.RoleOperateur}}
	var err error
	if d.Cols, err = r.collectivites(5000); err != nil {
		return d, err
	}
	if d.Schools, err = r.schools(20000); err != nil {
		return d, err
	}
	return d, nil
}

func extraRules(r *rq) int {
	n, _ := strconv.Atoi(r.c.Query("regles", "1"))
	return max(1, min(n, 20))
}

func (a *Admin) conventionNew(r *rq) error {
	f := conventionForm{CollectiviteID: r.c.Query("collectivite")}
	f.pad(extraRules(r))
	d, err := a.conventionFormData(r, f)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, fiber.StatusOK, "conventionform", r.L("Nouvelle convention", "New convention"), formErrors{}, d)
}

func (a *Admin) conventionAmendForm(r *rq) error {
	c, err := a.core.GetConvention(r.c.UserContext(), r.principal(), app.ConventionRequest{ID: r.c.Params("id")})
	if err != nil {
		return a.failurePage(r, err)
	}
	f := formOf(c.Convention)
	f.Amend = true
	f.pad(extraRules(r))
	d, err := a.conventionFormData(r, f)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, fiber.StatusOK, "conventionform", fmt.Sprintf(r.L("Avenant à la convention n° %d", "Amendment to convention no. %d"), c.Number), formErrors{}, d)
}

func (a *Admin) conventionCreate(r *rq) error {
	f := parseConventionForm(r.c)
	body, renumber, err := f.body()
	var created app.Convention
	if err == nil {
		created, err = a.core.CreateConvention(r.c.UserContext(), r.principal(),
			app.CreateConventionRequest{CollectiviteID: f.CollectiviteID, ConventionBody: body})
	}
	if err == nil {
		return r.c.Redirect("/admin/conventions/"+created.ID+"?ok=created", fiber.StatusSeeOther)
	}
	return a.conventionFormFailure(r, f, err, renumber, r.L("Nouvelle convention", "New convention"))
}

func (a *Admin) conventionAmend(r *rq) error {
	f := parseConventionForm(r.c)
	f.Amend, f.ID = true, r.c.Params("id")
	n, _ := strconv.Atoi(r.c.FormValue("number"))
	f.Number = n
	body, renumber, err := f.body()
	if err == nil {
		_, err = a.core.AmendConvention(r.c.UserContext(), r.principal(),
			app.AmendConventionRequest{ID: f.ID, ConventionBody: body, Reason: f.Reason})
	}
	if err == nil {
		return r.c.Redirect("/admin/conventions/"+f.ID+"?ok=amended", fiber.StatusSeeOther)
	}
	return a.conventionFormFailure(r, f, err, renumber, fmt.Sprintf(r.L("Avenant à la convention n° %d", "Amendment to convention no. %d"), f.Number))
}

// conventionFormFailure re-renders the form with each refusal reason next
// to its field (rows renumbered back to the form's).
func (a *Admin) conventionFormFailure(r *rq, f conventionForm, err error, renumber map[string]string, title string) error {
	ae, ok := r.uiError(err)
	if !ok || ae.Status >= 500 || ae.Status == fiber.StatusNotFound {
		return a.failurePage(r, err)
	}
	for i, d := range ae.Details {
		for from, to := range renumber {
			if d.Field == from || strings.HasPrefix(d.Field, from+".") || strings.HasPrefix(d.Field, from+"[") {
				ae.Details[i].Field = to + strings.TrimPrefix(d.Field, from)
				break
			}
		}
	}
	d, lerr := a.conventionFormData(r, f)
	if lerr != nil {
		return a.failurePage(r, lerr)
	}
	return a.render(r, ae.Status, "conventionform", title, mapErrors(ae, conventionFields(f), map[string]string{"collectivite_id": "collectivite"}), d)
}
