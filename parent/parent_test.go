package parent

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

func principalOf(w *world, ent store.ENT, user string) *app.Principal {
	return &app.Principal{Parent: &app.ParentIdentity{ENT: &ent, UserID: user}}
}

// feedIDs is the parent's whole feed as the application layer gives it.
func feedIDs(t *testing.T, w *world, ent store.ENT, user string) ([]string, app.FeedPage) {
	t.Helper()
	pg, err := w.core.Feed(context.Background(), principalOf(w, ent, user), app.FeedRequest{Limit: app.MaxFeedLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range pg.Items {
		ids = append(ids, it.ID)
	}
	return ids, pg
}

func noticeByTitle(t *testing.T, w *world, prefix string) store.Notice {
	t.Helper()
	for _, n := range w.data.Notices {
		if strings.HasPrefix(n.Title, prefix) {
			return n
		}
	}
	t.Fatalf("no demo notice %q", prefix)
	return store.Notice{}
}

func TestFeedShowsExactlyThatParentsNotices(t *testing.T) {
	w := newWorld(t)
	jf := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, jf.get(base(w.entA.ID)), 200)
	want, _ := feedIDs(t, w, w.entA.ENT, parentJF)
	if got := noticeIDs(p); len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("page shows %v, the parent's feed is %v", got, want)
	}
	strike := noticeByTitle(t, w, "Grève") // Jules Ferry only
	if !strings.Contains(p.Body, template.HTMLEscapeString(strike.Title)) {
		t.Fatalf("the Jules Ferry notice is missing")
	}
	// Menus with allergens by their French names, labels, transport card.
	for _, s := range []string{"Allergènes", "Entrée :", "Ligne", "S12", "Boves-Église", "Remplacement", "Aucun : les élèves seront accueillis",
		"Non lu", "Marquer comme lu", "J&#39;ai pris connaissance", "Tout marquer comme lu", "Cantine", "Transport scolaire"} {
		if !strings.Contains(p.Body, s) {
			t.Errorf("feed page lacks %q", s)
		}
	}
	if !strings.Contains(p.Body, "<html lang=\"fr\">") {
		t.Errorf("not French first")
	}
	// Another parent of the same ENT, at another school: not that notice.
	coq := w.signedIn(t, w.entA.ID, parentCoq)
	p2 := must(t, coq.get(base(w.entA.ID)), 200)
	want2, _ := feedIDs(t, w, w.entA.ENT, parentCoq)
	if got := noticeIDs(p2); !slices.Equal(got, want2) || slices.Contains(got, strike.ID) {
		t.Fatalf("the other parent's page shows %v, want %v (without %s)", got, want2, strike.ID)
	}
	// English through Accept-Language.
	en := w.browser(t)
	en.lang = "en-GB,en;q=0.9"
	en.signIn(w.entA.ID, parentJF, false)
	p3 := must(t, en.get(base(w.entA.ID)), 200)
	for _, s := range []string{"<html lang=\"en\">", "Allergens", "Mark all as read", "School canteen"} {
		if !strings.Contains(p3.Body, s) {
			t.Errorf("English page lacks %q", s)
		}
	}
}

