package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The notice page of a notice to a class shows, per school and level, the
// API's « classe inconnue » — the families whose child's class the ENT
// did not release — in a column labelled « Classe inconnue » ("Class
// unknown"), with the note that says what it counts; a notice to whole
// schools has no such column.
func TestNoticePageShowsClassUnknown(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	label := "Agent restauration, Saint-Fuscien"
	demoN := w.demoNotice(t, "cantine")
	uai := demoN.Audience.Schools[0]
	// A class of that school, and the ENT that serves it.
	var entID, level, class string
	for _, e := range w.data.ENTs {
		if !slices.Contains(e.Schools, uai) {
			continue
		}
		for _, id := range w.data.AllParentIDs[e.ID] {
			p, err := w.store.GetParent(ctx, e.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Children {
				if c.UAI == uai && class == "" {
					entID, level, class = e.ID, string(c.Level), c.Class
				}
			}
		}
	}
	if class == "" {
		t.Fatalf("no demo child in %s", uai)
	}
	var ps []store.Parent
	for i := range 7 {
		ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("uc-%d", i), Children: []store.Child{{UAI: uai, Level: conventions.Level(level)}}})
	}
	if _, err := w.store.UpsertParents(ctx, entID, ps, testNow, store.AuditEntry{Action: "parents.sync", At: testNow}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"category": "cantine", "title": "Sortie de la classe", "body": "Texte.",
		"audience":   map[string]any{"schools": []string{uai}, "classes": []string{class}},
		"expires_at": testNow.AddDate(0, 0, 5).Format("2006-01-02T15:04:05Z07:00")})
	status, raw := w.callAPI(t, "POST", "/v1/notices", w.token(t, label), string(body))
	if status != 201 {
		t.Fatalf("publishing to class %s: %d %s", class, status, raw)
	}
	var pub struct {
		Notice struct {
			ID string `json:"id"`
		} `json:"notice"`
	}
	if err := json.Unmarshal(raw, &pub); err != nil {
		t.Fatal(err)
	}
	id := pub.Notice.ID
	key := "reach." + uai + "." + level + ".class_unknown"
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			b := w.browser(t)
			b.lang = lang
			b.signIn(label)
			p := must(t, b.get("/admin/informations/"+id), 200)
			reach := w.apiJSON(t, w.token(t, label), lang, "/v1/notices/"+id+"/reach")
			stats := w.apiJSON(t, w.token(t, label), lang, "/v1/notices/"+id+"/stats")
			want, got := apiFigures(t, lang, stats, reach), pageFigures(t, p.Body)
			if _, ok := want[key]; !ok {
				t.Fatalf("the API gives no %s: %v", key, reach)
			}
			for k, v := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("the page does not show %s (the API gives %q)", k, v)
				} else if g != v {
					t.Errorf("%s: the page shows %q, the API gives %q", k, g, v)
				}
			}
			if w := map[string]string{"fr": "5 à 9", "en": "5 to 9"}[lang]; got[key] != w {
				t.Errorf("%s: %q, want %q (7 families)", key, got[key], w)
			}
			col := map[string]string{"fr": ">Classe inconnue<", "en": ">Class unknown<"}[lang]
			if !strings.Contains(p.Body, col) || !strings.Contains(p.Body, `id="class-unknown-note"`) {
				t.Errorf("the page lacks the column %q or its note", col)
			}

			// The demo notice is to whole schools: no such column.
			p = must(t, b.get("/admin/informations/"+demoN.ID), 200)
			if strings.Contains(p.Body, col) || strings.Contains(p.Body, "class_unknown") {
				t.Errorf("a notice to whole schools shows « classe inconnue »")
			}
		})
	}
}
