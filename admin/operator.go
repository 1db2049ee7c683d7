package admin

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

type collectivitesData struct {
	Items []store.Collectivite
	Form  map[string]string
}

func (a *Admin) collectivitesPage(r *rq) error {
	return a.renderCollectivites(r, fiber.StatusOK, map[string]string{"kind": store.KindCommune}, formErrors{})
}

func (a *Admin) renderCollectivites(r *rq, status int, form map[string]string, fe formErrors) error {
	items, err := r.collectivites(5000)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, status, "collectivites", r.L("Collectivités", "Local authorities"), fe, collectivitesData{Items: items, Form: form})
}

func fieldsOf(s string) []string { return strings.Fields(strings.ReplaceAll(s, ",", " ")) }

// orNil is nil for an empty list (a field left out of the request).
func orNil(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

func (a *Admin) collectiviteCreate(r *rq) error {
	c := r.c
	form := map[string]string{"kind": c.FormValue("kind"), "name": strings.TrimSpace(c.FormValue("name")), "insee": strings.TrimSpace(c.FormValue("insee")),
		"siren": strings.TrimSpace(c.FormValue("siren")), "members": c.FormValue("members"), "departements": c.FormValue("departements")}
	_, err := a.core.CreateCollectivite(c.UserContext(), r.principal(), app.CreateCollectiviteRequest{
		Kind: form["kind"], Name: form["name"], INSEE: form["insee"], SIREN: form["siren"],
		// An empty list is no list: only an EPCI has members.
		Members: orNil(fieldsOf(form["members"])), Departements: orNil(fieldsOf(form["departements"])),
	})
	if err == nil {
		return c.Redirect("/admin/collectivites?ok=created", fiber.StatusSeeOther)
	}
	return a.formFailure(r, err, func(fe formErrors, status int) error { return a.renderCollectivites(r, status, form, fe) },
		map[string]bool{"kind": true, "name": true, "insee": true, "siren": true, "members": true, "departements": true})
}

// formFailure renders a validation refusal on its form, or an error page.
func (a *Admin) formFailure(r *rq, err error, again func(formErrors, int) error, known map[string]bool) error {
	status, ok := r.refusal(err)
	if !ok {
		return a.failurePage(r, err)
	}
	return again(mapErrors(r.uiErr(err), known, nil), status)
}

type schoolsData struct {
	Items []store.School
	Form  map[string]string
}

func (a *Admin) schoolsPage(r *rq) error {
	return a.renderSchools(r, fiber.StatusOK, map[string]string{"level": string(store.LevelMaternelle)}, formErrors{})
}

func (a *Admin) renderSchools(r *rq, status int, form map[string]string, fe formErrors) error {
	items, err := r.schools(20000)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, status, "schools", r.L("Écoles", "Schools"), fe, schoolsData{Items: items, Form: form})
}

func (a *Admin) schoolCreate(r *rq) error {
	c := r.c
	form := map[string]string{"uai": strings.TrimSpace(c.FormValue("uai")), "name": strings.TrimSpace(c.FormValue("name")),
		"commune": strings.TrimSpace(c.FormValue("commune")), "level": c.FormValue("level")}
	_, err := a.core.CreateSchool(c.UserContext(), r.principal(), app.CreateSchoolRequest{
		UAI: form["uai"], Name: form["name"], Commune: form["commune"], Level: conventions.Level(form["level"]),
	})
	if err == nil {
		return c.Redirect("/admin/ecoles?ok=created", fiber.StatusSeeOther)
	}
	return a.formFailure(r, err, func(fe formErrors, status int) error { return a.renderSchools(r, status, form, fe) },
		map[string]bool{"uai": true, "name": true, "commune": true, "level": true})
}

type entsData struct {
	Items   []store.ENT
	Form    map[string]string
	Created map[string]string
}

func (a *Admin) entsPage(r *rq) error {
	return a.renderENTs(r, fiber.StatusOK, map[string]string{"key_alg": store.AlgHS256}, formErrors{}, nil)
}

func (a *Admin) renderENTs(r *rq, status int, form map[string]string, fe formErrors, created map[string]string) error {
	items, err := r.ents()
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, status, "ents", r.L("Intégrations ENT", "ENT integrations"), fe, entsData{Items: items, Form: form, Created: created})
}

func (a *Admin) entCreate(r *rq) error {
	c := r.c
	form := map[string]string{"name": strings.TrimSpace(c.FormValue("name")), "origins": c.FormValue("origins"), "schools": c.FormValue("schools"),
		"key_alg": c.FormValue("key_alg"), "public_key": strings.TrimSpace(c.FormValue("public_key"))}
	created, err := a.core.CreateENT(c.UserContext(), r.principal(), app.CreateENTRequest{
		Name: form["name"], Origins: nonNil(fieldsOf(form["origins"])), Schools: nonNil(fieldsOf(form["schools"])),
		KeyAlg: form["key_alg"], PublicKey: form["public_key"],
	})
	if err == nil {
		// Keys are shown once, on this page.
		return a.renderENTs(r, fiber.StatusCreated, map[string]string{"key_alg": store.AlgHS256}, formErrors{},
			map[string]string{"name": created.ENT.Name, "api_key": created.APIKey, "hmac_secret": created.HMACSecret})
	}
	return a.formFailure(r, err, func(fe formErrors, status int) error { return a.renderENTs(r, status, form, fe, nil) },
		map[string]bool{"name": true, "origins": true, "schools": true, "key_alg": true, "public_key": true})
}

// dashRow is one collectivité of the deployment dashboard.
type dashRow struct {
	ID, Name, Kind       string
	InForce, Expiring    int
	NextEnd              string
	Agents, ActiveAgents int
	NoticesWeek          int
	PerWeek              string // average over 4 weeks
	Reached, Targeted    int
	ReachRate            string
	ReachKnown           bool
	nextEnd              time.Time
}

type dashboardData struct {
	Rows         []dashRow
	InForce      int
	Expiring     int
	Notices      int
	StatsMissing bool
	GeneratedAt  time.Time
}

