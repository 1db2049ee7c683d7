package app

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// parentNow is the parent tests' fixed clock: Monday 23 November 2026,
// 09:00 in Paris.
var parentNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// parentFixture is an application layer on a real SQLite store: commune A
// (school a1) and commune B (school b1); ENT 1 serves both, ENT 2 serves
// a1. ENT 1's parents: u1 (child in a1), u2 (child in b1); ENT 2's parent
// u1 (child in a1: the same user id, another ENT's namespace).
// Published: a1Notice and a1Ack (acknowledgement asked) to a1, b1Notice
// to b1.
type parentFixture struct {
	a                         *App
	st                        store.Store
	ent1, ent2                store.ENT
	a1Notice, a1Ack, b1Notice string
	ent1u1, ent1u2, ent2u1    *Principal
	staff                     *Principal
}

const (
	uaiA1 = "0801001D"
	uaiB1 = "0801003F"
)

func newParentFixture(t *testing.T) *parentFixture {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	f := &parentFixture{a: New(Deps{Store: st, Clock: func() time.Time { return parentNow }}), st: st}
	audit := store.AuditEntry{At: parentNow, Actor: "test", Action: "test"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateCollectivite(ctx, store.Collectivite{ID: "col_a", Kind: store.KindCommune, Name: "Saint-Fuscien", INSEE: "80702", CreatedAt: parentNow}, audit))
	must(st.CreateCollectivite(ctx, store.Collectivite{ID: "col_b", Kind: store.KindCommune, Name: "Boves", INSEE: "80116", CreatedAt: parentNow}, audit))
	must(st.CreateSchool(ctx, store.School{UAI: uaiA1, Name: "École A1", Commune: "80702", Level: "maternelle", CreatedAt: parentNow}, audit))
	must(st.CreateSchool(ctx, store.School{UAI: uaiB1, Name: "École B1", Commune: "80116", Level: "maternelle", CreatedAt: parentNow}, audit))
	f.ent1 = store.ENT{ID: "ent_1", Name: "ENT 1", Origins: []string{"https://ent1.example.fr"}, Schools: []string{uaiA1, uaiB1},
		KeyAlg: store.AlgHS256, HMACSecret: []byte("secret 1"), APIKeyHash: "h1", CreatedAt: parentNow}
	f.ent2 = store.ENT{ID: "ent_2", Name: "ENT 2", Origins: []string{"https://ent2.example.fr"}, Schools: []string{uaiA1},
		KeyAlg: store.AlgHS256, HMACSecret: []byte("secret 2"), APIKeyHash: "h2", CreatedAt: parentNow}
	must(st.CreateENT(ctx, f.ent1, audit))
	must(st.CreateENT(ctx, f.ent2, audit))
	child := func(uai string) []store.Child { return []store.Child{{UAI: uai, Level: "maternelle", Class: "MS"}} }
	_, err := st.UpsertParents(ctx, f.ent1.ID, []store.Parent{{ENTUserID: "u1", Children: child(uaiA1)}, {ENTUserID: "u2", Children: child(uaiB1)}}, parentNow, audit)
	must(err)
	_, err = st.UpsertParents(ctx, f.ent2.ID, []store.Parent{{ENTUserID: "u1", Children: child(uaiA1)}}, parentNow, audit)
	must(err)
	notice := func(id, col, uai string, at time.Time, ack bool) string {
		must(st.CreateNotice(ctx, store.Notice{ID: id, Version: 1, CollectiviteID: col, AuthorID: "acc_1", Service: "restauration",
			Category: "cantine", Priority: "normal", Title: "Menus " + id, Body: "Bon appétit", Audience: store.Audience{Schools: []string{uai}},
			PublishAt: at, ExpiresAt: parentNow.Add(72 * time.Hour), AckRequired: ack, Status: store.NoticePublished,
			CreatedAt: at, UpdatedAt: at}, audit))
		return id
	}
	f.a1Notice = notice("ntc_a1", "col_a", uaiA1, parentNow.Add(-2*time.Hour), false)
	f.a1Ack = notice("ntc_a1ack", "col_a", uaiA1, parentNow.Add(-time.Hour), true)
	f.b1Notice = notice("ntc_b1", "col_b", uaiB1, parentNow.Add(-time.Hour), false)
	parent := func(ent store.ENT, user string) *Principal {
		return &Principal{Parent: &ParentIdentity{ENT: &ent, UserID: user}}
	}
	f.ent1u1, f.ent1u2, f.ent2u1 = parent(f.ent1, "u1"), parent(f.ent1, "u2"), parent(f.ent2, "u1")
	f.staff = &Principal{Account: &store.Account{ID: "acc_op", Role: store.RoleOperator}}
	return f
}