func TestFeedPaging(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	// A parent of the demo with the most notices; pages of feedPageSize.
	b.signIn(w.entA.ID, parentJF, false)
	want, _ := feedIDs(t, w, w.entA.ENT, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"?apres="+url.QueryEscape("garbage")), 400)
	if !strings.Contains(p.Body, "Un paramètre de l&#39;adresse est invalide.") || !strings.Contains(p.Body, "Curseur de pagination invalide.") {
		t.Fatalf("a broken cursor: %.1500s", p.Body)
	}
	if len(want) > feedPageSize {
		t.Fatalf("the test expects one page (%d notices)", len(want))
	}
	if strings.Contains(must(t, b.get(base(w.entA.ID)), 200).Body, "Informations plus anciennes") {
		t.Fatalf("a single page offers older notices")
	}
	// Pages of 2: following « Informations plus anciennes » gives the
	// whole feed, in order, once.
	defer func(n int) { feedPageSize = n }(feedPageSize)
	feedPageSize = 2
	next := regexp.MustCompile(`<a href="([^"]+)">Informations plus anciennes</a>`)
	var got []string
	path := base(w.entA.ID)
	for i := 0; path != "" && i < 20; i++ {
		p := must(t, b.get(path), 200)
		ids := noticeIDs(p)
		if len(ids) > 2 {
			t.Fatalf("page of %d", len(ids))
		}
		got = append(got, ids...)
		path = ""
		if m := next.FindStringSubmatch(p.Body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if !slices.Equal(got, want) || len(want) < 3 {
		t.Fatalf("pages give %v, the feed is %v", got, want)
	}
}

func TestReadAcknowledgeAndMarkAllRead(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)), 200)
	csrf := csrfOf(t, p)
	menu := noticeByTitle(t, w, "Menus du")
	ack := noticeByTitle(t, w, "Grève") // the canteen strike asks for no acknowledgement
	var ackNotice store.Notice
	for _, n := range w.data.Notices {
		if n.AckRequired {
			ackNotice = n
		}
	}
	r := must(t, b.post(base(w.entA.ID)+"lu/"+menu.ID, url.Values{"csrf": {csrf}}), 303)
	if r.Location != base(w.entA.ID)+"#n-"+menu.ID {
		t.Fatalf("back to %q", r.Location)
	}
	_, pg := feedIDs(t, w, w.entA.ENT, parentJF)
	states := map[string]app.FeedItem{}
	for _, it := range pg.Items {
		states[it.ID] = it
	}
	if !states[menu.ID].Read {
		t.Fatalf("menu not read")
	}
	// The page's script: JSON answer.
	j := must(t, b.do("POST", base(w.entA.ID)+"lu/"+ack.ID, strings.NewReader("{}"), "application/json",
		"Origin: http://liaison.test", "Accept: application/json", "X-CSRF-Token: "+csrf), 200)
	var got struct {
		Read        bool `json:"read"`
		UnreadCount int  `json:"unread_count"`
	}
	if err := json.Unmarshal([]byte(j.Body), &got); err != nil || !got.Read || got.UnreadCount != pg.UnreadCount-1 {
		t.Fatalf("JSON read: %s (unread before %d)", j.Body, pg.UnreadCount)
	}
	// Acknowledgement.
	must(t, b.post(base(w.entA.ID)+"confirmation/"+ackNotice.ID, url.Values{"csrf": {csrf}}), 303)
	_, pg = feedIDs(t, w, w.entA.ENT, parentJF)
	for _, it := range pg.Items {
		if it.ID == ackNotice.ID && !it.Acknowledged {
			t.Fatalf("not acknowledged")
		}
	}
	if !strings.Contains(must(t, b.get(base(w.entA.ID)), 200).Body, "Vous avez confirmé en avoir pris connaissance.") {
		t.Fatalf("the page does not show the acknowledgement")
	}
	// A notice that asks for none: app's refusal, in words.
	r = must(t, b.post(base(w.entA.ID)+"confirmation/"+menu.ID, url.Values{"csrf": {csrf}}), 409)
	if !strings.Contains(r.Body, "Cette information ne demande pas de confirmation de lecture.") {
		t.Fatalf("refusal: %.1500s", r.Body)
	}
	// Another parent's notice (not in this feed): not found.
	must(t, b.post(base(w.entA.ID)+"lu/ntc_nope", url.Values{"csrf": {csrf}}), 404)
	// Read all.
	must(t, b.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {csrf}}), 303)
	_, pg = feedIDs(t, w, w.entA.ENT, parentJF)
	if pg.UnreadCount != 0 {
		t.Fatalf("unread %d after read-all", pg.UnreadCount)
	}
	p = must(t, b.get(base(w.entA.ID)), 200)
	if strings.Contains(p.Body, "Non lu") || !strings.Contains(p.Body, "Tout est lu.") {
		t.Fatalf("page after read-all still shows unread notices")
	}
}

func TestPreferencesSave(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"preferences"), 200)
	// Alerts are locked, with app's reason.
	if !strings.Contains(p.Body, `value="feed" id="cat-alerte" disabled`) || !strings.Contains(p.Body, `value="digest" id="cat-alerte-digest" disabled`) ||
		!strings.Contains(p.Body, "Les alertes (fermeture d&#39;école, neige, crise) sont toujours envoyées à toutes les familles.") {
		t.Fatalf("alerts not locked with their reason: %.3000s", p.Body)
	}
	r := must(t, b.post(base(w.entA.ID)+"preferences", url.Values{"csrf": {csrfOf(t, p)}, "muted": {"cantine", "culture"}, "locale": {"en"}}), 303)
	prefs, err := w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prefs.Muted, []string{"cantine", "culture"}) || prefs.Locale != "en" {
		t.Fatalf("saved %v %q", prefs.Muted, prefs.Locale)
	}
	p = must(t, b.get(r.Location), 200)
	if !strings.Contains(p.Body, "Your preferences are saved.") || !strings.Contains(p.Body, `value="feed" id="cat-cantine" checked`) {
		t.Fatalf("after saving: %.3000s", p.Body)
	}
	// Unmuting everything.
	must(t, b.post(base(w.entA.ID)+"preferences", url.Values{"csrf": {csrfOf(t, p)}, "locale": {"fr"}}), 303)
	prefs, _ = w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if len(prefs.Muted) != 0 || prefs.Locale != "fr" {
		t.Fatalf("saved %v %q", prefs.Muted, prefs.Locale)
	}
}

func TestPreferencesCriticalCategoryRefusedWithAppsReason(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"preferences"), 200)
	// A crafted form (the box is disabled on the page).
	r := must(t, b.post(base(w.entA.ID)+"preferences", url.Values{"csrf": {csrfOf(t, p)}, "muted": {"alerte", "cantine"}, "locale": {"en"}}), 422)
	for _, s := range []string{"Certaines catégories ne peuvent pas être désactivées : elles sont toujours envoyées.",
		"« Alertes » ne peut pas être désactivée. Les alertes (fermeture d&#39;école, neige, crise) sont toujours envoyées à toutes les familles.", `role="alert"`} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("refusal lacks %q", s)
		}
	}
	prefs, _ := w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if len(prefs.Muted) != 0 || prefs.Locale != "fr" {
		t.Fatalf("something was saved: %v %q", prefs.Muted, prefs.Locale)
	}
}

