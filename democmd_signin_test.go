package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/demoent"
)

// TestDemoParentSignsInThroughTheDemoENT: under `liaison demo`, the demo
// ENT page links to the parent page (new tab and iframe); the parent
// page's sign-in goes to the demo ENT's CAS server, which offers the demo
// parents; picking one lands signed in on the parent page; the demo
// teacher is refused; the demo prints the parent page's address.
func TestDemoParentSignsInThroughTheDemoENT(t *testing.T) {
	d := startDemo(t)
	base := d.base
	e := d.creds.ENTs[0]
	parentPage := base + "/parent/" + url.PathEscape(e.ID) + "/"
	if printed := d.out.String(); !strings.Contains(printed, "Parent page: open "+parentPage) {
		t.Errorf("the demo does not print the parent page:\n%s", printed)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (int, string, string) {
		t.Helper()
		res, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b), res.Request.URL.String()
	}

	// The demo ENT page: the link, in a new tab, and the iframe variant.
	_, page, _ := get(base + demoent.Path + "?parent=" + url.QueryEscape(e.ID+":"+e.Parents[0]))
	link := demoent.ParentPageURL(base, e.ID, false)
	if !strings.Contains(page, `href="`+link+`" target="_blank" rel="noopener">Informations de la commune</a>`) {
		t.Fatalf("no « Informations de la commune » link to %s:\n%s", link, page)
	}
	_, page, _ = get(base + demoent.Path + "?vue=iframe&parent=" + url.QueryEscape(e.ID+":"+e.Parents[0]))
	if !strings.Contains(page, `<iframe class="liaison" src="`+demoent.ParentPageURL(base, e.ID, true)+`"`) {
		t.Fatalf("no iframe of the parent page:\n%s", page)
	}

	// The link: the demo ENT's CAS login, which offers the demo parents.
	status, login, at := get(link)
	if status != 200 || !strings.HasPrefix(at, base+demoent.CASPath+"/login?service=") {
		t.Fatalf("the link lands on %s (%d)", at, status)
	}
	choice := regexp.MustCompile(`<a href="([^"]+user=` + regexp.QuoteMeta(url.QueryEscape(e.Parents[0])) + `)"`).FindStringSubmatch(login)
	if choice == nil {
		t.Fatalf("the demo CAS login does not offer %s:\n%s", e.Parents[0], login)
	}
	status, feed, at := get(base + strings.ReplaceAll(choice[1], "&amp;", "&"))
	if status != 200 || at != parentPage || !strings.Contains(feed, "Se déconnecter") {
		t.Fatalf("after picking a demo parent: %d at %s:\n%.1500s", status, at, feed)
	}

	// The demo teacher: refused, a page says the service is for parents.
	jar2, _ := cookiejar.New(nil)
	client.Jar = jar2
	_, login, _ = get(link)
	teacher := regexp.MustCompile(`<a href="([^"]+user=` + demoent.DemoTeacher + `)"`).FindStringSubmatch(login)
	if teacher == nil {
		t.Fatalf("no demo teacher:\n%s", login)
	}
	status, refused, _ := get(base + strings.ReplaceAll(teacher[1], "&amp;", "&"))
	if status != 403 || !strings.Contains(refused, "Ce service est réservé aux parents d&#39;élèves.") {
		t.Fatalf("the demo teacher: %d\n%.1500s", status, refused)
	}
}
