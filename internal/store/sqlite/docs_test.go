package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The documents as the code before docs.go wrote them (json.Marshal of
// store.Notice, store.PushFanout and []store.PushItem): the on-disk format
// that every existing database holds.
const (
	fullNoticeJSON = `{"id":"ntc_1","version":3,"collectivite_id":"col_a","author_id":"acc_agent","service":"restauration",` +
		`"category":"menu","priority":"haute","title":"Menu « de la semaine »","body":"Lundi : lentilles.\nMardi : \u003cpoisson\u003e \u0026 riz.",` +
		`"audience":{"schools":["0750001A","0750002B"],"levels":["CP"],"classes":["cp-a"]},` +
		`"content":{"days":[{"day":"lundi","dishes":["lentilles"]}]},"publish_at":"2026-11-23T10:00:00Z","expires_at":"2026-11-30T09:00:00Z",` +
		`"ack_required":true,"push":true,"critical":true,"status":"withdrawn","convention_id":"cnv_1","convention_number":4,` +
		`"convention_version":2,"article":"3.1","created_at":"2026-11-23T09:00:00Z","updated_at":"2026-11-24T10:00:00Z",` +
		`"correction_reason":"faute de frappe","withdrawn_at":"2026-11-24T11:00:00.123456789Z","withdraw_reason":"annulé",` +
		`"push_version":2,"repushed_at":"2026-11-24T10:00:00Z"` + attachmentsJSON + `}`
	attachmentsJSON = `,"attachments":[{"id":"att_1","name":"Menu de décembre.pdf","content_type":"application/pdf","size":245760,"added_at":"2026-11-23T09:30:00Z"},` +
		`{"id":"att_2","name":"cour.png","content_type":"image/png","size":2048,"alt":"La cour","added_at":"2026-11-23T09:31:00Z"}]`
	zeroNoticeJSON = `{"id":"ntc_2","version":0,"collectivite_id":"","author_id":"","service":"","category":"","priority":"",` +
		`"title":"","body":"","audience":{"schools":null},"publish_at":"0001-01-01T00:00:00Z","expires_at":"0001-01-01T00:00:00Z",` +
		`"ack_required":false,"push":false,"critical":false,"status":"","convention_id":"","convention_number":0,` +
		`"convention_version":0,"article":"","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`
	legacyFanoutJSON = `{"notice_id":"ntc_1","version":3,"category":"menu","critical":true,` +
		`"audience":{"schools":["0750001A","0750002B"],"levels":["CP"],"classes":["cp-a"]},` +
		`"push_at":"2026-11-23T10:00:00Z","created_at":"2026-11-23T09:00:00Z","done":false}`
	pushItemsJSON = `[{"s":"psb_1","e":"https://push.example/1","k":"BPk","a":"au"},` +
		`{"s":"psb_2","n":2,"f":"2026-11-23T09:00:00Z","w":"2026-11-23T09:01:00Z","x":true,"r":"delivered","h":201}]`
)

var docT0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// fullNotice sets every field of store.Notice (fullNoticeJSON is its
// document); the idempotency key and request hash live in columns.
func fullNotice() store.Notice {
	w := docT0.Add(26*time.Hour + 123456789)
	return store.Notice{
		ID: "ntc_1", Version: 3, CollectiviteID: "col_a", AuthorID: "acc_agent", Service: "restauration",
		Category: "menu", Priority: "haute", Title: "Menu « de la semaine »", Body: "Lundi : lentilles.\nMardi : <poisson> & riz.",
		Audience:  store.Audience{Schools: []string{"0750001A", "0750002B"}, Levels: []conventions.Level{"CP"}, Classes: []string{"cp-a"}},
		Content:   json.RawMessage(`{"days":[{"day":"lundi","dishes":["lentilles"]}]}`),
		PublishAt: docT0.Add(time.Hour), ExpiresAt: docT0.Add(7 * 24 * time.Hour), AckRequired: true, Push: true, Critical: true,
		Status: store.NoticeWithdrawn, ConventionID: "cnv_1", ConventionNumber: 4, ConventionVersion: 2, Article: "3.1",
		IdempotencyKey: "key-1", RequestHash: "hash-1",
		CreatedAt: docT0, UpdatedAt: docT0.Add(25 * time.Hour), CorrectionReason: "faute de frappe",
		WithdrawnAt: &w, WithdrawReason: "annulé", PushVersion: 2, RepushedAt: ptrTime(docT0.Add(25 * time.Hour)),
		Attachments: []store.Attachment{
			{ID: "att_1", Name: "Menu de décembre.pdf", ContentType: "application/pdf", Size: 245760, AddedAt: docT0.Add(30 * time.Minute)},
			{ID: "att_2", Name: "cour.png", ContentType: "image/png", Size: 2048, Alt: "La cour", AddedAt: docT0.Add(31 * time.Minute)},
		},
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func pushItems() []store.PushItem {
	return []store.PushItem{
		{SubscriptionID: "psb_1", Endpoint: "https://push.example/1", P256dh: "BPk", Auth: "au"},
		{SubscriptionID: "psb_2", Attempts: 2, FirstAt: docT0, NotBefore: docT0.Add(time.Minute), Shrunk: true, Result: "delivered", Status: 201},
	}
}

// TestNoticeDocFormat pins the notices' on-disk JSON: the documents this
// package writes are byte for byte those existing databases hold, whatever
// the JSON tags of store.Notice (the API's) become, and they read back.
func TestNoticeDocFormat(t *testing.T) {
	n := fullNotice()
	// Every field is set, so that one added to store.Notice without its
	// place in noticeDoc (and in this fixture) fails here.
	v := reflect.ValueOf(n)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullNotice leaves store.Notice.%s zero: give it a noticeDoc field (or a column) and a value here", v.Type().Field(i).Name)
		}
	}
	// Times given in another zone are stored in UTC.
	paris := time.FixedZone("Europe/Paris", 3600)
	in := n
	in.PublishAt, in.CreatedAt = n.PublishAt.In(paris), n.CreatedAt.In(paris)
	for _, c := range []struct {
		n    store.Notice
		want string
	}{{in, fullNoticeJSON}, {store.Notice{ID: "ntc_2"}, zeroNoticeJSON}} {
		got, err := encodeNotice(c.n)
		if err != nil || string(got) != c.want {
			t.Errorf("document of %s: %v\n got %s\nwant %s", c.n.ID, err, got, c.want)
		}
	}
	got, err := decodeNotice([]byte(fullNoticeJSON), "key-1")
	want := n
	want.RequestHash = "" // its column, read by NoticeByIdempotencyKey only
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("read back: %v\n got %+v\nwant %+v", err, got, want)
	}
	// A document written before corrections could go without a push: its
	// current version is its pushed one.
	legacy := strings.Replace(fullNoticeJSON, `,"push_version":2,"repushed_at":"2026-11-24T10:00:00Z"`+attachmentsJSON, "", 1)
	if got, err := decodeNotice([]byte(legacy), ""); err != nil || got.PushVersion != 0 || got.RepushedAt != nil || got.Attachments != nil || got.PushedVersion() != 3 {
		t.Errorf("a document without push_version: %v, push version %d, repushed at %v, pushed version %d", err, got.PushVersion, got.RepushedAt, got.PushedVersion())
	}
	if _, err := decodeNotice([]byte(`{"id":`), ""); err == nil {
		t.Error("a cut document was read")
	}
}

