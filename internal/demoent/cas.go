package demoent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/connect/cas/casanswer"
	"github.com/liaison-ent/liaison/internal/store"
)

// The demo ENT is also a small CAS 2.0/3.0 server (demo only: `liaison
// serve` never mounts this package), registered by the demo seed as each
// demo ENT's CAS connector (base URL {base}/demo/ent, CAS under /cas):
// its login page lets the newcomer pick a demo parent (or a teacher, who
// is refused), issues a one-time service ticket bound to Liaison's
// service URL, and its validation answers exactly as entcore's "Generic"
// type does (package casanswer), with made-up names and e-mails that
// Liaison must drop.

// CASPath is the demo ENT's CAS server, under Path.
const CASPath = Path + "cas"

// casTicketTTL: how long a demo ticket can be validated.
const casTicketTTL = 2 * time.Minute

// DemoTeacher is the demo ENT's teacher: the CAS login offers them too,
// and Liaison refuses them (« réservé aux parents »).
const DemoTeacher = "demo-enseignant"

type casTicket struct {
	service, entID, user string
	expires              time.Time
}

type casServer struct {
	p  *page
	mu sync.Mutex
	// tickets: one-time, bound to their service URL.
	tickets map[string]casTicket
	login   *template.Template
}

func (p *page) mountCAS(app *fiber.App) {
	s := &casServer{p: p, tickets: map[string]casTicket{}, login: template.Must(template.New("login").Parse(loginHTML))}
	app.Get(CASPath+"/login", s.loginPage)
	app.Get(CASPath+"/serviceValidate", s.validate)
	app.Get(CASPath+"/p3/serviceValidate", s.validate)
}

// entOfService is the ENT whose Liaison service URL service is
// ({base}/parent/{ent}/cas, with or without a query: the parent page adds
// its sign-in's ?s=); "" for anything else (the demo CAS server signs in
// to Liaison's demo parent pages only).
func (s *casServer) entOfService(service string) string {
	prefix := strings.TrimRight(s.p.d.BaseURL, "/") + "/parent/"
	path, _, _ := strings.Cut(service, "?")
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return ""
	}
	id, ok := strings.CutSuffix(rest, "/cas")
	if !ok {
		return ""
	}
	id, err := url.PathUnescape(id)
	if err != nil || s.p.ent(id) == nil {
		return ""
	}
	return id
}

type loginChoice struct {
	Label, URL string
}

// loginPage is the ENT's sign-in: ?service=… shows the demo people to
// pick; ?service=…&user=… signs them in and goes back to the service with
// a ticket.
func (s *casServer) loginPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The login shows in the ENT's iframe too (the demo ENT's own page).
	c.Response().Header.Del(fiber.HeaderXFrameOptions)
	c.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'self'")
	// Fiber's values live as long as the request: the ticket keeps copies.
	service := strings.Clone(c.Query("service"))
	entID := s.entOfService(service)
	if entID == "" {
		return c.Status(fiber.StatusBadRequest).SendString("Service inconnu de l'ENT de démonstration.")
	}
	ctx := c.UserContext()
	if user := strings.Clone(c.Query("user")); user != "" {
		if !s.known(c, entID, user) {
			return c.Status(fiber.StatusForbidden).SendString("Utilisateur inconnu de l'ENT de démonstration.")
		}
		st := "ST-demo-" + randomHex(16)
		s.mu.Lock()
		now := time.Now()
		for k, t := range s.tickets {
			if now.After(t.expires) {
				delete(s.tickets, k)
			}
		}
		s.tickets[st] = casTicket{service: service, entID: entID, user: user, expires: now.Add(casTicketTTL)}
		s.mu.Unlock()
		sep := "?"
		if strings.Contains(service, "?") {
			sep = "&"
		}
		return c.Redirect(service+sep+"ticket="+url.QueryEscape(st), fiber.StatusFound)
	}
	ent := s.p.ent(entID)
	var people []loginChoice
	for _, id := range s.p.d.Data.ParentIDs[entID] {
		people = append(people, loginChoice{Label: s.p.describe(ctx, entID, id),
			URL: CASPath + "/login?" + url.Values{"service": {service}, "user": {id}}.Encode()})
	}
	people = append(people, loginChoice{Label: "Enseignant (démo) — refusé : le service est réservé aux parents",
		URL: CASPath + "/login?" + url.Values{"service": {service}, "user": {DemoTeacher}}.Encode()})
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return s.login.Execute(c.Response().BodyWriter(), map[string]any{"ENT": ent.Name, "People": people})
}