// errCode is the catalog code of err ("" for none).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	e, _ := AsError(err)
	return e.Code.String()
}

func feedIDs(pg FeedPage) []string {
	var ids []string
	for _, it := range pg.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// A parent's feed holds the notices of their children's schools, newest
// first; an ENT reads the same feed of one of its own parents; a parent of
// the same user id in another ENT is another person.
func TestFeedScopedToParentAndENT(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	pg, err := f.a.Feed(ctx, f.ent1u1, FeedRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := feedIDs(pg); !slices.Equal(got, []string{f.a1Ack, f.a1Notice}) || pg.UnreadCount != 2 || !pg.Synced || pg.Locale != "fr" {
		t.Fatalf("ENT 1 u1's feed: %v unread %d synced %v locale %q", got, pg.UnreadCount, pg.Synced, pg.Locale)
	}
	if it := pg.Items[0]; it.CollectiviteName != "Saint-Fuscien" || !it.AckRequired || it.Corrected {
		t.Fatalf("feed item: %+v", it)
	}
	pg.Release()
	pg, err = f.a.Feed(ctx, f.ent1u2, FeedRequest{})
	if err != nil || !slices.Equal(feedIDs(pg), []string{f.b1Notice}) {
		t.Fatalf("ENT 1 u2's feed: %v %v", feedIDs(pg), err)
	}

	// The ENT, server to server: its own parents only.
	ent1 := &Principal{ENT: &f.ent1}
	pg, err = f.a.Feed(ctx, ent1, FeedRequest{ENTUserID: "u1", Limit: 1})
	if err != nil || !slices.Equal(feedIDs(pg), []string{f.a1Ack}) || pg.NextCursor == "" {
		t.Fatalf("ENT 1's feed of u1, first page: %v %q %v", feedIDs(pg), pg.NextCursor, err)
	}
	pg, err = f.a.Feed(ctx, ent1, FeedRequest{ENTUserID: "u1", Cursor: pg.NextCursor, Limit: 1})
	if err != nil || !slices.Equal(feedIDs(pg), []string{f.a1Notice}) || pg.NextCursor != "" {
		t.Fatalf("ENT 1's feed of u1, second page: %v %q %v", feedIDs(pg), pg.NextCursor, err)
	}
	ent2 := &Principal{ENT: &f.ent2}
	pg, err = f.a.Feed(ctx, ent2, FeedRequest{ENTUserID: "u2"})
	if err != nil || pg.Synced || len(pg.Items) != 0 {
		t.Fatalf("ENT 2 asking for ENT 1's parent u2: synced %v items %v %v", pg.Synced, feedIDs(pg), err)
	}

	// A read by ENT 1's u1 is not ENT 2's u1's.
	if _, err := f.a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice}); err != nil {
		t.Fatal(err)
	}
	pg, _ = f.a.Feed(ctx, f.ent2u1, FeedRequest{})
	if pg.UnreadCount != 2 {
		t.Fatalf("ENT 2's u1 sees ENT 1's u1's read: unread %d", pg.UnreadCount)
	}
	pg, _ = f.a.Feed(ctx, ent1, FeedRequest{ENTUserID: "u1"})
	if pg.UnreadCount != 1 || !pg.Items[1].Read || pg.Items[1].ReadAt == nil || !pg.Items[1].ReadAt.Equal(parentNow) {
		t.Fatalf("ENT 1's u1 after reading: unread %d, %+v", pg.UnreadCount, pg.Items[1])
	}
}