func TestNotSyncedParentGetsASentenceNoError(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentUnknown)
	for _, path := range []string{"", "preferences", "notifications"} {
		p := must(t, b.get(base(w.entA.ID)+path), 200)
		if !strings.Contains(p.Body, "Votre ENT n&#39;a pas encore indiqué à Liaison l&#39;école de vos enfants") {
			t.Errorf("%q: no not-synced sentence: %.1500s", path, p.Body)
		}
	}
	// Synced later: the same session sees the feed.
	_, err := w.store.UpsertParents(context.Background(), w.entA.ID, []store.Parent{{ENTID: w.entA.ID, ENTUserID: parentUnknown,
		Children: []store.Child{{UAI: uaiJF, Level: store.LevelElementaire, Class: "CE1"}}}}, testNow, store.AuditEntry{At: testNow, Actor: w.entA.ID, Action: "parents.sync", Target: w.entA.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.core.DirectoryChanged()
	if p := must(t, b.get(base(w.entA.ID)), 200); len(noticeIDs(p)) == 0 {
		t.Fatalf("synced parent sees no notice")
	}
}

func TestAnotherENTsCookieDoesNotOpenThisENTsPage(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	must(t, b.get(base(w.entA.ID)), 200)
	p := must(t, b.get(base(w.entB.ID)), 200)
	if !signedOut(p) || len(noticeIDs(p)) != 0 {
		t.Fatalf("ENT A's session opened ENT B's page: %.1500s", p.Body)
	}
	// Nor a POST.
	b2 := w.signedIn(t, w.entA.ID, parentJF)
	csrf := csrfOf(t, must(t, b2.get(base(w.entA.ID)), 200))
	b2.signIn(w.entA.ID, parentJF, false)
	if r := b2.post(base(w.entB.ID)+"tout-lu", url.Values{"csrf": {csrf}}); r.Status != 401 || !signedOut(r) {
		t.Fatalf("ENT A's session posted to ENT B: %d", r.Status)
	}
}

func TestBadCookiesGiveTheSignedOutPage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	name := w.page.sessionCookie()
	open := func(t *testing.T, cookie string) page {
		t.Helper()
		b := w.browser(t)
		b.cookies[name] = cookie
		return b.get(base(w.entA.ID))
	}
	good := w.sessionCookie(t, w.entA.ID, parentJF, false, "")
	if p := open(t, good); signedOut(p) {
		t.Fatalf("a good cookie is refused")
	}
	t.Run("tampered", func(t *testing.T) {
		raw, _ := base64.RawURLEncoding.DecodeString(good)
		raw[len(raw)/2] ^= 1
		for _, v := range []string{base64.RawURLEncoding.EncodeToString(raw), good[:len(good)-4], "garbage", strings.Repeat("A", 5000)} {
			p := open(t, v)
			if p.Status != 200 || !signedOut(p) {
				t.Fatalf("tampered cookie: %d %.500s", p.Status, p.Body)
			}
			if !strings.Contains(p.Header.Get("Set-Cookie"), name+"=;") {
				t.Fatalf("the bad cookie is not cleared: %v", p.Header.Values("Set-Cookie"))
			}
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := w.sessionCookie(t, w.entA.ID, parentJF, false, "")
		w.clock.Advance(w.page.idle)
		defer w.clock.Advance(-w.page.idle)
		if p := open(t, c); !signedOut(p) {
			t.Fatalf("an idle session still opens the page")
		}
	})
	t.Run("signed out", func(t *testing.T) {
		b := w.signedIn(t, w.entA.ID, parentJF)
		copyOf := b.cookies[name]
		p := must(t, b.get(base(w.entA.ID)), 200)
		out := must(t, b.post(base(w.entA.ID)+"deconnexion", url.Values{"csrf": {csrfOf(t, p)}}), 200)
		if !signedOut(out) {
			t.Fatalf("sign-out page: %.500s", out.Body)
		}
		if p := open(t, copyOf); !signedOut(p) {
			t.Fatalf("a copy of a signed-out cookie still opens the page")
		}
	})
	t.Run("single logout", func(t *testing.T) {
		c := w.sessionCookie(t, w.entA.ID, parentJF, false, "ST-12345-abc")
		other := w.sessionCookie(t, w.entA.ID, parentJF, false, "ST-999")
		if err := w.page.EndSSOSession(ctx, w.entA.ID, "ST-12345-abc"); err != nil {
			t.Fatal(err)
		}
		if p := open(t, c); !signedOut(p) {
			t.Fatalf("the session survives its SSO logout")
		}
		if p := open(t, other); signedOut(p) {
			t.Fatalf("another SSO session was ended")
		}
		// The same SSO id at another ENT is another session.
		if err := w.page.EndSSOSession(ctx, w.entB.ID, "ST-999"); err != nil {
			t.Fatal(err)
		}
		if p := open(t, other); signedOut(p) {
			t.Fatalf("ENT B's logout ended ENT A's session")
		}
	})
	t.Run("erased parent", func(t *testing.T) {
		b := w.signedIn(t, w.entA.ID, parentCoq)
		must(t, b.get(base(w.entA.ID)), 200) // known: the cookie says so now
		copyOf := b.cookies[name]
		if err := w.store.DeleteParent(ctx, w.entA.ID, parentCoq, store.AuditEntry{At: testNow, Actor: w.entA.ID, Action: "parents.erase", Target: w.entA.ID}); err != nil {
			t.Fatal(err)
		}
		w.core.DirectoryChanged()
		if p := b.get(base(w.entA.ID)); !signedOut(p) {
			t.Fatalf("an erased parent's session goes on: %.500s", p.Body)
		}
		// Synced again under the same id: the old session stays ended.
		if _, err := w.store.UpsertParents(ctx, w.entA.ID, []store.Parent{{ENTID: w.entA.ID, ENTUserID: parentCoq,
			Children: []store.Child{{UAI: uaiCoq, Level: store.LevelMaternelle, Class: "MS"}}}}, testNow, store.AuditEntry{At: testNow, Actor: w.entA.ID, Action: "parents.sync", Target: w.entA.ID}); err != nil {
			t.Fatal(err)
		}
		w.core.DirectoryChanged()
		if p := open(t, copyOf); !signedOut(p) {
			t.Fatalf("the erased parent's old session came back")
		}
	})
	t.Run("revoked ENT", func(t *testing.T) {
		c := w.sessionCookie(t, w.entA.ID, parentJF, false, "")
		ent, err := w.store.GetENT(ctx, w.entA.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.store.UpdateENTKeys(ctx, ent.Revoke(w.clock.Now()), store.AuditEntry{At: testNow, Actor: "op", Action: "ents.revoke", Target: ent.ID}); err != nil {
			t.Fatal(err)
		}
		w.core.ENTChanged(ent.ID)
		p := open(t, c)
		if p.Status != 403 || !strings.Contains(p.Body, "Liaison n&#39;est plus ouvert pour cet ENT.") || len(noticeIDs(p)) != 0 {
			t.Fatalf("revoked ENT: %d %.800s", p.Status, p.Body)
		}
		if !strings.Contains(p.Header.Get("Set-Cookie"), name+"=;") {
			t.Fatalf("the session cookie is not cleared")
		}
	})
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	w := newWorldWith(t, map[string]string{"LIAISON_PARENT_SESSION_IDLE": "30m", "LIAISON_PARENT_SESSION_MAX": "2h"})
	if w.page.idle != 30*time.Minute || w.page.max != 2*time.Hour {
		t.Fatalf("config not applied: %v %v", w.page.idle, w.page.max)
	}
	b := w.signedIn(t, w.entA.ID, parentJF)
	// Active every 29 minutes: the idle timeout never ends it...
	for i := 0; i < 4; i++ {
		if p := b.get(base(w.entA.ID)); signedOut(p) {
			t.Fatalf("active session ended after %d requests", i)
		}
		w.clock.Advance(29 * time.Minute)
	}
	// ...but at 2 h it ends, however active (1 h 56 min so far).
	w.clock.Advance(4 * time.Minute)
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("the session outlived its absolute limit")
	}
	// Idle: 30 minutes without a request.
	b2 := w.signedIn(t, w.entA.ID, parentJF)
	w.clock.Advance(29 * time.Minute)
	must(t, b2.get(base(w.entA.ID)), 200)
	w.clock.Advance(30 * time.Minute)
	if p := b2.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("an idle session was kept")
	}
	// A session whose idle expiry lies past its absolute limit (as no
	// refresh writes it) still ends at the limit.
	keys, _ := w.page.sealer()
	now := w.clock.Now()
	v, _ := keys.seal(session{ENT: w.entA.ID, User: parentJF, ID: "x", Started: now.Add(-2 * time.Hour).Unix(), Expires: now.Add(time.Hour).Unix()})
	b3 := w.browser(t)
	b3.cookies[w.page.sessionCookie()] = v
	if p := b3.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatalf("a session past its absolute limit opened the page")
	}
	// An idle timeout longer than the absolute limit is refused.
	if _, err := config.FromEnv(func(k string) string {
		return map[string]string{"LIAISON_PARENT_SESSION_IDLE": "3h", "LIAISON_PARENT_SESSION_MAX": "2h"}[k]
	}); err == nil || !strings.Contains(err.Error(), "LIAISON_PARENT_SESSION_IDLE") {
		t.Fatalf("idle > max accepted: %v", err)
	}
	// The defaults: 2 h idle, 12 h absolute.
	d := newWorld(t)
	if d.page.idle != 2*time.Hour || d.page.max != 12*time.Hour {
		t.Fatalf("defaults %v %v", d.page.idle, d.page.max)
	}
}