// known: a parent the demo ENT's directory holds (the demo's, or one a
// test synced through the API), or the demo teacher.
func (s *casServer) known(c *fiber.Ctx, entID, user string) bool {
	if user == DemoTeacher {
		return true
	}
	_, err := s.p.d.Store.GetParent(c.UserContext(), entID, user)
	return err == nil
}

// validate is /cas/serviceValidate: a ticket is consumed by its first
// validation; unknown, used or expired is INVALID_TICKET, another service
// INVALID_SERVICE.
func (s *casServer) validate(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/xml; charset=UTF-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	st, service := c.Query("ticket"), c.Query("service")
	if st == "" || service == "" {
		return c.Send(casanswer.Failure("INVALID_REQUEST", "Missing parameter"))
	}
	s.mu.Lock()
	t, ok := s.tickets[st]
	delete(s.tickets, st)
	s.mu.Unlock()
	now := time.Now()
	switch {
	case !ok || now.After(t.expires):
		return c.Send(casanswer.Failure("INVALID_TICKET", "Ticket "+st+" not recognized"))
	case t.service != service:
		return c.Send(casanswer.Failure("INVALID_SERVICE", "Ticket "+st+" does not match supplied service"))
	}
	u, err := s.user(c, t.entID, t.user)
	if err != nil {
		return c.Send(casanswer.Failure("INTERNAL_ERROR", "Directory unavailable"))
	}
	return c.Send(casanswer.Success(u, casanswer.VariantUAI, now))
}

// user is what the demo ENT's directory releases of a person: for a demo
// parent, the schools and classes of their children (from the demo
// directory), with made-up names, login, birth date and e-mail.
func (s *casServer) user(c *fiber.Ctx, entID, id string) (casanswer.User, error) {
	n := len(id) % 7
	first := []string{"Camille", "Dominique", "Sacha", "Alix", "Noa", "Charlie", "Maxime"}[n]
	u := casanswer.User{ExternalID: id, Login: "demo." + id, FirstName: first, LastName: "Démo",
		DisplayName: first + " Démo", BirthDate: "1985-01-01", Email: "demo." + id + "@ent-demo.invalid", HasLoggedIn: true}
	if id == DemoTeacher {
		u.Profile = "Teacher"
		if e := s.p.ent(entID); e != nil && len(e.Schools) > 0 {
			u.Schools = []casanswer.School{{Name: s.schoolName(e.Schools[0]), UAI: e.Schools[0], Main: true}}
		}
		return u, nil
	}
	u.Profile = "Relative"
	par, err := s.p.d.Store.GetParent(c.UserContext(), entID, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	index := map[string]int{}
	for _, ch := range par.Children {
		i, ok := index[ch.UAI]
		if !ok {
			i = len(u.Schools)
			index[ch.UAI] = i
			u.Schools = append(u.Schools, casanswer.School{Name: strings.ToUpper(s.schoolName(ch.UAI)), UAI: ch.UAI,
				ExternalID: "AAF-" + ch.UAI, Main: i == 0, Type: "ECOLE"})
		}
		if ch.Class != "" {
			u.Schools[i].Classes = append(u.Schools[i].Classes, ch.Class)
		}
	}
	return u, nil
}

func (s *casServer) schoolName(uai string) string {
	for _, sc := range s.p.d.Data.Schools {
		if sc.UAI == uai {
			return sc.Name
		}
	}
	return uai
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ParentPageURL is a demo ENT's parent page sign-in on Liaison: what the
// demo ENT's link « Informations de la commune » opens.
func ParentPageURL(base, entID string, iframe bool) string {
	u := fmt.Sprintf("%s/parent/%s/connexion", strings.TrimRight(base, "/"), url.PathEscape(entID))
	if iframe {
		u += "?iframe=1"
	}
	return u
}

const loginHTML = `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion — ENT de démonstration</title>
<style>
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f6f9}
header{background:#123d6a;color:#fff;padding:.75rem 1rem}h1{font-size:1.2rem;margin:0}
main{padding:1rem;max-width:40rem;margin:0 auto}ul{list-style:none;padding:0}li{margin:.4rem 0}
a{display:block;padding:.6rem .8rem;min-height:44px;box-sizing:border-box;border:2px solid #123d6a;border-radius:6px;color:#123d6a;background:#fff;text-decoration:none}
a:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 5px #ffd400}
</style>
</head>
<body>
<header><h1>Connexion à l'ENT de démonstration</h1></header>
<main>
<p>{{.ENT}} — serveur CAS de démonstration. Choisissez la personne connectée :</p>
<ul>{{range .People}}<li><a href="{{.URL}}">{{.Label}}</a></li>{{end}}</ul>
</main>
</body>
</html>
`