func (a *Admin) dashboardData(r *rq) (dashboardData, error) {
	now := a.now()
	d := dashboardData{GeneratedAt: now}
	cols, err := r.collectivites(5000)
	if err != nil {
		return d, err
	}
	convs, err := r.conventions(10000)
	if err != nil {
		return d, err
	}
	ctx, p := r.c.UserContext(), r.principal()
	agents, err := a.core.ListAccounts(ctx, p, app.ListAccountsRequest{Role: store.RoleAgent, Page: store.Page{Limit: 20000}})
	if err != nil {
		return d, err
	}
	// Notices of the last four weeks (listed newest first).
	since := now.Add(-28 * 24 * time.Hour)
	var notices []store.Notice
	const pageSize = 200
	for cursor := ""; ; {
		page, err := a.core.Notices(ctx, p, store.Page{Cursor: cursor, Limit: pageSize})
		if err != nil {
			return d, err
		}
		old := false
		for _, n := range page {
			if n.CreatedAt.Before(since) {
				old = true
				continue
			}
			notices = append(notices, n)
		}
		if old || len(page) < pageSize {
			break
		}
		cursor = page[len(page)-1].ID
	}
	rows := map[string]*dashRow{}
	for _, c := range cols {
		rows[c.ID] = &dashRow{ID: c.ID, Name: c.Name, Kind: c.Kind}
	}
	for _, c := range convs {
		row := rows[c.CollectiviteID]
		if row == nil || c.EffectiveStatus != store.ConventionActive {
			continue
		}
		end := c.ValidUntil.End()
		if c.ValidFrom.Valid() && now.Before(c.ValidFrom.Start()) {
			continue
		}
		row.InForce++
		d.InForce++
		if end.Sub(now) <= 60*24*time.Hour {
			row.Expiring++
			d.Expiring++
		}
		if row.nextEnd.IsZero() || end.Before(row.nextEnd) {
			row.nextEnd, row.NextEnd = end, dateText(r.lang, c.ValidUntil)
		}
	}
	activeAuthor := map[string]bool{}
	for _, n := range notices {
		activeAuthor[n.AuthorID] = true
		row := rows[n.CollectiviteID]
		if row == nil {
			continue
		}
		if now.Sub(n.CreatedAt) <= 7*24*time.Hour {
			row.NoticesWeek++
			d.Notices++
		}
		st, err := a.core.Stats(ctx, p, n.ID)
		if err != nil {
			d.StatsMissing = true
			continue
		}
		// Only notices whose families and readers are both given count.
		if st.Read != nil && st.FamiliesTargeted.Value != nil && st.Read.Value != nil {
			row.Targeted += *st.FamiliesTargeted.Value
			row.Reached += *st.Read.Value
			row.ReachKnown = true
		}
	}
	perWeek := map[string]int{}
	for _, n := range notices {
		perWeek[n.CollectiviteID]++
	}
	for _, ag := range agents {
		if row := rows[ag.CollectiviteID]; row != nil {
			row.Agents++
			if activeAuthor[ag.ID] {
				row.ActiveAgents++
			}
		}
	}
	for _, row := range rows {
		row.PerWeek = strings.Replace(fmt.Sprintf("%.1f", float64(perWeek[row.ID])/4), ".", r.L(",", "."), 1)
		row.ReachRate = r.L("indisponible", "unavailable")
		if row.ReachKnown && row.Targeted >= 5 {
			row.ReachRate = fmt.Sprintf("%d %%", row.Reached*100/row.Targeted)
		} else if row.ReachKnown {
			row.ReachRate = "< 5"
		}
		d.Rows = append(d.Rows, *row)
	}
	sort.Slice(d.Rows, func(i, j int) bool { return d.Rows[i].Name < d.Rows[j].Name })
	return d, nil
}

func (a *Admin) dashboard(r *rq) error {
	d, err := a.dashboardData(r)
	if err != nil {
		return a.failurePage(r, err)
	}
	return a.render(r, fiber.StatusOK, "dashboard", r.L("Tableau de bord du déploiement", "Deployment dashboard"), formErrors{}, d)
}

// csvText is a text cell that spreadsheet software will not take for a
// formula (a collectivité named "=HYPERLINK(…)" stays text).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// dashboardCSV exports the dashboard for steering committees: UTF-8 with
// a byte-order mark and semicolons, as spreadsheet software in France
// expects.
func (a *Admin) dashboardCSV(r *rq) error {
	d, err := a.dashboardData(r)
	if err != nil {
		return a.failurePage(r, err)
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	_ = w.Write([]string{r.L("collectivité", "local authority"), r.L("type", "kind"), r.L("conventions en vigueur", "conventions in force"),
		r.L("dont expirant sous 60 jours", "of which ending within 60 days"), r.L("fin de validité", "valid until"), r.L("agents", "agents"),
		r.L("agents actifs (28 jours)", "active agents (28 days)"), r.L("informations (7 derniers jours)", "notices (last 7 days)"),
		r.L("informations par semaine (moyenne 4 semaines)", "notices per week (4-week average)"), r.L("taux d'atteinte", "reach rate")})
	for _, row := range d.Rows {
		_ = w.Write([]string{csvText(row.Name), label(kindLabels, row.Kind, r.lang), fmt.Sprint(row.InForce), fmt.Sprint(row.Expiring), row.NextEnd,
			fmt.Sprint(row.Agents), fmt.Sprint(row.ActiveAgents), fmt.Sprint(row.NoticesWeek), row.PerWeek, row.ReachRate})
	}
	w.Flush()
	r.c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	r.c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="liaison-deploiement-%s.csv"`, a.now().In(paris).Format("2006-01-02")))
	return r.c.Send(buf.Bytes())
}
