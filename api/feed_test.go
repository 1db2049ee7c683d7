package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// feedTTL is how stale a feed may be.
const feedTTL = app.FeedTTL

// publish posts a notice as the agent of service svc and returns its ID.
func (p *publishing) publish(t *testing.T, svc string, body map[string]any) string {
	t.Helper()
	return p.published(t, p.agents[svc], body).Notice.ID
}

// published posts a notice with the token tok and gives the answer (201).
func (p *publishing) published(t *testing.T, tok string, body any) publishAnswer {
	t.Helper()
	var ans publishAnswer
	p.must(201, p.do("POST", "/v1/notices", tok, body)).Decode(t, &ans)
	return ans
}

func (p *publishing) feed(t *testing.T, user string, headers ...string) feedPage {
	t.Helper()
	var pg feedPage
	p.must(200, p.do("GET", "/v1/me/feed", p.tokenNow(t, user), nil, headers...)).Decode(t, &pg)
	return pg
}

// tokenNow mints a parent token valid for 30 minutes from the test clock.
func (p *publishing) tokenNow(t *testing.T, user string) string {
	return mintParent(t, jwt.SigningMethodHS256, p.entSecret, p.entID, user, p.clock.Now().Add(30*time.Minute))
}

func feedIDs(pg feedPage) []string {
	out := make([]string, len(pg.Items))
	for i, it := range pg.Items {
		out[i] = it.ID
	}
	return out
}

func simpleNotice(category, title string, schools ...string) map[string]any {
	return map[string]any{"category": category, "title": title, "body": "Texte.",
		"audience": map[string]any{"schools": schools}, "expires_at": "2026-11-27T18:00:00+01:00"}
}

// Parents of the publishing fixture: p0–p11 in A1 (maternelle, MS),
// p12–p19 in A2 (élémentaire, CE2), p20–p22 in A2 (CP).

func TestFeedScoping(t *testing.T) {
	p := newPublishing(t)
	both := p.publish(t, "restauration", cantineNotice())
	p.clock.Advance(time.Minute)
	onlyA2 := p.publish(t, "restauration", simpleNotice("cantine", "Repas froid jeudi à Jules Ferry", uaiA2))
	p.clock.Advance(time.Minute)
	cp := simpleNotice("cantine", "Sortie des CP : pique-nique", uaiA2)
	cp["audience"].(map[string]any)["classes"] = []string{"CP"}
	onlyCP := p.publish(t, "restauration", cp)

	pg := p.feed(t, "p0") // A1
	sameStrings(t, "A1 parent", feedIDs(pg), []string{both})
	if !pg.Synced || pg.UnreadCount != 1 || pg.Locale != "fr" {
		t.Fatalf("A1 parent feed: %+v", pg)
	}
	it := pg.Items[0]
	if it.Collectivite.Name != "Saint-Fuscien" || it.Category != "cantine" || it.Read || it.Corrected || len(it.Content) == 0 || it.Title != "Menus du 30 novembre au 4 décembre" {
		t.Fatalf("item: %+v", it)
	}
	sameStrings(t, "CE2 parent", feedIDs(p.feed(t, "p12")), []string{onlyA2, both})
	sameStrings(t, "CP parent (newest first)", feedIDs(p.feed(t, "p20")), []string{onlyCP, onlyA2, both})

	// A parent never reads another school's notice, even by ID.
	if r := p.do("POST", "/v1/me/feed/"+onlyA2+"/read", p.parentToken(t, "p0"), nil); r.Status != 404 || r.ErrorCode(t) != "resource.not_found" {
		t.Fatalf("reading another school's notice: %d %s", r.Status, r.Body)
	}

	// A parent the ENT has not synced: an empty feed that says so.
	pg = p.feed(t, "inconnu")
	if pg.Synced || len(pg.Items) != 0 || !strings.Contains(pg.Message, "pas encore indiqué") {
		t.Fatalf("unsynced parent: %+v", pg)
	}
	var en feedPage
	p.must(200, p.do("GET", "/v1/me/feed", p.parentToken(t, "inconnu"), nil, "Accept-Language: en")).Decode(t, &en)
	if !strings.HasPrefix(en.Message, "Your ENT has not yet told Liaison") {
		t.Fatalf("unsynced parent, English: %q", en.Message)
	}

	// Server to server, with the ENT key: the same feed.
	var s2s feedPage
	p.must(200, p.do("GET", "/v1/ent/parents/p20/feed", p.entKey, nil)).Decode(t, &s2s)
	sameStrings(t, "server-to-server", feedIDs(s2s), []string{onlyCP, onlyA2, both})
	if r := p.do("GET", "/v1/ent/parents/p20/feed", p.parentToken(t, "p20"), nil); r.Status != 401 {
		t.Fatalf("parent token on the ENT route: %d", r.Status)
	}

	// Pagination.
	var page1, page2 feedPage
	p.must(200, p.do("GET", "/v1/me/feed?limit=2", p.parentToken(t, "p20"), nil)).Decode(t, &page1)
	if len(page1.Items) != 2 || page1.NextCursor == "" || page1.UnreadCount != 3 {
		t.Fatalf("page 1: %+v", page1)
	}
	p.must(200, p.do("GET", "/v1/me/feed?limit=2&cursor="+page1.NextCursor, p.parentToken(t, "p20"), nil)).Decode(t, &page2)
	sameStrings(t, "page 2", feedIDs(page2), []string{both})
	if page2.NextCursor != "" {
		t.Fatalf("last page has a cursor: %q", page2.NextCursor)
	}
	if r := p.do("GET", "/v1/me/feed?cursor=abc", p.parentToken(t, "p20"), nil); r.Status != 400 {
		t.Fatalf("bad cursor: %d", r.Status)
	}
}

