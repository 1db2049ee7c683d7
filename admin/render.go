package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assets are the embedded static files, served under a content-hash name
// with long-lived caching.
type assets struct {
	files map[string][]byte // hashed name → content
	types map[string]string
	CSS   string // URL of admin.css
	JS    string // URL of admin.js
}

func loadAssets() assets {
	as := assets{files: map[string][]byte{}, types: map[string]string{}}
	for _, name := range []string{"admin.css", "admin.js"} {
		b, err := fs.ReadFile(staticFS, "static/"+name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		dot := strings.LastIndexByte(name, '.')
		hashed := name[:dot] + "." + hex.EncodeToString(sum[:6]) + name[dot:]
		as.files[hashed] = b
		if strings.HasSuffix(name, ".css") {
			as.types[hashed] = "text/css; charset=utf-8"
			as.CSS = "/admin/static/" + hashed
		} else {
			as.types[hashed] = "text/javascript; charset=utf-8"
			as.JS = "/admin/static/" + hashed
		}
	}
	return as
}

func (a *Admin) static(c *fiber.Ctx) error {
	name := c.Params("name")
	b, ok := a.assets.files[name]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("not found")
	}
	c.Set(fiber.HeaderContentType, a.assets.types[name])
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	return c.Send(b)
}

// pageTemplate is one page's template set (the layout, the partials and
// the page).
type pageTemplate struct{ t *template.Template }

// fieldInfo is what a template needs to render one form field accessibly.
type fieldInfo struct {
	Path, ID, ErrID string
	Errs            []string
}

// Invalid reports whether the field has errors.
func (f fieldInfo) Invalid() bool { return len(f.Errs) > 0 }

// Described is the aria-describedby value: the error, then the hint.
func (f fieldInfo) Described(hint bool) string {
	var ids []string
	if len(f.Errs) > 0 {
		ids = append(ids, f.ErrID)
	}
	if hint {
		ids = append(ids, f.ID+"-hint")
	}
	return strings.Join(ids, " ")
}

var paris = conventions.Paris()

var monthsEN = [...]string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var monthsFR = [...]string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
var daysFR = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}

func formatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	p := t.In(paris)
	if lang == "en" {
		return fmt.Sprintf("%d %s %d", p.Day(), monthsEN[p.Month()], p.Year())
	}
	d := fmt.Sprint(p.Day())
	if p.Day() == 1 {
		d = "1er"
	}
	return d + "\u00a0" + monthsFR[p.Month()] + " " + fmt.Sprint(p.Year())
}

func formatDateTime(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	p := t.In(paris)
	if lang == "en" {
		return formatDate(lang, t) + " at " + p.Format("15:04")
	}
	return formatDate(lang, t) + " à " + fmt.Sprintf("%d\u00a0h\u00a0%02d", p.Hour(), p.Minute())
}

func formatDay(lang string, d string) string {
	t, err := time.ParseInLocation(time.DateOnly, d, paris)
	if err != nil {
		return d
	}
	if lang == "en" {
		return t.Weekday().String() + " " + fmt.Sprint(t.Day()) + " " + monthsEN[t.Month()]
	}
	return daysFR[t.Weekday()] + " " + fmt.Sprint(t.Day()) + "\u00a0" + monthsFR[t.Month()]
}

var statusLabels = map[string]conventions.Label{
	store.NoticeScheduled: {FR: "programmée", EN: "scheduled"},
	store.NoticePublished: {FR: "publiée", EN: "published"},
	store.NoticeWithdrawn: {FR: "retirée", EN: "withdrawn"},
	store.NoticeExpired:   {FR: "expirée", EN: "expired"},
	"active":              {FR: "en vigueur", EN: "in force"},
	"draft":               {FR: "brouillon", EN: "draft"},
	"suspended":           {FR: "suspendue", EN: "suspended"},
}

var roleLabels = map[string]conventions.Label{
	store.RoleOperator: {FR: "opérateur", EN: "operator"},
	store.RoleAdmin:    {FR: "administrateur de la collectivité", EN: "collectivité admin"},
	store.RoleAgent:    {FR: "agent", EN: "agent"},
	store.RoleViewer:   {FR: "lecture (école, IEN)", EN: "read-only (school, IEN)"},
}

var courseLabels = map[string]conventions.Label{
	"entree":         {FR: "Entrée", EN: "Starter"},
	"plat":           {FR: "Plat", EN: "Main course"},
	"accompagnement": {FR: "Accompagnement", EN: "Side dish"},
	"laitage":        {FR: "Produit laitier", EN: "Dairy"},
	"dessert":        {FR: "Dessert", EN: "Dessert"},
	"gouter":         {FR: "Goûter", EN: "Snack"},
}

var dishLabels = map[string]conventions.Label{
	"bio":           {FR: "bio", EN: "organic"},
	"local":         {FR: "local", EN: "local"},
	"label_rouge":   {FR: "Label Rouge", EN: "Label Rouge"},
	"aop":           {FR: "AOP", EN: "PDO"},
	"peche_durable": {FR: "pêche durable", EN: "sustainable fishing"},
	"vegetarien":    {FR: "végétarien", EN: "vegetarian"},
	"fait_maison":   {FR: "fait maison", EN: "home-made"},
}