func TestCSRFAndOriginRefused(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	good := csrfOf(t, must(t, b.get(base(w.entA.ID)), 200))
	other := w.signedIn(t, w.entA.ID, parentJF)
	othersToken := csrfOf(t, must(t, other.get(base(w.entA.ID)), 200))
	for name, r := range map[string]page{
		"no token":              b.post(base(w.entA.ID)+"tout-lu", url.Values{}),
		"wrong token":           b.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {"x" + good}}),
		"another session's":     b.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {othersToken}}),
		"foreign origin":        b.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {good}}, "Origin: https://evil.example"),
		"script without header": b.do("POST", base(w.entA.ID)+"lu/x", strings.NewReader(`{}`), "application/json", "Origin: http://liaison.test", "Accept: application/json"),
		"preferences":           b.post(base(w.entA.ID)+"preferences", url.Values{"muted": {"cantine"}}),
		"subscription":          b.do("POST", base(w.entA.ID)+"notifications/abonnement", strings.NewReader(`{}`), "application/json", "Origin: http://liaison.test"),
	} {
		if r.Status != 403 {
			t.Errorf("%s: status %d", name, r.Status)
		}
	}
	_, pg := feedIDs(t, w, w.entA.ENT, parentJF)
	if pg.UnreadCount == 0 {
		t.Fatalf("a refused post marked notices read")
	}
	prefs, _ := w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if len(prefs.Muted) != 0 {
		t.Fatalf("a refused post saved preferences")
	}
	must(t, b.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {good}}), 303)
}

