package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// childDirEnv, when set, makes TestTwoProcesses the writer child.
const childDirEnv = "LIAISON_TEST_SQLITE_CHILD_DIR"

// TestTwoProcesses writes from two processes on one file, as `liaison
// operator create` does while the server runs: no write fails on a busy
// database and the audit chain stays one chain.
func TestTwoProcesses(t *testing.T) {
	const each = 150
	write := func(s store.Store, who string) error {
		for i := range each {
			id := fmt.Sprintf("acc_%s_%03d", who, i)
			acc := store.Account{ID: id, Role: store.RoleAgent, Name: id, TokenHash: store.HashToken(id), CreatedAt: storetest.T0}
			if err := s.CreateAccount(context.Background(), acc, store.AuditEntry{At: storetest.T0, Actor: who, Action: "account.create", Target: id}); err != nil {
				return err
			}
		}
		return nil
	}
	if dir := os.Getenv(childDirEnv); dir != "" {
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := write(s, "child"); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	s := openAt(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	var wg sync.WaitGroup
	var childErr error
	var out []byte
	wg.Go(func() { out, childErr = cmd.CombinedOutput() })
	if err := write(s, "parent"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if childErr != nil {
		t.Fatalf("child: %v\n%s", childErr, out)
	}
	n, err := s.CountAccounts(context.Background(), store.RoleAgent, "")
	if err != nil || n != 2*each {
		t.Fatalf("%d accounts (%v), want %d", n, err, 2*each)
	}
	var prev store.AuditEntry
	count := 0
	err = s.ScanAudit(context.Background(), func(a store.AuditEntry) error {
		if a.Seq != prev.Seq+1 || a.PrevHash != prev.Hash || a.Hash != store.ChainHash(a.PrevHash, a) {
			return fmt.Errorf("chain broken at Seq %d", a.Seq)
		}
		prev = a
		count++
		return nil
	})
	if err != nil || count != 2*each {
		t.Fatalf("audit chain: %d entries, %v", count, err)
	}
}