var kindLabels = map[string]conventions.Label{
	store.KindCommune:     {FR: "commune", EN: "commune"},
	store.KindEPCI:        {FR: "intercommunalité (EPCI)", EN: "intercommunality (EPCI)"},
	store.KindDepartement: {FR: "département", EN: "département"},
	store.KindRegion:      {FR: "région", EN: "région"},
}

func label(m map[string]conventions.Label, code, lang string) string {
	l, ok := m[code]
	if !ok {
		return code
	}
	if lang == "en" {
		return l.EN
	}
	return l.FR
}

func funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"tr": func(fr, en string) string {
			if lang == "en" {
				return en
			}
			return fr
		},
		"lang": func() string { return lang },
		"field": func(fe formErrors, path string) fieldInfo {
			id := fieldID(path)
			return fieldInfo{Path: path, ID: id, ErrID: id + "-error", Errs: fe.Of(path)}
		},
		"fid":      fieldID,
		"date":     func(t time.Time) string { return formatDate(lang, t) },
		"datetime": func(t time.Time) string { return formatDateTime(lang, t) },
		"day":      func(d string) string { return formatDay(lang, d) },
		"dtlocal":  dtLocal,
		"cat":      func(c string) string { return conventions.CategoryLabel(c, lang) },
		"svc":      func(s string) string { return conventions.ServiceLabel(s, lang) },
		"lvl":      func(l any) string { return conventions.LevelLabel(conventions.Level(code(l)), lang) },
		"enrol":    func(e string) string { return conventions.EnrolmentLabel(e, lang) },
		"prio":     func(p string) string { return conventions.PriorityLabel(p, lang) },
		// The code lists of the forms' choices (one definition, in
		// conventions); knownprio reads an unknown priority as normal.
		"schoollevels": func() []conventions.Level { return conventions.SchoolLevels },
		"priorities":   func() []string { return conventions.Priorities },
		"enrolments":   func() []string { return conventions.EnrolmentServices },
		"knownprio": func(p string) string {
			if slices.Contains(conventions.Priorities, p) {
				return p
			}
			return conventions.PriorityNormal
		},
		"status":    func(s string) string { return label(statusLabels, s, lang) },
		"role":      func(s string) string { return label(roleLabels, s, lang) },
		"course":    func(s string) string { return label(courseLabels, s, lang) },
		"dishlabel": func(s string) string { return label(dishLabels, s, lang) },
		"kind":      func(s string) string { return label(kindLabels, s, lang) },
		"signrole":  func(s string) string { return label(conventions.RoleLabels, s, lang) },
		"allergen": func(code string) string {
			for _, x := range app.Allergens {
				if x.Code == code {
					if lang == "en" {
						return x.EN
					}
					return x.FR
				}
			}
			return code
		},
		"list": func(xs ...string) []string { return xs },
		"has": func(xs any, x any) bool {
			v := reflect.ValueOf(xs)
			if v.Kind() != reflect.Slice {
				return false
			}
			for i := range v.Len() {
				if code(v.Index(i).Interface()) == code(x) {
					return true
				}
			}
			return false
		},
		"add":  func(a, b int) int { return a + b },
		"mask": maskFigure,
		"join": strings.Join,
		"seq": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"pathf": func(format string, args ...any) string { return fmt.Sprintf(format, args...) },
		"lines": func(s string) []string { return strings.Split(s, "\n") },
	}
}

// maskFigure hides small figures: never a figure for fewer than 5
// families (1 to 4 show as "< 5").
func maskFigure(n int) string {
	if n > 0 && n < 5 {
		return "< 5"
	}
	return fmt.Sprint(n)
}

// dtLocal is the value of a datetime-local input, in Paris time.
func dtLocal(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(paris).Format("2006-01-02T15:04")
}

// parseLocal reads a datetime-local value as Paris time.
func parseLocal(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, paris); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseTemplates(as assets) map[string]map[string]*pageTemplate {
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]map[string]*pageTemplate{}
	for _, lang := range []string{"fr", "en"} {
		base := template.Must(template.New("layout").Funcs(funcs(lang)).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
		out[lang] = map[string]*pageTemplate{}
		for _, e := range entries {
			name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
			if name == "layout" || name == "partials" {
				continue
			}
			t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, e))
			out[lang][name] = &pageTemplate{t: t}
		}
	}
	return out
}

// view is what every page template receives.
type view struct {
	Lang, Title string
	User        *store.Account
	CSRF        string
	Nav         []navItem
	Path        string
	Flash       string
	Errs        formErrors
	Assets      assets
	Demo        bool
	Signin      bool
	D           any
}

type navItem struct {
	Href, FR, EN string
	Current      bool
}