// Only a parent reads their feed, or an ENT one of its parents'; bad
// pages are told.
func TestFeedRefusals(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		p    *Principal
		req  FeedRequest
		want string
	}{
		"no principal":               {nil, FeedRequest{}, "auth.forbidden"},
		"anonymous":                  {&Principal{}, FeedRequest{}, "auth.forbidden"},
		"staff account":              {f.staff, FeedRequest{ENTUserID: "u1"}, "auth.forbidden"},
		"parent asking for another":  {f.ent1u1, FeedRequest{ENTUserID: "u2"}, "auth.forbidden"},
		"ENT without a parent":       {&Principal{ENT: &f.ent1}, FeedRequest{}, "resource.not_found"},
		"ENT with an unprintable id": {&Principal{ENT: &f.ent1}, FeedRequest{ENTUserID: "u 1"}, "resource.not_found"},
		"limit too large":            {f.ent1u1, FeedRequest{Limit: MaxFeedLimit + 1}, "request.invalid_query"},
		"negative limit":             {f.ent1u1, FeedRequest{Limit: -1}, "request.invalid_query"},
		"bad cursor":                 {f.ent1u1, FeedRequest{Cursor: "nope"}, "request.invalid_query"},
	} {
		if _, err := f.a.Feed(ctx, tc.p, tc.req); errCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", name, err, tc.want)
		}
	}
	if pg, err := f.a.Feed(ctx, f.ent1u1, FeedRequest{ENTUserID: "u1"}); err != nil || len(pg.Items) != 2 {
		t.Errorf("a parent naming themselves: %v %v", feedIDs(pg), err)
	}
}

// Reads and acknowledgements: a parent's own, of notices in their feed
// only; idempotent; other principals refused.
func TestReadAndAcknowledge(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	for name, p := range map[string]*Principal{"nil": nil, "staff": f.staff, "ENT": {ENT: &f.ent1}} {
		if _, err := f.a.MarkRead(ctx, p, NoticeRequest{NoticeID: f.a1Notice}); errCode(err) != "auth.forbidden" {
			t.Errorf("read by %s: %v", name, err)
		}
		if _, err := f.a.Acknowledge(ctx, p, NoticeRequest{NoticeID: f.a1Ack}); errCode(err) != "auth.forbidden" {
			t.Errorf("ack by %s: %v", name, err)
		}
		if _, err := f.a.MarkAllRead(ctx, p); errCode(err) != "auth.forbidden" {
			t.Errorf("read-all by %s: %v", name, err)
		}
	}
	// Another school's notice is not in the feed.
	if _, err := f.a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.b1Notice}); errCode(err) != "resource.not_found" {
		t.Fatalf("read of another school's notice: %v", err)
	}
	if _, err := f.a.Acknowledge(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice}); errCode(err) != "feed.ack_not_requested" {
		t.Fatalf("ack of a notice that does not ask for it: %v", err)
	}
	r, err := f.a.Acknowledge(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Ack})
	if err != nil || !r.Acknowledged || r.AckAt == nil || r.UnreadCount != 1 || r.NoticeID != f.a1Ack {
		t.Fatalf("ack: %+v %v", r, err)
	}
	// The acknowledged notice counts as read: one left.
	r, err = f.a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice})
	if err != nil || !r.Read || r.UnreadCount != 0 || !r.ReadAt.Equal(parentNow) {
		t.Fatalf("read: %+v %v", r, err)
	}
	r, err = f.a.MarkRead(ctx, f.ent1u1, NoticeRequest{NoticeID: f.a1Notice})
	if err != nil || !r.Read || r.UnreadCount != 0 {
		t.Fatalf("read again: %+v %v", r, err)
	}
	// ENT 2's u1 (another namespace) still has everything unread.
	all, err := f.a.MarkAllRead(ctx, f.ent2u1)
	if err != nil || all.Marked != 2 || all.UnreadCount != 0 {
		t.Fatalf("ENT 2's u1 reads all: %+v %v", all, err)
	}
	if pg, _ := f.a.Feed(ctx, f.ent1u2, FeedRequest{}); pg.UnreadCount != 1 {
		t.Fatalf("ENT 1's u2 after the others read: unread %d", pg.UnreadCount)
	}
}