func TestFeedVisibility(t *testing.T) {
	p := newPublishing(t)
	live := p.publish(t, "restauration", cantineNotice())
	sched := cantineNotice()
	sched["title"] = "Menus de la semaine suivante"
	sched["publish_at"] = "2026-11-23T12:00:00+01:00" // in 3 hours
	scheduled := p.publish(t, "restauration", sched)
	short := simpleNotice("cantine", "Pas de cantine ce midi", uaiA1)
	short["expires_at"] = "2026-11-23T10:00:00+01:00" // in an hour
	expiring := p.publish(t, "restauration", short)
	gone := p.publish(t, "elus", simpleNotice("alerte", "Alerte neige : écoles fermées demain", uaiA1)) // quota-exempt
	p.must(200, p.do("POST", "/v1/notices/"+gone+"/withdraw", p.agents["elus"], map[string]any{"reason": "Prévision corrigée"}))

	sameStrings(t, "now", feedIDs(p.feed(t, "p0")), []string{expiring, live})
	p.clock.Advance(2 * time.Hour) // 11:00: expired
	sameStrings(t, "at 11:00", feedIDs(p.feed(t, "p0")), []string{live})
	p.clock.Advance(time.Hour) // 12:00: scheduled one published
	sameStrings(t, "at 12:00", feedIDs(p.feed(t, "p0")), []string{scheduled, live})

	// A correction shows as such.
	p.must(200, p.do("POST", "/v1/notices/"+live+"/corrections", p.agents["restauration"], map[string]any{"reason": "Erreur sur le plat du lundi", "title": "Menus corrigés"}))
	pg := p.feed(t, "p0")
	if it := pg.Items[1]; it.ID != live || !it.Corrected || it.Version != 2 || it.CorrectionReason != "Erreur sur le plat du lundi" || it.Title != "Menus corrigés" {
		t.Fatalf("corrected item: %+v", it)
	}
}