// TestFanoutDocFormat: a fan-out's document holds what its columns do not
// (cursor and done are columns); those written before docs.go, which also
// held "done", still read.
func TestFanoutDocFormat(t *testing.T) {
	n := fullNotice()
	f := store.PushFanout{NoticeID: "ntc_1", Version: 3, Category: "menu", Critical: true, Audience: n.Audience,
		PushAt: docT0.Add(time.Hour), CreatedAt: docT0, Cursor: "12:3", Done: true}
	const want = `{"notice_id":"ntc_1","version":3,"category":"menu","critical":true,` +
		`"audience":{"schools":["0750001A","0750002B"],"levels":["CP"],"classes":["cp-a"]},` +
		`"push_at":"2026-11-23T10:00:00Z","created_at":"2026-11-23T09:00:00Z"}`
	got, err := encodeFanout(f)
	if err != nil || string(got) != want {
		t.Errorf("document: %v\n got %s\nwant %s", err, got, want)
	}
	for _, doc := range []string{want, legacyFanoutJSON} {
		back, err := decodeFanout([]byte(doc), "12:3", true)
		if err != nil || !reflect.DeepEqual(back, f) {
			t.Errorf("read back %s: %v\n got %+v\nwant %+v", doc, err, back, f)
		}
	}
}