func TestFrameAncestorsAreExactlyTheENTsOrigins(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	want := "frame-ancestors " + strings.Join(w.entA.Origins, " ")
	if len(w.entA.Origins) == 0 {
		t.Fatal("demo ENT without origins")
	}
	check := func(p page, want string) {
		t.Helper()
		csp := p.Header.Get("Content-Security-Policy")
		i := strings.Index(csp, "frame-ancestors ")
		if i < 0 || strings.TrimSuffix(csp[i:], ";") != want {
			t.Fatalf("CSP %q, want it to end with %q", csp, want)
		}
		if xfo := p.Header.Values("X-Frame-Options"); len(xfo) != 0 {
			t.Fatalf("X-Frame-Options %v on a parent page", xfo)
		}
	}
	check(b.get(base(w.entA.ID)), want) // signed out
	check(b.get(base(w.entA.ID)+"connexion"), want)
	b.signIn(w.entA.ID, parentJF, false)
	for _, path := range []string{"", "preferences", "notifications", "?apres=bad"} {
		check(b.get(base(w.entA.ID)+path), want)
	}
	check(b.get(base(w.entB.ID)), "frame-ancestors "+strings.Join(w.entB.Origins, " "))
	// An unknown ENT: no framing at all.
	check(b.get(base("no-such-ent")), "frame-ancestors 'none'")
	// The rest of the service keeps DENY.
	if r := b.get("/healthz"); r.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("the API lost X-Frame-Options")
	}
	// An origin that is not a plain origin never reaches the header.
	if got := frameAncestors(&store.ENT{Origins: []string{"https://ent.example.fr", "https://x; script-src *", "*"}}, false); got != "https://ent.example.fr" {
		t.Fatalf("frameAncestors %q", got)
	}
	// Served over https, a page is framed by https pages only (an ENT may
	// register http://localhost for its developers).
	dev := &store.ENT{Origins: []string{"https://ent.example.fr", "http://localhost:8080"}}
	if got := frameAncestors(dev, false); got != "https://ent.example.fr http://localhost:8080" {
		t.Fatalf("frameAncestors over http: %q", got)
	}
	if got := frameAncestors(dev, true); got != "https://ent.example.fr" {
		t.Fatalf("frameAncestors over https: %q", got)
	}
}

func TestStartSessionCookies(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	r := must(t, b.get("/test/start?ent="+w.entA.ID+"&user="+parentJF+"&iframe=1"), 303)
	sc := r.Header.Get("Set-Cookie")
	for _, s := range []string{"liaison_parent=", "Path=" + base(w.entA.ID), "HttpOnly", "Secure", "SameSite=None", "Partitioned", "Max-Age=43200"} {
		if !strings.Contains(sc, s) {
			t.Errorf("iframe cookie %q lacks %q", sc, s)
		}
	}
	// Each request refreshes it in the same mode.
	p := must(t, b.get(r.Location), 200)
	if sc := p.Header.Get("Set-Cookie"); !strings.Contains(sc, "SameSite=None; Partitioned") {
		t.Fatalf("refreshed iframe cookie %q", sc)
	}
	if len(noticeIDs(p)) == 0 {
		t.Fatalf("the started session does not open the feed")
	}
	// New tab: Lax, not Secure over http.
	r = must(t, w.browser(t).get("/test/start?ent="+w.entA.ID+"&user="+parentJF), 303)
	sc = r.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "SameSite=Lax") || strings.Contains(sc, "Secure") || strings.Contains(sc, "Partitioned") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("new-tab cookie %q", sc)
	}
	// Over https, Secure.
	ws := newWorldWith(t, map[string]string{"LIAISON_BASE_URL": "https://liaison.test"})
	r = must(t, ws.browser(t).get("/test/start?ent="+ws.entA.ID+"&user="+parentJF), 303)
	if sc := r.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "__Secure-liaison_parent=") || !strings.Contains(sc, "; Secure; SameSite=Lax") {
		t.Fatalf("https cookie %q", sc)
	}
	// Refused: unknown ENT, bad user id.
	must(t, w.browser(t).get("/test/start?ent=nope&user="+parentJF), 400)
	must(t, w.browser(t).get("/test/start?ent="+w.entA.ID+"&user="+url.QueryEscape("a b")), 400)
}