// Preferences: a parent's own; alerts cannot be muted; a change shows in
// the feed at once (the parent cache is the application layer's).
func TestPreferences(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	en, de := "en", "de"
	for name, p := range map[string]*Principal{"nil": nil, "staff": f.staff, "ENT": {ENT: &f.ent1}} {
		if _, err := f.a.Preferences(ctx, p); errCode(err) != "auth.forbidden" {
			t.Errorf("preferences of %s: %v", name, err)
		}
		if _, err := f.a.SetPreferences(ctx, p, PreferencesRequest{Locale: &en}); errCode(err) != "auth.forbidden" {
			t.Errorf("preferences set by %s: %v", name, err)
		}
		if _, err := f.a.Me(ctx, p); errCode(err) != "auth.forbidden" {
			t.Errorf("me of %s: %v", name, err)
		}
	}
	_, err := f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Locale: &de})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRequestValidationFailed || len(e.Details) != 1 || e.Details[0].Field != "locale" {
		t.Fatalf("locale de: %v", err)
	}
	unknown := &Principal{Parent: &ParentIdentity{ENT: &f.ent1, UserID: "pas-encore"}}
	if _, err := f.a.SetPreferences(ctx, unknown, PreferencesRequest{Locale: &en}); errCode(err) != "feed.not_synced" {
		t.Fatalf("preferences of a parent not synced: %v", err)
	}
	if p, err := f.a.Preferences(ctx, unknown); err != nil || p.Synced || p.Locale != "fr" {
		t.Fatalf("defaults of a parent not synced: %+v %v", p, err)
	}

	_, _ = f.a.Feed(ctx, f.ent1u1, FeedRequest{}) // the parent is cached
	_, err = f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Muted: &[]string{"cantine", "alerte"}})
	if !errors.As(err, &e) || e.Code != CodePreferencesCriticalCategory || len(e.Details) != 1 || e.Details[0].Field != "muted[1]" ||
		!slices.Equal(e.Extra["always_delivered"].([]string), []string{"alerte"}) {
		t.Fatalf("muting alerts: %v", err)
	}
	p, err := f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Locale: &en, Muted: &[]string{"cantine"}})
	if err != nil || p.Locale != "en" || !slices.Equal(p.Muted, []string{"cantine"}) || !slices.Equal(p.AlwaysDelivered, []string{"alerte"}) {
		t.Fatalf("preferences set: %+v %v", p, err)
	}
	i := slices.IndexFunc(p.Categories, func(c CategoryPreference) bool { return c.Code == "cantine" })
	if i < 0 || !p.Categories[i].Muted || !p.Categories[i].Mutable || p.Categories[i].Label.In("en") != "School canteen" {
		t.Fatalf("cantine preference: %+v", p.Categories)
	}
	if pg, _ := f.a.Feed(ctx, f.ent1u1, FeedRequest{}); pg.Locale != "en" {
		t.Fatalf("feed locale after the change: %q", pg.Locale)
	}
	me, err := f.a.Me(ctx, f.ent1u1)
	if err != nil || !me.Synced || me.Locale != "en" || len(me.Children) != 1 || me.Children[0].UAI != uaiA1 {
		t.Fatalf("me: %+v %v", me, err)
	}
	// ENT 2's u1 is untouched.
	if p, err := f.a.Preferences(ctx, f.ent2u1); err != nil || p.Locale != "fr" || len(p.Muted) != 0 {
		t.Fatalf("ENT 2's u1: %+v %v", p, err)
	}
}