func TestFeedETag(t *testing.T) {
	p := newPublishing(t)
	id := p.publish(t, "restauration", cantineNotice())
	tok := p.parentToken(t, "p0")
	r := p.must(200, p.do("GET", "/v1/me/feed", tok, nil))
	etag := r.Header.Get("ETag")
	if etag == "" || !strings.Contains(r.Header.Get("Cache-Control"), "private") {
		t.Fatalf("headers: %v", r.Header)
	}
	r = p.do("GET", "/v1/me/feed", tok, nil, "If-None-Match: "+etag)
	if r.Status != 304 || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d %v %q", r.Status, r.Header, r.Body)
	}
	// Another parent's feed with the same content has the same tag; after
	// a reading the tag changes.
	p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", tok, nil))
	r = p.do("GET", "/v1/me/feed", tok, nil, "If-None-Match: "+etag)
	if r.Status != 200 || r.Header.Get("ETag") == etag {
		t.Fatalf("after reading: %d %s", r.Status, r.Header.Get("ETag"))
	}
	// Server to server too.
	r = p.must(200, p.do("GET", "/v1/ent/parents/p0/feed", p.entKey, nil))
	if r2 := p.do("GET", "/v1/ent/parents/p0/feed", p.entKey, nil, "If-None-Match: "+r.Header.Get("ETag")); r2.Status != 304 {
		t.Fatalf("server-to-server If-None-Match: %d", r2.Status)
	}
}

func TestFeedCORS(t *testing.T) {
	p := newPublishing(t)
	tok := p.parentToken(t, "p0")
	r := p.do("OPTIONS", "/v1/me/feed/x/read", "", nil, "Origin: https://ent.example.fr", "Access-Control-Request-Method: POST")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://ent.example.fr" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	r = p.must(200, p.do("GET", "/v1/me/feed", tok, nil, "Origin: https://ent.example.fr"))
	if r.Header.Get("Access-Control-Allow-Origin") != "https://ent.example.fr" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("CORS headers: %v", r.Header)
	}
	r = p.do("OPTIONS", "/v1/me/feed", "", nil, "Origin: https://evil.example.com", "Access-Control-Request-Method: GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from an unregistered origin allowed: %v", r.Header)
	}
	r = p.do("GET", "/v1/me/feed", tok, nil, "Origin: https://evil.example.com")
	if r.Status != 403 || r.ErrorCode(t) != "auth.origin_not_allowed" || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET from an unregistered origin: %d %s", r.Status, r.Body)
	}
	// An ENT registered now is allowed at once, though the origins were
	// read a moment ago.
	p.hsENT("Autre ENT", "https://autre-ent.example.fr", uaiA1)
	r = p.do("OPTIONS", "/v1/me/feed", "", nil, "Origin: https://autre-ent.example.fr", "Access-Control-Request-Method: GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://autre-ent.example.fr" {
		t.Fatalf("preflight from a just-registered ENT: %d %v", r.Status, r.Header)
	}
}