func TestSignInAndNotParentPages(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	p := must(t, b.get(base(w.entA.ID)), 200)
	if !signedOut(p) || !strings.Contains(p.Body, `href="`+base(w.entA.ID)+`connexion"`) {
		t.Fatalf("signed-out page: %.1500s", p.Body)
	}
	p = must(t, b.get(base(w.entA.ID)+"connexion"), 404)
	if !strings.Contains(p.Body, "La connexion par l&#39;ENT n&#39;est pas encore configurée pour cet ENT.") {
		t.Fatalf("connexion page: %.1500s", p.Body)
	}
	// Every signed-in page without a session: the signed-out page.
	for _, path := range []string{"preferences", "notifications"} {
		if p := b.get(base(w.entA.ID) + path); !signedOut(p) {
			t.Errorf("%s without a session: %.500s", path, p.Body)
		}
	}
	// The page the sign-in shows to a teacher or a pupil.
	w.page.signInHandler = func(c *fiber.Ctx, ent store.ENT) error { return w.page.NotParent(c, ent.ID) }
	p = must(t, b.get(base(w.entA.ID)+"connexion"), 403)
	if !strings.Contains(p.Body, "Ce service est réservé aux parents d&#39;élèves.") {
		t.Fatalf("not-parent page: %.1500s", p.Body)
	}
	p = must(t, b.get(base("no-such-ent")), 404)
	if !strings.Contains(p.Body, "Cette adresse ne correspond à aucun ENT relié à Liaison.") {
		t.Fatalf("unknown ENT: %.1500s", p.Body)
	}
	// The language switch.
	r := must(t, b.get(base(w.entA.ID)+"langue?l=en&suite="+url.QueryEscape(base(w.entA.ID)+"preferences")), 303)
	if r.Location != base(w.entA.ID)+"preferences" {
		t.Fatalf("switch goes to %q", r.Location)
	}
	if p := b.get(base(w.entA.ID)); !strings.Contains(p.Body, "Sign in through your ENT") {
		t.Fatalf("the switch did not give English")
	}
	if r := b.get(base(w.entA.ID) + "langue?l=fr&suite=https://evil.example/"); r.Location != base(w.entA.ID) {
		t.Fatalf("open redirect to %q", r.Location)
	}
}

func TestPushSubscriptionFromThePage(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"notifications"), 200)
	if !strings.Contains(p.Body, "Ajouter à l&#39;écran d&#39;accueil") || !strings.Contains(p.Body, `id="push-on"`) {
		t.Fatalf("notifications page: %.2000s", p.Body)
	}
	csrf := csrfOf(t, p)
	post := func(path string, body any) page {
		raw, _ := json.Marshal(body)
		return b.do("POST", base(w.entA.ID)+path, strings.NewReader(string(raw)), "application/json",
			"Origin: http://liaison.test", "Accept: application/json", "X-CSRF-Token: "+csrf)
	}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	endpoint := "https://fcm.googleapis.com/fcm/send/parent-page-test"
	sub := map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]any{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth)}}
	r := must(t, post("notifications/abonnement", sub), 200)
	if !strings.Contains(r.Body, "Les notifications sont activées sur cet appareil.") {
		t.Fatalf("subscribe: %s", r.Body)
	}
	subs, err := w.core.Subscriptions(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if err != nil || len(subs) != 1 || subs[0].Endpoint != endpoint {
		t.Fatalf("stored %v %v", subs, err)
	}
	// Refusals are app's, in words.
	r = must(t, post("notifications/abonnement", map[string]any{"endpoint": "http://fcm.googleapis.com/x", "keys": sub["keys"]}), 422)
	if !strings.Contains(r.Body, "push.subscription_invalid") || !strings.Contains(r.Body, "Le point de notification doit être une adresse https.") {
		t.Fatalf("bad subscription: %s", r.Body)
	}
	must(t, b.do("POST", base(w.entA.ID)+"notifications/abonnement", strings.NewReader("{"), "application/json",
		"Origin: http://liaison.test", "X-CSRF-Token: "+csrf), 400)
	// Off.
	r = must(t, post("notifications/desabonnement", map[string]any{"endpoint": endpoint}), 200)
	if subs, _ := w.core.Subscriptions(context.Background(), principalOf(w, w.entA.ENT, parentJF)); len(subs) != 0 {
		t.Fatalf("not removed: %v", subs)
	}
}