// browserSubscription is a PushSubscription with real P-256 keys.
func browserSubscription(t *testing.T, endpoint string) SubscriptionRequest {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return SubscriptionRequest{Endpoint: endpoint, Keys: SubscriptionKeys{
		P256dh: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(auth)}}
}

// Push subscriptions: a parent's own; an endpoint stays with the parent
// who registered it; another parent cannot list or remove it.
func TestPushSubscriptionsOfParent(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	sub := browserSubscription(t, "https://fcm.googleapis.com/fcm/send/abc")
	for name, p := range map[string]*Principal{"nil": nil, "staff": f.staff, "ENT": {ENT: &f.ent1}} {
		if _, err := f.a.Subscribe(ctx, p, sub); errCode(err) != "auth.forbidden" {
			t.Errorf("subscribe by %s: %v", name, err)
		}
		if _, err := f.a.Subscriptions(ctx, p); errCode(err) != "auth.forbidden" {
			t.Errorf("list by %s: %v", name, err)
		}
		if err := f.a.Unsubscribe(ctx, p, UnsubscribeRequest{ID: "psb_x"}); errCode(err) != "auth.forbidden" {
			t.Errorf("unsubscribe by %s: %v", name, err)
		}
	}
	if _, err := f.a.Subscribe(ctx, f.ent1u1, browserSubscription(t, "https://push.example.org/x")); errCode(err) != "push.subscription_invalid" {
		t.Fatalf("unknown push service: %v", err)
	}
	s, err := f.a.Subscribe(ctx, f.ent1u1, sub)
	if err != nil || !s.Created || s.ID == "" || !s.CreatedAt.Equal(parentNow) {
		t.Fatalf("subscribe: %+v %v", s, err)
	}
	if again, err := f.a.Subscribe(ctx, f.ent1u1, sub); err != nil || again.Created || again.ID != s.ID {
		t.Fatalf("subscribe again: %+v %v", again, err)
	}
	if _, err := f.a.Subscribe(ctx, f.ent2u1, sub); errCode(err) != "push.endpoint_taken" {
		t.Fatalf("another ENT's parent takes the endpoint: %v", err)
	}
	unknown := &Principal{Parent: &ParentIdentity{ENT: &f.ent1, UserID: "pas-encore"}}
	if _, err := f.a.Subscribe(ctx, unknown, browserSubscription(t, "https://fcm.googleapis.com/fcm/send/def")); errCode(err) != "push.parent_not_synced" {
		t.Fatalf("parent not synced: %v", err)
	}
	if l, err := f.a.Subscriptions(ctx, f.ent2u1); err != nil || len(l) != 0 {
		t.Fatalf("ENT 2's u1 lists: %+v %v", l, err)
	}
	if err := f.a.Unsubscribe(ctx, f.ent2u1, UnsubscribeRequest{ID: s.ID}); errCode(err) != "resource.not_found" {
		t.Fatalf("ENT 2's u1 removes ENT 1's u1's subscription: %v", err)
	}
	if l, err := f.a.Subscriptions(ctx, f.ent1u1); err != nil || len(l) != 1 || l[0].ID != s.ID {
		t.Fatalf("ENT 1's u1 lists: %+v %v", l, err)
	}
	if err := f.a.Unsubscribe(ctx, f.ent1u1, UnsubscribeRequest{ID: s.ID}); err != nil {
		t.Fatal(err)
	}
	if l, _ := f.a.Subscriptions(ctx, f.ent1u1); len(l) != 0 {
		t.Fatalf("after unsubscribing: %+v", l)
	}
}
