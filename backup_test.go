package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/operator"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// Backups taken while accounts are being created are each one consistent
// instant: restored into a fresh data dir, the audit chain verifies, the
// file passes SQLite's integrity check, and every account has its audit
// entry (no account without its entry, nor the reverse).
func TestBackupUnderWriteLoadRestores(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st := sqlitetest.OpenIn(t, dir)

	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := operator.Create(ctx, st, fmt.Sprintf("Opérateur %d", i), time.Now()); err != nil {
				t.Errorf("write load: %v", err)
				return
			}
			created.Add(1)
		}
	}()
	for created.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	e := map[string]string{"LIAISON_DATA_DIR": dir}
	var backups []string
	for i := range 3 {
		dest := filepath.Join(t.TempDir(), fmt.Sprintf("liaison-%d.db", i))
		if code, out, errs := runCmd(t, e, "backup", dest); code != 0 || !strings.Contains(out, "written") {
			t.Fatalf("backup %d: %d %s %s", i, code, out, errs)
		}
		backups = append(backups, dest)
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	if code, _, errs := runCmd(t, e, "backup", backups[0]); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("backup over an existing file: %d %s", code, errs)
	}
	for i, b := range backups {
		restored := t.TempDir()
		re := map[string]string{"LIAISON_DATA_DIR": restored}
		if code, out, errs := runCmd(t, re, "restore", b); code != 0 {
			t.Fatalf("restore %d: %d %s %s", i, code, out, errs)
		}
		code, out, errs := runCmd(t, re, "audit", "verify")
		if code != 0 || !strings.Contains(out, "chain intact") {
			t.Fatalf("restored backup %d: audit verify %d %s %s", i, code, out, errs)
		}
		db := sqliteFile(t, filepath.Join(restored, sqlite.FileName))
		var accounts, entries int
		var check string
		if err := db.QueryRow(`SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM audit WHERE action = 'account.create'), (SELECT integrity_check FROM pragma_integrity_check)`).Scan(&accounts, &entries, &check); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if check != "ok" || accounts == 0 || accounts != entries || int64(accounts) > created.Load() {
			t.Fatalf("backup %d: integrity %q, %d accounts, %d account.create entries (%d created in all)", i, check, accounts, entries, created.Load())
		}
	}
}

// A restore refuses a backup of a newer schema, a file that is not a
// database, and a data dir a server is running on; it keeps the database
// it replaces.
func TestRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	e := map[string]string{"LIAISON_DATA_DIR": dir}
	if code, _, errs := runCmd(t, e, "operator", "create", "--name", "Première"); code != 0 {
		t.Fatal(errs)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, _, errs := runCmd(t, e, "backup", backup); code != 0 {
		t.Fatal(errs)
	}

	newer := filepath.Join(t.TempDir(), "newer.db")
	if code, _, errs := runCmd(t, e, "backup", newer); code != 0 {
		t.Fatal(errs)
	}
	db := sqliteFile(t, newer)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, errs := runCmd(t, e, "restore", newer); code != 1 || !strings.Contains(errs, "newer than this program") {
		t.Fatalf("newer schema: %d %s", code, errs)
	}
	garbage := filepath.Join(t.TempDir(), "notes.txt")
	if err := writeFile(garbage, "ceci n'est pas une base"); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, e, "restore", garbage); code != 1 || !strings.Contains(errs, "refused") {
		t.Fatalf("not a database: %d %s", code, errs)
	}

	addr := freeAddr(t)
	_, stop := startServe(t, map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr}, io.Discard)
	if code, _, errs := runCmd(t, e, "restore", backup); code != 1 || !strings.Contains(errs, "already served") {
		t.Fatalf("restore under a running server: %d %s", code, errs)
	}
	// A backup beside the running server works.
	if code, _, errs := runCmd(t, e, "backup", filepath.Join(t.TempDir(), "live.db")); code != 0 {
		t.Fatalf("backup beside the server: %s", errs)
	}
	stop()
	time.Sleep(100 * time.Millisecond)

	if code, _, errs := runCmd(t, e, "operator", "create", "--name", "Seconde"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := runCmd(t, e, "restore", backup)
	if code != 0 || !strings.Contains(out, "before-restore-") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCmd(t, e, "audit", "verify"); code != 0 || !strings.Contains(out, "1 entries") {
		t.Fatalf("after restore, the store is the backup's (1 entry): %s", out)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
