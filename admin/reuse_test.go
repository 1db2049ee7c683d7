package admin

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// An agent starts next week's menu from this week's, from the notice's
// page: the compose form comes filled in — the same dishes on the same
// days of the following week, the same schools — and says where it comes
// from; sent as it is, it publishes a new notice and leaves the model as
// it was. "Dupliquer" fills in the same notice.
func TestReuseFromTheNoticePage(t *testing.T) {
	w, b, n, _, page := agentOnDemoNotice(t)
	next := "/admin/informations/nouvelle?depuis=" + n.ID + "&amp;semaine=suivante"
	if !strings.Contains(page.Body, `href="/admin/informations/nouvelle?depuis=`+n.ID+`"`) || !strings.Contains(page.Body, next) {
		t.Fatalf("the notice page offers no reuse: %.3000s", page.Body)
	}
	p := must(t, b.get(html.UnescapeString(next)), 200)
	if !strings.Contains(p.Body, `id="reused-from"`) || !strings.Contains(p.Body, "Menu de la semaine suivante, à partir de") {
		t.Fatalf("the form does not say where it comes from: %.2000s", p.Body)
	}
	form := submitted(t, p.Body, "compose")
	if form.Get("title") != n.Title || form.Get("category") != "cantine" || len(form["audience.schools"]) != len(n.Audience.Schools) {
		t.Fatalf("form: %v", form)
	}
	menu, _ := decodeContent(n.Content)
	if form.Get("menu.0.date") != shiftDays(t, menu[0].Date, 7) || form.Get("menu.0.1.name") != menu[0].Dishes[1].Name {
		t.Fatalf("menu.0: %s %q, want %s %q", form.Get("menu.0.date"), form.Get("menu.0.1.name"), shiftDays(t, menu[0].Date, 7), menu[0].Dishes[1].Name)
	}
	res := must(t, b.post("/admin/informations", form), 303)
	id := regexp.MustCompile(`ntc_[0-9a-z]+`).FindString(res.Location)
	if id == "" || id == n.ID {
		t.Fatalf("published to %s", res.Location)
	}
	created, err := w.store.GetNotice(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	newMenu, _ := decodeContent(created.Content)
	if newMenu[0].Date != shiftDays(t, menu[0].Date, 7) || created.Title != n.Title {
		t.Fatalf("the new notice: %s %+v", created.Title, newMenu[0])
	}
	model, _ := w.store.GetNotice(t.Context(), n.ID)
	if string(model.Content) != string(n.Content) || model.Version != n.Version {
		t.Fatal("the model changed")
	}

	dup := must(t, b.get("/admin/informations/nouvelle?depuis="+n.ID), 200)
	if !strings.Contains(dup.Body, "Nouvelle information à partir de") || submitted(t, dup.Body, "compose").Get("title") != n.Title {
		t.Fatalf("Dupliquer: %.2000s", dup.Body)
	}
}

// Who may not correct a notice is not offered to reuse it, and a made-up
// address says why.
func TestReuseRefused(t *testing.T) {
	w := newWorld(t)
	n := w.demoNotice(t, "cantine")
	for _, who := range []string{"Administratrice, Saint-Fuscien", "Agent transport, Saint-Fuscien"} {
		b := w.browser(t)
		b.signIn(who)
		if p := b.get("/admin/informations/" + n.ID); strings.Contains(p.Body, "depuis=") {
			t.Errorf("%s is offered to reuse the notice", who)
		}
	}
	b := w.browser(t)
	b.signIn("Agent transport, Saint-Fuscien")
	if p := b.get("/admin/informations/nouvelle?depuis=" + n.ID); p.Status != 403 {
		t.Errorf("another service's agent reusing: %d", p.Status)
	}
	c := w.browser(t)
	c.signIn("Agent restauration, Saint-Fuscien")
	tn := w.demoNotice(t, "cantine")
	if p := c.get("/admin/informations/nouvelle?depuis=" + tn.ID + "x"); p.Status != 404 {
		t.Errorf("an unknown notice: %d", p.Status)
	}
}

func shiftDays(t *testing.T, date string, days int) string {
	t.Helper()
	d, err := timeParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	return d.AddDate(0, 0, days).Format("2006-01-02")
}

// submitted is what a browser sends for the form of id in body: its
// inputs' values (checked boxes and radios only), selects' selected
// options and textareas.
func submitted(t *testing.T, body, id string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if v, _ := attr(n, "id"); n.Type == html.ElementNode && n.Data == "form" && v == id {
			form = n
		}
		for c := n.FirstChild; c != nil && form == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no form #%s", id)
	}
	out := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name, named := attr(n, "name")
			_, disabled := attr(n, "disabled")
			switch {
			case !named || disabled:
			case n.Data == "input":
				typ, _ := attr(n, "type")
				v, _ := attr(n, "value")
				_, checked := attr(n, "checked")
				switch typ {
				case "checkbox", "radio":
					if checked {
						if v == "" {
							v = "on"
						}
						out.Add(name, v)
					}
				case "submit", "button", "file":
				default:
					out.Add(name, v)
				}
			case n.Data == "textarea":
				var sb strings.Builder
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					sb.WriteString(c.Data)
				}
				out.Add(name, sb.String())
			case n.Data == "select":
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if _, sel := attr(c, "selected"); c.Type == html.ElementNode && sel {
						v, _ := attr(c, "value")
						out.Add(name, v)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return out
}

func timeParseDate(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }
