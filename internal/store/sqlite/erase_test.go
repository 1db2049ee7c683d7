package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// TestErasureLeavesNoBytes: once a parent is erased, neither the database
// file nor its write-ahead log holds their id, endpoint or keys any more —
// read with the server still running, after a checkpoint another process
// (the CLI, a backup tool) may run.
func TestErasureLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	t0 := storetest.T0
	const (
		erased   = "erase-me-Q7xK"
		endpoint = "https://push.example/endpoint-Z9wR"
		p256dh   = "p256dh-of-erase-me-4Ht2"
		auth     = "auth-of-erase-me-8Lp0"
	)
	secrets := []string{erased, "endpoint-Z9wR", p256dh, auth}
	parents := []store.Parent{{ENTUserID: erased, Children: []store.Child{{UAI: "0750001A", Level: store.LevelMaternelle, Class: "PS"}}}}
	for i := range 200 {
		parents = append(parents, store.Parent{ENTUserID: fmt.Sprintf("keep-%03d", i), Children: []store.Child{{UAI: "0750001A", Level: store.LevelMaternelle}}})
	}
	if _, err := s.UpsertParents(ctx, "ent_1", parents, t0, store.AuditEntry{At: t0, Action: "parents.sync"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpsertPushSubscription(ctx, store.PushSubscription{ID: "psb_erased", ENTID: "ent_1", ENTUserID: erased,
		Endpoint: endpoint, P256dh: p256dh, Auth: auth, CreatedAt: t0, RefreshedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpsertPushSubscription(ctx, store.PushSubscription{ID: "psb_kept", ENTID: "ent_1", ENTUserID: "keep-000",
		Endpoint: "https://push.example/kept", P256dh: "p256dh-kept", Auth: "auth-kept", CreatedAt: t0, RefreshedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// A notice whose push waits for the end of quiet hours: the batch
	// holds the endpoint and keys.
	n := store.Notice{ID: "ntc_1", Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "menu", Priority: "normal", Title: "Menu", Body: "Lentilles.", Audience: store.Audience{Schools: []string{"0750001A"}},
		PublishAt: t0, ExpiresAt: t0.Add(48 * time.Hour), Push: true, Status: store.NoticePublished, ConventionID: "cnv_1",
		ConventionNumber: 1, ConventionVersion: 1, Article: "3", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateNotice(ctx, n, store.AuditEntry{At: t0, Action: "notice.publish", Target: n.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartFanout(ctx, store.PushFanout{NoticeID: n.ID, Version: 1, Category: "menu", Audience: n.Audience,
		PushAt: t0.Add(10 * time.Hour), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FanoutStep(ctx, n.ID, 1, 500, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkRead(ctx, "ent_1", erased, []string{n.ID}, t0); err != nil {
		t.Fatal(err)
	}

	// Another connection on the file, as the CLI or a backup tool.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkpoint := func() {
		t.Helper()
		var busy, frames, done int
		if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
			t.Fatal(err)
		}
	}
	files := func() []byte {
		t.Helper()
		var all []byte
		for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	checkpoint() // part of it in the database file, part in the log
	if _, err := s.MarkRead(ctx, "ent_1", "keep-001", []string{n.ID}, t0); err != nil {
		t.Fatal(err)
	}
	before := files()
	for _, secret := range append(secrets, "keep-199") {
		if !bytes.Contains(before, []byte(secret)) {
			t.Fatalf("%q is not in the files before the erasure: the test reads the wrong files", secret)
		}
	}

	if err := s.DeleteParent(ctx, "ent_1", erased, store.AuditEntry{At: t0, Action: "parents.erase", Target: "ent_1"}); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	after := files()
	for _, secret := range secrets {
		if i := bytes.Index(after, []byte(secret)); i >= 0 {
			t.Errorf("%q still in the files after the erasure (byte %d)", secret, i)
		}
	}
	for _, kept := range []string{"keep-199", "https://push.example/kept"} {
		if !bytes.Contains(after, []byte(kept)) {
			t.Errorf("%q is gone too", kept)
		}
	}
}