func TestFeedReadAck(t *testing.T) {
	p := newPublishing(t)
	menu := p.publish(t, "restauration", cantineNotice())
	ack := simpleNotice("periscolaire", "Mercredis de janvier : inscriptions ouvertes", uaiA1)
	ack["ack_required"] = true
	reg := p.publish(t, "enfance_jeunesse", ack)
	tok := p.parentToken(t, "p0")
	if pg := p.feed(t, "p0"); pg.UnreadCount != 2 || !pg.Items[0].AckRequired {
		t.Fatalf("before: %+v", pg)
	}

	var ra readAnswer
	p.must(200, p.do("POST", "/v1/me/feed/"+menu+"/read", tok, nil)).Decode(t, &ra)
	if !ra.Read || ra.ReadAt == nil || !ra.ReadAt.Equal(testNow) || ra.UnreadCount != 1 || ra.Acknowledged {
		t.Fatalf("read: %+v", ra)
	}
	p.clock.Advance(time.Hour)
	tok = p.tokenNow(t, "p0")
	p.must(200, p.do("POST", "/v1/me/feed/"+menu+"/read", tok, nil)).Decode(t, &ra)
	if !ra.ReadAt.Equal(testNow) || ra.UnreadCount != 1 {
		t.Fatalf("read again (idempotent): %+v", ra)
	}
	// A notice that does not ask for it cannot be acknowledged.
	if r := p.do("POST", "/v1/me/feed/"+menu+"/ack", tok, nil); r.Status != 409 || r.ErrorCode(t) != "feed.ack_not_requested" {
		t.Fatalf("ack of a plain notice: %d %s", r.Status, r.Body)
	}
	p.must(200, p.do("POST", "/v1/me/feed/"+reg+"/ack", tok, nil)).Decode(t, &ra)
	ackAt := testNow.Add(time.Hour)
	if !ra.Acknowledged || !ra.AckAt.Equal(ackAt) || !ra.Read || ra.UnreadCount != 0 {
		t.Fatalf("ack: %+v", ra)
	}
	p.clock.Advance(time.Hour)
	tok = p.tokenNow(t, "p0")
	p.must(200, p.do("POST", "/v1/me/feed/"+reg+"/ack", tok, nil)).Decode(t, &ra)
	if !ra.AckAt.Equal(ackAt) {
		t.Fatalf("ack again (idempotent): %+v", ra)
	}
	pg := p.feed(t, "p0")
	if pg.UnreadCount != 0 || !pg.Items[0].Acknowledged || !pg.Items[1].Read {
		t.Fatalf("after: %+v", pg)
	}
	if r := p.do("POST", "/v1/me/feed/ntc_absent/read", tok, nil); r.Status != 404 {
		t.Fatalf("read of an unknown notice: %d", r.Status)
	}

	// Read all, for another parent.
	var all struct {
		Marked      int `json:"marked"`
		UnreadCount int `json:"unread_count"`
	}
	p.must(200, p.do("POST", "/v1/me/feed/read-all", p.tokenNow(t, "p1"), nil)).Decode(t, &all)
	if all.Marked != 2 || all.UnreadCount != 0 {
		t.Fatalf("read-all: %+v", all)
	}
	p.must(200, p.do("POST", "/v1/me/feed/read-all", p.tokenNow(t, "p1"), nil)).Decode(t, &all)
	if all.Marked != 0 {
		t.Fatalf("read-all again: %+v", all)
	}
	read, acked, err := p.st.NoticeReadCounts(context.Background(), reg)
	if err != nil || read != 2 || acked != 1 {
		t.Fatalf("counts: %d %d %v", read, acked, err)
	}

	// Erasure by the ENT removes the parent's read states.
	p.must(204, p.do("DELETE", "/v1/ent/parents/p0", p.entKey, nil))
	read, acked, err = p.st.NoticeReadCounts(context.Background(), reg)
	if err != nil || read != 1 || acked != 0 {
		t.Fatalf("counts after erasure: %d %d %v", read, acked, err)
	}
}

