package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// audit verify cross-checks the store against the log: the demo's data
// (every change made with its entry) passes; a notice or a directory
// change without its entry — what a crash between the two leaves on a
// backend without transactions — is named.
func TestAuditVerifyCrossChecksChanges(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, st, time.Now(), "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e := map[string]string{"LIAISON_DATA_DIR": dir}
	code, out, errs := runCmd(t, e, "audit", "verify")
	if code != 0 || !strings.Contains(out, "every notice and directory change has its entry") {
		t.Fatalf("demo data: %d %s %s", code, out, errs)
	}

	db := sqliteFile(t, filepath.Join(dir, sqlite.FileName))
	defer db.Close()
	var noticeID, entID string
	if err := db.QueryRow(`SELECT id FROM notices ORDER BY id LIMIT 1`).Scan(&noticeID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT ent_id FROM parents ORDER BY ent_id LIMIT 1`).Scan(&entID); err != nil {
		t.Fatal(err)
	}
	// A correction stored without its entry, and parents changed after
	// the last sync entry of their ENT.
	later := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	for _, q := range []string{
		`UPDATE notices SET version = version + 1 WHERE id = '` + noticeID + `'`,
		`UPDATE parents SET updated_at = '` + later + `' WHERE ent_id = '` + entID + `' AND rowid IN (SELECT rowid FROM parents WHERE ent_id = '` + entID + `' LIMIT 23)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errs = runCmd(t, e, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "chain intact, but 2 change(s)") ||
		!strings.Contains(errs, "notice "+noticeID+" is at version") || !strings.Contains(errs, "ENT "+entID+": parents changed") {
		t.Fatalf("changes without entries: %d %s", code, errs)
	}
}