func TestManifestServiceWorkerAndIcons(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	p := must(t, b.get(base(w.entA.ID)+"manifest.webmanifest"), 200)
	var m struct {
		Name     string `json:"name"`
		Lang     string `json:"lang"`
		StartURL string `json:"start_url"`
		Scope    string `json:"scope"`
		Icons    []struct{ Src, Sizes, Type string }
	}
	if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "Informations de la commune" || m.Lang != "fr" || m.StartURL != base(w.entA.ID) || m.Scope != base(w.entA.ID) || len(m.Icons) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for _, ic := range m.Icons {
		r := must(t, b.get(ic.Src), 200)
		if r.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(r.Body, "\x89PNG") {
			t.Fatalf("icon %s", ic.Src)
		}
	}
	sw := must(t, b.get(base(w.entA.ID)+"sw.js"), 200)
	if !strings.HasPrefix(sw.Header.Get("Content-Type"), "text/javascript") || sw.Header.Get("Service-Worker-Allowed") != "" {
		t.Fatalf("sw headers %v", sw.Header)
	}
	// The widget's push handling, as the widget serves it, after the
	// offline part.
	widgetSW := must(t, b.get("/widget/v1/liaison-sw.js"), 200)
	if !strings.HasSuffix(sw.Body, widgetSW.Body) || !strings.Contains(sw.Body, "self.LIAISON_OPEN_URL = '"+base(w.entA.ID)+"'") ||
		!strings.Contains(sw.Body, `'<div class="offline" hidden role="status">'`) {
		t.Fatalf("sw.js: %.600s", sw.Body)
	}
	// The banner the service worker reveals offline is on the feed page.
	b.signIn(w.entA.ID, parentJF, false)
	f := must(t, b.get(base(w.entA.ID)), 200)
	if !strings.Contains(f.Body, `<div class="offline" hidden role="status">Hors connexion : dernières informations reçues</div>`) || f.Header.Get("X-Liaison-Page") != "feed" {
		t.Fatalf("feed page lacks the offline banner or its mark")
	}
}

// The daily summary on the parent page: per category, a push each, one
// summary a day, or the feed only, as radio buttons; saved, shown back,
// and a crafted request summarizing alerts refused with app's reason.
func TestPreferencesDailySummary(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	p := must(t, b.get(base(w.entA.ID)+"preferences"), 200)
	for _, s := range []string{`value="now" id="cat-cantine-now" checked`, "Un résumé par jour", "<legend>Cantine</legend>"} {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("form lacks %q: %.3000s", s, p.Body)
		}
	}
	r := must(t, b.post(base(w.entA.ID)+"preferences", url.Values{"csrf": {csrfOf(t, p)}, "d-cantine": {"digest"}, "d-culture": {"feed"},
		"d-transport": {"now"}, "locale": {"fr"}}), 303)
	prefs, err := w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prefs.Digest, []string{"cantine"}) || !slices.Equal(prefs.Muted, []string{"culture"}) {
		t.Fatalf("saved digest %v muted %v", prefs.Digest, prefs.Muted)
	}
	p = must(t, b.get(r.Location), 200)
	if !strings.Contains(p.Body, `value="digest" id="cat-cantine-digest" checked`) || !strings.Contains(p.Body, `value="feed" id="cat-culture" checked`) {
		t.Fatalf("after saving: %.3000s", p.Body)
	}
	r = must(t, b.post(base(w.entA.ID)+"preferences", url.Values{"csrf": {csrfOf(t, p)}, "d-alerte": {"digest"}, "d-cantine": {"now"}}), 422)
	if !strings.Contains(r.Body, "« Alertes » ne peut pas attendre le résumé quotidien") {
		t.Fatalf("refusal: %.3000s", r.Body)
	}
	prefs, _ = w.core.Preferences(context.Background(), principalOf(w, w.entA.ENT, parentJF))
	if !slices.Equal(prefs.Digest, []string{"cantine"}) {
		t.Fatalf("a refused post changed the summary: %v", prefs.Digest)
	}
}