func TestPreferences(t *testing.T) {
	p := newPublishing(t)
	tok := p.parentToken(t, "p0")
	var v preferencesView
	p.must(200, p.do("GET", "/v1/me/preferences", tok, nil)).Decode(t, &v)
	if v.Locale != "fr" || len(v.Muted) != 0 || !v.Synced || len(v.Categories) != 7 {
		t.Fatalf("defaults: %+v", v)
	}
	sameStrings(t, "always delivered", v.AlwaysDelivered, []string{"alerte"})
	for _, c := range v.Categories {
		if c.Code == "batiment" && (!c.UrgentOn || !c.Mutable) {
			t.Fatalf("batiment (critical when urgent, article 3.3): %+v", c)
		}
	}

	p.must(200, p.do("PUT", "/v1/me/preferences", tok, map[string]any{"locale": "en", "muted": []string{"culture", "cantine"}})).Decode(t, &v)
	if v.Locale != "en" || len(v.Muted) != 2 || v.Categories[0].Label != "School canteen" || !v.Categories[0].Muted {
		t.Fatalf("after PUT: %+v", v)
	}
	par, err := p.st.GetParent(context.Background(), p.entID, "p0")
	if err != nil || par.Locale != "en" || len(par.Muted) != 2 {
		t.Fatalf("stored: %+v %v", par, err)
	}
	// The feed follows the parent's locale.
	if pg := p.feed(t, "p0"); pg.Locale != "en" {
		t.Fatalf("feed locale: %q", pg.Locale)
	}
	// Omitted fields are kept.
	p.must(200, p.do("PUT", "/v1/me/preferences", tok, map[string]any{"locale": "fr"})).Decode(t, &v)
	if v.Locale != "fr" || len(v.Muted) != 2 {
		t.Fatalf("locale only: %+v", v)
	}

	// A critical category cannot be muted: the refusal says why.
	r := p.do("PUT", "/v1/me/preferences", tok, map[string]any{"muted": []string{"culture", "alerte"}})
	if r.Status != 422 || r.ErrorCode(t) != "preferences.critical_category" {
		t.Fatalf("muting alerte: %d %s", r.Status, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	d := e["details"].([]any)[0].(map[string]any)
	if d["field"] != "muted[1]" || d["message"] != "« Alertes » ne peut pas être désactivée. Les alertes (fermeture d'école, neige, crise) sont toujours envoyées à toutes les familles." {
		t.Fatalf("detail: %v", d)
	}
	if a := e["always_delivered"].([]any); len(a) != 1 || a[0] != "alerte" {
		t.Fatalf("always_delivered: %v", e["always_delivered"])
	}
	r = p.do("PUT", "/v1/me/preferences", tok, map[string]any{"muted": []string{"alerte"}}, "Accept-Language: en")
	if !strings.Contains(string(r.Body), `"Alerts\" cannot be muted. Alerts (school closure, snow, crisis) are always sent to every family.`) {
		t.Fatalf("English refusal: %s", r.Body)
	}
	if par, _ := p.st.GetParent(context.Background(), p.entID, "p0"); len(par.Muted) != 2 {
		t.Fatalf("a refused PUT changed the preferences: %+v", par)
	}

	for _, bad := range []map[string]any{
		{"locale": "de"},
		{"muted": []string{"meteo"}},
		{"muted": []string{"culture", "culture"}},
	} {
		if r := p.do("PUT", "/v1/me/preferences", tok, bad); r.Status != 422 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := p.do("PUT", "/v1/me/preferences", p.parentToken(t, "inconnu"), map[string]any{"locale": "en"}); r.Status != 409 || r.ErrorCode(t) != "feed.not_synced" {
		t.Fatalf("unsynced parent: %d %s", r.Status, r.Body)
	}
}

func TestReach(t *testing.T) {
	p := newPublishing(t)
	id := p.publish(t, "restauration", cantineNotice())
	// 12 families in A1; 2 read. 11 in A2 (8 CE2 + 3 CP); 9 read.
	for _, u := range []string{"p0", "p1", "p12", "p13", "p14", "p15", "p16", "p17", "p18", "p19", "p20"} {
		p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil))
	}
	var v reachView
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", p.agents["restauration"], nil)).Decode(t, &v)
	if len(v.Groups) != 2 || v.MinGroup != 5 {
		t.Fatalf("groups: %+v", v)
	}
	a1, a2 := v.Groups[0], v.Groups[1]
	if a1.UAI != uaiA1 || a1.School != "École maternelle Les Coquelicots" || a1.Level != "maternelle" || *a1.Families.Value != 10 ||
		a1.Read.Value != nil || a1.Read.Label != "moins de 5" || a1.NotReached.Value != nil || a1.NotReached.Label != "au moins 5" {
		t.Fatalf("A1: %+v", a1)
	}
	// A2's élémentaire has a class of 3 (CP): a check for CE2 only would
	// give it by difference, so the group gives no figure; the label
	// counts the other classes.
	if a2.Families.Value != nil || a2.Families.Label != "au moins 5 (les classes de moins de 5 familles ne sont pas comptées)" ||
		a2.Read.Value != nil || a2.NotReached.Value != nil || a2.Acknowledged.Value != nil {
		t.Fatalf("A2: %+v", a2)
	}
	if len(v.NotReached) != 2 {
		t.Fatalf("not reached: %+v", v.NotReached)
	}

	// A group of fewer than 5 families gives no figure at all.
	cp := simpleNotice("cantine", "Sortie des CP : pique-nique", uaiA2)
	cp["audience"].(map[string]any)["classes"] = []string{"CP"}
	small := p.publish(t, "restauration", cp)
	p.must(200, p.do("POST", "/v1/me/feed/"+small+"/read", p.parentToken(t, "p20"), nil))
	r := p.must(200, p.do("GET", "/v1/notices/"+small+"/reach", p.adminA1, nil))
	r.Decode(t, &v)
	if len(v.Groups) != 1 || v.Groups[0].Families.Value != nil || v.Groups[0].Families.Label != "moins de 5" || v.Groups[0].Read.Value != nil {
		t.Fatalf("small group: %+v", v.Groups)
	}
	if strings.Contains(string(r.Body), `"value":3`) || strings.Contains(string(r.Body), `"value":1`) {
		t.Fatalf("a small group's figure leaked: %s", r.Body)
	}
	if len(v.NotReached) != 1 || v.NotReached[0].UAI != uaiA2 {
		t.Fatalf("small group not listed as not reached: %+v", v.NotReached)
	}

	// Viewers see their schools only; other collectivités nothing.
	dirA2 := p.seedAccount(storeAccountViewer(uaiA2))
	p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", dirA2, nil)).Decode(t, &v)
	if len(v.Groups) != 1 || v.Groups[0].UAI != uaiA2 {
		t.Fatalf("viewer of A2: %+v", v.Groups)
	}
	if r := p.do("GET", "/v1/notices/"+id+"/reach", p.adminB, nil); r.Status != 404 {
		t.Fatalf("another collectivité: %d", r.Status)
	}
	dirB := p.seedAccount(storeAccountViewer(uaiB1))
	if r := p.do("GET", "/v1/notices/"+id+"/reach", dirB, nil); r.Status != 404 {
		t.Fatalf("viewer of another school: %d", r.Status)
	}
}

func TestAudienceReaches(t *testing.T) {
	aud := store.Audience{Schools: []string{uaiA1, uaiA2}, Levels: []conventions.Level{"elementaire"}, Classes: []string{"ce2", "CM1"}}
	for _, tc := range []struct {
		c    store.Child
		want bool
	}{
		{store.Child{UAI: uaiA2, Level: "elementaire", Class: "CE2"}, true}, // case-insensitive
		{store.Child{UAI: uaiA2, Level: "elementaire", Class: "cm1"}, true},
		{store.Child{UAI: uaiA2, Level: "elementaire", Class: "CP"}, false},
		{store.Child{UAI: uaiA1, Level: "maternelle", Class: "CE2"}, false},
		{store.Child{UAI: uaiB1, Level: "elementaire", Class: "CE2"}, false},
	} {
		if got := aud.Reaches(tc.c); got != tc.want {
			t.Errorf("Reaches(%+v) = %v", tc.c, got)
		}
	}
	if !(store.Audience{Schools: []string{uaiA1}}).Reaches(store.Child{UAI: uaiA1, Level: "maternelle"}) {
		t.Error("an audience of a whole school misses a child")
	}
}

func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// The feed caches never hide a change made through this process: the feed
// is read (caches warm), then each change shows on the next read.
func TestFeedCacheFollowsChanges(t *testing.T) {
	p := newPublishing(t)
	first := p.publish(t, "restauration", cantineNotice())
	sameStrings(t, "warm", feedIDs(p.feed(t, "p0")), []string{first})

	second := p.publish(t, "elus", simpleNotice("alerte", "Alerte neige : écoles fermées demain", uaiA1))
	sameStrings(t, "after a publication", feedIDs(p.feed(t, "p0")), []string{second, first})

	p.must(200, p.do("POST", "/v1/notices/"+second+"/withdraw", p.agents["elus"], map[string]any{"reason": "Prévision corrigée"}))
	sameStrings(t, "after a withdrawal", feedIDs(p.feed(t, "p0")), []string{first})

	// The parent's own reading shows at once.
	p.must(200, p.do("POST", "/v1/me/feed/"+first+"/read", p.tokenNow(t, "p0"), nil))
	if pg := p.feed(t, "p0"); !pg.Items[0].Read || pg.UnreadCount != 0 {
		t.Fatalf("own read not shown: %+v", pg)
	}
	// A directory change: p0's child moves from A1 to A2, so a notice for
	// A1 only leaves their feed.
	onlyA1 := p.publish(t, "elus", simpleNotice("alerte", "Alerte : école maternelle fermée demain", uaiA1))
	sameStrings(t, "before the move", feedIDs(p.feed(t, "p0")), []string{onlyA1, first})
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": []map[string]any{
		{"ent_user_id": "p0", "children": []map[string]any{{"uai": uaiA2, "level": "elementaire", "class": "CM1"}}}}}))
	sameStrings(t, "after a move to A2", feedIDs(p.feed(t, "p0")), []string{first})
	p.must(204, p.do("DELETE", "/v1/ent/parents/p0", p.entKey, nil))
	if pg := p.feed(t, "p0"); pg.Synced || len(pg.Items) != 0 {
		t.Fatalf("erased parent still has a feed: %+v", pg)
	}
	// Synced again under the same ID: a new family, nothing read yet.
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": []map[string]any{
		{"ent_user_id": "p0", "children": []map[string]any{{"uai": uaiA2, "level": "elementaire", "class": "CM1"}}}}}))
	if pg := p.feed(t, "p0"); pg.UnreadCount != len(pg.Items) || len(pg.Items) == 0 {
		t.Fatalf("re-synced parent inherits the erased one's read states: %+v", pg)
	}
}