// TestPushItemDocFormat pins the JSON of pushes (batch results, and batch
// items as earlier versions wrote them).
func TestPushItemDocFormat(t *testing.T) {
	got, err := json.Marshal(newPushItemDocs(pushItems()))
	if err != nil || string(got) != pushItemsJSON {
		t.Errorf("JSON: %v\n got %s\nwant %s", err, got, pushItemsJSON)
	}
	back, err := decodeItems([]byte(pushItemsJSON))
	if err != nil || !reflect.DeepEqual(back, pushItems()) {
		t.Errorf("read back: %v\n got %+v\nwant %+v", err, back, pushItems())
	}
}

// TestReadsExistingDatabase: a database whose documents were written by
// the code before docs.go (raw rows of that code's exact JSON) reads
// through the store as the notices, versions, fan-outs and push results
// it was written from, and its push results are appended to.
func TestReadsExistingDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), "immediate"))
	if err != nil {
		t.Fatal(err)
	}
	// ntc_1 (withdrawn, version 3, one earlier version) and ntc_3, visible
	// and to push, whose fan-out has written a batch.
	visible := fullNotice()
	visible.ID, visible.Version, visible.Status = "ntc_3", 1, store.NoticePublished
	visible.IdempotencyKey, visible.RequestHash = "key-3", "hash-3"
	visible.Audience = store.Audience{Schools: []string{"0750001A"}}
	visible.CorrectionReason, visible.WithdrawnAt, visible.WithdrawReason = "", nil, ""
	visible.PushVersion, visible.RepushedAt = 0, nil // documents written before they were kept
	visible.Attachments = nil
	visibleJSON := `{"id":"ntc_3","version":1,"collectivite_id":"col_a","author_id":"acc_agent","service":"restauration",` +
		`"category":"menu","priority":"haute","title":"Menu « de la semaine »","body":"Lundi : lentilles.\nMardi : \u003cpoisson\u003e \u0026 riz.",` +
		`"audience":{"schools":["0750001A"]},"content":{"days":[{"day":"lundi","dishes":["lentilles"]}]},` +
		`"publish_at":"2026-11-23T10:00:00Z","expires_at":"2026-11-30T09:00:00Z","ack_required":true,"push":true,"critical":true,` +
		`"status":"published","convention_id":"cnv_1","convention_number":4,"convention_version":2,"article":"3.1",` +
		`"created_at":"2026-11-23T09:00:00Z","updated_at":"2026-11-24T10:00:00Z"}`
	v2 := fullNotice()
	v2.Version, v2.Status, v2.WithdrawnAt, v2.WithdrawReason = 2, store.NoticePublished, nil, ""
	v2.PushVersion, v2.RepushedAt = 0, nil
	v2.Attachments = nil
	legacyNoticeJSON := strings.Replace(fullNoticeJSON, `,"push_version":2,"repushed_at":"2026-11-24T10:00:00Z"`+attachmentsJSON, "", 1)
	v2JSON := `{"id":"ntc_1","version":2,"collectivite_id":"col_a","author_id":"acc_agent","service":"restauration",` +
		`"category":"menu","priority":"haute","title":"Menu « de la semaine »","body":"Lundi : lentilles.\nMardi : \u003cpoisson\u003e \u0026 riz.",` +
		`"audience":{"schools":["0750001A","0750002B"],"levels":["CP"],"classes":["cp-a"]},` +
		`"content":{"days":[{"day":"lundi","dishes":["lentilles"]}]},"publish_at":"2026-11-23T10:00:00Z","expires_at":"2026-11-30T09:00:00Z",` +
		`"ack_required":true,"push":true,"critical":true,"status":"published","convention_id":"cnv_1","convention_number":4,` +
		`"convention_version":2,"article":"3.1","created_at":"2026-11-23T09:00:00Z","updated_at":"2026-11-24T10:00:00Z",` +
		`"correction_reason":"faute de frappe"}`
	const insertNotice = `INSERT INTO notices (id, version, collectivite_id, author_id, idempotency_key, request_hash,
		category, status, publish_at, expires_at, withdrawn_at, doc) VALUES (?, ?, 'col_a', 'acc_agent', ?, ?, 'menu', ?,
		'2026-11-23T10:00:00.000000000Z', '2026-11-30T09:00:00.000000000Z', ?, ?)`
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{insertNotice, []any{"ntc_1", 3, "key-1", "hash-1", "withdrawn", "2026-11-24T11:00:00.123456789Z", []byte(legacyNoticeJSON)}},
		{insertNotice, []any{"ntc_3", 1, "key-3", "hash-3", "published", nil, []byte(visibleJSON)}},
		{`INSERT INTO notice_schools (uai, notice_id) VALUES ('0750001A', 'ntc_1'), ('0750002B', 'ntc_1'), ('0750001A', 'ntc_3')`, nil},
		{`INSERT INTO notice_versions (notice_id, version, doc) VALUES ('ntc_1', 2, ?)`, []any{[]byte(v2JSON)}},
		{`INSERT INTO push_fanouts (notice_id, version, doc, cursor, done, created_at) VALUES ('ntc_1', 3, ?, '12:3', 0, '2026-11-23T09:00:00.000000000Z')`,
			[]any{[]byte(legacyFanoutJSON)}},
		{`INSERT INTO push_batches (id, notice_id, version, available_at, items, results, pending)
			VALUES ('pbt_1', 'ntc_3', 1, '2026-11-23T10:00:00.000000000Z', '[]', ?, 0)`, []any{[]byte(pushItemsJSON)}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, dir)
	withdrawn := fullNotice()
	withdrawn.RequestHash = ""
	withdrawn.PushVersion, withdrawn.RepushedAt = 0, nil
	withdrawn.Attachments = nil
	visibleNoHash := visible
	visibleNoHash.RequestHash = ""
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", what, err, got, want)
		}
	}
	got, err := s.GetNotice(ctx, "ntc_1")
	check("GetNotice", got, withdrawn, err)
	got, err = s.NoticeByIdempotencyKey(ctx, "col_a", "acc_agent", "key-3")
	check("NoticeByIdempotencyKey", got, visible, err)
	list, err := s.ListNotices(ctx, store.NoticeFilter{CollectiviteID: "col_a"})
	check("ListNotices", list, []store.Notice{visibleNoHash, withdrawn}, err)
	v2.IdempotencyKey, v2.RequestHash = "key-1", ""
	list, err = s.NoticeVersions(ctx, "ntc_1")
	check("NoticeVersions", list, []store.Notice{v2}, err)
	now := docT0.Add(2 * time.Hour)
	list, err = s.FeedNotices(ctx, now, now.Add(time.Second))
	check("FeedNotices", list, []store.Notice{visibleNoHash}, err)
	list, err = s.DuePushNotices(ctx, now, 10) // reads "push" in SQL
	check("DuePushNotices", list, []store.Notice{visibleNoHash}, err)
	var stamps []store.NoticeStamp
	err = s.ScanNoticeStamps(ctx, func(st store.NoticeStamp) error { stamps = append(stamps, st); return nil })
	check("ScanNoticeStamps", len(stamps), 2, err)
	for _, st := range stamps {
		check("stamp of "+st.ID, st.CreatedAt, docT0, nil)
	}
	fanouts, err := s.PendingFanouts(ctx, 10)
	check("PendingFanouts", fanouts, []store.PushFanout{{NoticeID: "ntc_1", Version: 3, Category: "menu", Critical: true,
		Audience: withdrawn.Audience, PushAt: docT0.Add(time.Hour), CreatedAt: docT0, Cursor: "12:3"}}, err)

	// The batch (items as the JSON "[]" of earlier versions) is claimed
	// and completed: its results, earlier ones kept, gain the new one.
	b, err := s.ClaimPushBatch(ctx, "worker-1", now, time.Minute)
	check("ClaimPushBatch", b.Items, []store.PushItem{}, err)
	done := store.PushItem{SubscriptionID: "psb_3", Endpoint: "https://push.example/3", Attempts: 1, FirstAt: now, Result: "delivered", Status: 201}
	err = s.CompletePushBatch(ctx, b, store.PushBatchUpdate{Finished: []store.PushItem{done}}, now)
	var results string
	if err == nil {
		err = s.r.QueryRowContext(ctx, `SELECT results FROM push_batches WHERE id = 'pbt_1'`).Scan(&results)
	}
	want := pushItemsJSON[:len(pushItemsJSON)-1] + `,{"s":"psb_3","n":1,"f":"2026-11-23T11:00:00Z","r":"delivered","h":201}]`
	check("results", results, want, err)
}
