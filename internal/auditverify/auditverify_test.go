package auditverify

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// CrossCheck names a notice stored without its publication entry and one
// corrected without its correction entry; once retention purged the start
// of the log, changes older than the oldest entry kept are no longer
// reported (their entries may have been purged). Verify counts the chain
// and names the entry that was altered.
func TestCrossCheckAndVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := sqlitetest.OpenIn(t, dir)
	t0 := time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC)
	mk := func(id string, at time.Time, action string) store.Notice {
		t.Helper()
		n := store.Notice{ID: id, Version: 1, CollectiviteID: "col_a", AuthorID: "acc_a", Service: "restauration", Category: "cantine",
			Priority: "normal", Title: "Menu", Audience: store.Audience{Schools: []string{"0801001D"}}, PublishAt: at,
			ExpiresAt: at.Add(72 * time.Hour), Status: store.NoticePublished, CreatedAt: at, UpdatedAt: at}
		if err := st.CreateNotice(ctx, n, store.AuditEntry{At: at, Actor: "acc_a", Action: action, Target: id}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	check := func(want ...string) {
		t.Helper()
		gaps, err := CrossCheck(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(gaps) != len(want) {
			t.Fatalf("gaps %q, want %d naming %q", gaps, len(want), want)
		}
		for i := range want {
			if !strings.Contains(gaps[i], want[i]) {
				t.Fatalf("gap %d: %q, want it to name %q", i, gaps[i], want[i])
			}
		}
	}

	mk("ntc_unaudited", t0, "test.seed")
	check("notice ntc_unaudited (created 2027-02-01T09:00:00Z) has no notice.publish entry")

	t1 := t0.Add(48 * time.Hour)
	mk("ntc_ok", t1, "notice.publish")
	c := mk("ntc_corrected", t1, "notice.publish")
	c.Version, c.Title, c.UpdatedAt = 2, "Menu corrigé", t1.Add(time.Minute)
	if err := st.UpdateNotice(ctx, c, 1, store.AuditEntry{At: t1.Add(time.Minute), Actor: "acc_a", Action: "test.edit", Target: c.ID}); err != nil {
		t.Fatal(err)
	}
	check("notice ntc_corrected is at version 2 but the log records 0 correction(s)",
		"notice ntc_unaudited (created 2027-02-01T09:00:00Z) has no notice.publish entry")

	// Retention purges the entries older than a day after t0: the
	// unaudited notice is older than what the log still holds.
	if n, err := st.PurgeAudit(ctx, t0.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	check("notice ntc_corrected is at version 2 but the log records 0 correction(s)")

	n, err := Verify(ctx, st)
	if err != nil || n != 3 {
		t.Fatalf("verify: %d entries, %v; want 3, intact", n, err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET summary = 'rien' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(ctx, st)
	var broken *BrokenEntryError
	if !errors.As(err, &broken) || broken.Entry.Seq != 3 || !strings.Contains(broken.Why, "does not match its hash") {
		t.Fatalf("altered entry 3: %v", err)
	}
}