// The feed's own encoder (cached notice parts) writes exactly what
// json.Marshal writes, states and page fields included.
func TestEncodePageMatchesMarshal(t *testing.T) {
	p := newPublishing(t)
	a := p.publish(t, "restauration", cantineNotice())
	alert := simpleNotice("alerte", "Alerte <neige> & verglas : « écoles fermées »", uaiA1)
	alert["ack_required"] = true
	b := p.publish(t, "elus", alert)
	p.must(200, p.do("POST", "/v1/notices/"+a+"/corrections", p.agents["restauration"], map[string]any{"reason": "Coquille", "title": "Menus corrigés"}))
	tok := p.tokenNow(t, "p0")
	p.must(200, p.do("POST", "/v1/me/feed/"+b+"/ack", tok, nil))
	for _, path := range []string{"/v1/me/feed", "/v1/me/feed?limit=1"} {
		parent := &app.Principal{Parent: &app.ParentIdentity{ENT: &store.ENT{ID: p.entID}, UserID: "p0"}}
		pg, err := p.app.Feed(context.Background(), parent, app.FeedRequest{Limit: map[string]int{"/v1/me/feed": 50, "/v1/me/feed?limit=1": 1}[path]})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(viewFeedPage(pg, ""))
		got, err := p.appendPage(nil, &pg, "")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s:\ngot  %s\nwant %s", path, got, want)
		}
		// And the HTTP answer is that body.
		r := p.must(200, p.do("GET", path, tok, nil))
		if string(r.Body) != string(want) {
			t.Fatalf("%s over HTTP:\ngot  %s\nwant %s", path, r.Body, want)
		}
	}
}

