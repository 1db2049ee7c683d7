package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// sqliteFile opens the SQLite database file at path directly, for tests
// that read or alter it behind the store's back; the caller closes it.
func sqliteFile(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runCmd(t *testing.T, e map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, env(e), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCmd(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "liaison ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, nil); code != 2 || !strings.Contains(errs, "Usage:") {
		t.Fatalf("no command: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
}

// The one-off commands that need the store say so, with exit code 1,
// when it cannot be opened (here: the data dir is a file).
func TestCommandsSayTheStoreCannotOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := writeFile(file, "x"); err != nil {
		t.Fatal(err)
	}
	e := map[string]string{"LIAISON_DATA_DIR": file}
	for _, args := range [][]string{{"operator", "create", "--name", "Équipe"}, {"audit", "verify"}} {
		code, _, errs := runCmd(t, e, args...)
		if code != 1 || !strings.Contains(errs, "liaison: cannot open the store: LIAISON_DATA_DIR: cannot create "+file) {
			t.Errorf("%v: %d %q", args, code, errs)
		}
	}
}

// An invalid configuration stops the program with a message naming the
// variable.
func TestInvalidConfigNamesTheVariable(t *testing.T) {
	for name, val := range map[string]string{
		"LIAISON_ROLE":           "everything",
		"LIAISON_ADDR":           "8080",
		"LIAISON_LOG_LEVEL":      "loud",
		"LIAISON_RETENTION_DAYS": "a year",
		"LIAISON_MONGODB_URI":    "postgres://x",
		"LIAISON_BASE_URL":       "liaison.example.fr",
	} {
		code, _, errs := runCmd(t, map[string]string{name: val, "LIAISON_DATA_DIR": t.TempDir()}, "serve")
		if code != 2 || !strings.Contains(errs, name) {
			t.Errorf("%s=%q: exit %d, stderr %q", name, val, code, errs)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.FromEnv(env(map[string]string{"LIAISON_MONGODB_URI_FILE": filepath.Join(dir, "absent")}))
	if err == nil || !strings.Contains(err.Error(), "LIAISON_MONGODB_URI_FILE") {
		t.Fatalf("missing secret file: %v %+v", err, cfg)
	}
}

// operator create prints the token alone on its last line; audit verify
// detects a row altered in the database, and names it.
func TestOperatorCreateAndAuditTamper(t *testing.T) {
	dir := t.TempDir()
	e := map[string]string{"LIAISON_DATA_DIR": dir}
	for _, name := range []string{"Claire Martin", "Hugo Lefebvre", "Nadia Roussel"} {
		code, out, errs := runCmd(t, e, "operator", "create", "--name", name)
		if code != 0 {
			t.Fatalf("operator create: %d %s", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if tok := lines[len(lines)-1]; !strings.HasPrefix(tok, "lia_s_") || strings.ContainsAny(tok, " \t") {
			t.Fatalf("last line is not a token: %q", tok)
		}
	}
	if code, _, errs := runCmd(t, e, "operator", "create"); code != 2 || !strings.Contains(errs, "--name") {
		t.Fatalf("operator create without name: %d %q", code, errs)
	}
	code, out, errs := runCmd(t, e, "audit", "verify")
	if code != 0 || !strings.Contains(out, "3 entries, chain intact") {
		t.Fatalf("verify intact chain: %d %q %q", code, out, errs)
	}

	db := sqliteFile(t, filepath.Join(dir, sqlite.FileName))
	defer db.Close()
	// 1. A summary altered in place: entry 2's hash no longer matches.
	if _, err := db.Exec(`UPDATE audit SET summary = 'rien à signaler' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd(t, e, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "chain BROKEN at entry 2") || !strings.Contains(errs, "content does not match its hash") {
		t.Fatalf("altered entry: %d %q", code, errs)
	}
	// 2. Altered and re-hashed by someone who knows the formula: the next
	// entry's link gives it away, and entry 2 is still named.
	var e2 store.AuditEntry
	var at string
	if err := db.QueryRow(`SELECT seq, at, actor, action, target, summary, collectivite_id, prev_hash FROM audit WHERE seq = 2`).
		Scan(&e2.Seq, &at, &e2.Actor, &e2.Action, &e2.Target, &e2.Summary, &e2.CollectiviteID, &e2.PrevHash); err != nil {
		t.Fatal(err)
	}
	e2.At, _ = time.Parse("2006-01-02T15:04:05.000000000Z", at)
	if _, err := db.Exec(`UPDATE audit SET hash = ? WHERE seq = 2`, store.ChainHash(e2.PrevHash, e2)); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd(t, e, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "chain BROKEN at entry 2") || !strings.Contains(errs, "re-hashed") {
		t.Fatalf("re-hashed entry: %d %q", code, errs)
	}
	// 3. A deleted entry breaks the sequence.
	if _, err := db.Exec(`UPDATE audit SET summary = ?, hash = (SELECT hash FROM audit WHERE seq = 2) WHERE seq = 2`, e2.Summary); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd(t, e, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "entry 3") || !strings.Contains(errs, "removed") {
		t.Fatalf("deleted entry: %d %q", code, errs)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// operator create works while the server runs on the same data dir, and
// the server shuts down gracefully.
func TestOperatorCreateWhileServing(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	e := map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr}
	done, cancel := startServe(t, e, io.Discard)
	code, out, errs := runCmd(t, e, "operator", "create", "--name", "Opératrice de garde")
	if code != 0 {
		t.Fatalf("operator create while serving: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	var status int
	for i := 0; i < 50; i++ { // the listener may lag the ready callback
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/v1/collectivites", addr), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			status = res.StatusCode
			res.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != 200 {
		t.Fatalf("new operator's token against the running server: %d", status)
	}
	stopServer(t, cancel, done) // a graceful shutdown: 0
}