func (a *Admin) nav(r *rq) []navItem {
	if r.acc == nil {
		return nil
	}
	var items []navItem
	switch r.acc.Role {
	case store.RoleAgent:
		items = []navItem{{Href: "/admin/informations/nouvelle", FR: "Rédiger", EN: "Compose"}, {Href: "/admin/informations", FR: "Informations", EN: "Notices"}}
	case store.RoleAdmin:
		items = []navItem{{Href: "/admin/agents", FR: "Agents", EN: "Agents"}, {Href: "/admin/conventions", FR: "Convention", EN: "Convention"},
			{Href: "/admin/informations", FR: "Informations", EN: "Notices"}, {Href: "/admin/journal", FR: "Journal", EN: "Audit log"}}
	case store.RoleOperator:
		items = []navItem{{Href: "/admin/tableau-de-bord", FR: "Tableau de bord", EN: "Dashboard"}, {Href: "/admin/conventions", FR: "Conventions", EN: "Conventions"},
			{Href: "/admin/collectivites", FR: "Collectivités", EN: "Local authorities"}, {Href: "/admin/ecoles", FR: "Écoles", EN: "Schools"},
			{Href: "/admin/ents", FR: "ENT", EN: "ENTs"}, {Href: "/admin/comptes", FR: "Comptes", EN: "Accounts"},
			{Href: "/admin/informations", FR: "Informations", EN: "Notices"}, {Href: "/admin/journal", FR: "Journal", EN: "Audit log"}}
	case store.RoleViewer:
		items = []navItem{{Href: "/admin/informations", FR: "Informations publiées", EN: "Published notices"}, {Href: "/admin/conventions", FR: "Conventions", EN: "Conventions"}}
	}
	path := r.c.Path()
	best := -1
	for i, it := range items {
		if strings.HasPrefix(path, it.Href) && (best < 0 || len(it.Href) > len(items[best].Href)) {
			best = i
		}
	}
	if best >= 0 {
		items[best].Current = true
	}
	return items
}

// render writes a page with status.
func (a *Admin) render(r *rq, status int, name, title string, fe formErrors, data any) error {
	v := view{Lang: r.lang, Title: title, User: r.acc, CSRF: r.csrf(), Nav: a.nav(r), Path: r.c.Path(),
		Flash: r.flash(), Errs: fe, Assets: a.assets, Demo: a.demo, D: data}
	return a.execute(r, status, name, "layout", v)
}

func (a *Admin) execute(r *rq, status int, name, tmpl string, v any) error {
	pt, ok := a.pages[r.lang][name]
	if !ok {
		return fmt.Errorf("admin: no template %q", name)
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, tmpl, v); err != nil {
		a.log.Error("admin: template failed", "page", name, "error", err)
		return err
	}
	r.c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	r.c.Set(fiber.HeaderContentLanguage, r.lang)
	return r.c.Status(status).Send(buf.Bytes())
}

// errorData is what the error page shows.
type errorData struct {
	Message string
	Status  int
}

func (a *Admin) renderError(r *rq, status int, msg string) error {
	return a.render(r, status, "error", r.L("Erreur", "Error"), formErrors{}, errorData{Message: msg, Status: status})
}

// flashes are the short confirmations passed in the query string after a
// redirect (?ok=published…).
var flashes = map[string]conventions.Label{
	"published":      {FR: "Information publiée.", EN: "Notice published."},
	"scheduled":      {FR: "Information programmée.", EN: "Notice scheduled."},
	"corrected":      {FR: "Correction enregistrée : les familles voient la nouvelle version et en reçoivent la notification.", EN: "Correction saved: families see the new version and are notified of it."},
	"corrected_feed": {FR: "Correction enregistrée : les familles voient la nouvelle version, sans nouvelle notification (seul un changement de titre, de texte ou de priorité est notifié, une fois par jour au plus).", EN: "Correction saved: families see the new version, without a new notification (only a change of title, text or priority is notified, at most once a day)."},
	"withdrawn":      {FR: "Information retirée : elle n'apparaît plus aux familles.", EN: "Notice withdrawn: families no longer see it."},
	"attached":       {FR: "Pièce jointe ajoutée : les familles la voient avec l'information.", EN: "Attachment added: families see it with the notice."},
	"detached":       {FR: "Pièce jointe retirée.", EN: "Attachment removed."},
	"revoked":        {FR: "Compte révoqué : son jeton ne fonctionne plus.", EN: "Account revoked: its token no longer works."},
	"activated":      {FR: "Convention activée.", EN: "Convention activated."},
	"suspended":      {FR: "Convention suspendue : plus aucune publication n'est possible.", EN: "Convention suspended: no more publications are possible."},
	"amended":        {FR: "Avenant enregistré (nouvelle version).", EN: "Amendment recorded (new version)."},
	"created":        {FR: "Enregistré.", EN: "Saved."},
	"signedout":      {FR: "Vous êtes déconnecté.", EN: "You are signed out."},
}

// flash is the confirmation the query string names, in the page's
// language ("" for none or an unknown one).
func (r *rq) flash() string {
	f, ok := flashes[r.c.Query("ok")]
	if !ok {
		return ""
	}
	return r.L(f.FR, f.EN)
}

// code is a code of a list (a level, a category…) as templates handle it:
// a plain string or a named string type (conventions.Level), "" for
// anything else.
func code(v any) string {
	if r := reflect.ValueOf(v); r.Kind() == reflect.String {
		return r.String()
	}
	return ""
}