// A change written by another instance (straight into the store, so this
// process's caches are not told) shows within feedTTL: at once on a read
// whose service time is feedTTL past the snapshot, and, past half of
// feedTTL, after one background refresh that no request waits for.
func TestFeedSnapshotStaleness(t *testing.T) {
	p := newPublishing(t)
	ctx := context.Background()
	first := p.publish(t, "restauration", cantineNotice())
	second := p.publish(t, "elus", simpleNotice("alerte", "Alerte neige : écoles fermées demain", uaiA1))
	sameStrings(t, "warm", feedIDs(p.feed(t, "p0")), []string{second, first})

	withdraw := func(id string) {
		t.Helper()
		n, err := p.st.GetNotice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		at := p.clock.Now()
		n.Status, n.WithdrawnAt, n.UpdatedAt = store.NoticeWithdrawn, &at, at
		if err := p.st.UpdateNotice(ctx, n, n.Version, store.AuditEntry{At: at, Actor: "other-instance", Action: "notice.withdraw", Target: id}); err != nil {
			t.Fatal(err)
		}
	}
	withdraw(second)
	p.clock.Advance(feedTTL)
	sameStrings(t, "feedTTL after another instance's withdrawal", feedIDs(p.feed(t, "p0")), []string{first})

	withdraw(first)
	p.clock.Advance(feedTTL * 3 / 4)
	// This read is served from the snapshot (still within feedTTL) and
	// starts a refresh; a later read, at the same service time, sees it —
	// well before the snapshot's wall-clock age would force a load.
	deadline := time.Now().Add(feedTTL / 2)
	for len(p.feed(t, "p0").Items) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never replaced the snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
