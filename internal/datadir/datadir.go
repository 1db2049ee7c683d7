// Package datadir keeps one serving process per embedded data directory.
//
// Two `liaison serve` processes on one SQLite data dir would each keep
// their own caches (read states, erased parents, feed snapshots) and both
// run the push workers: a parent erased through one would still be served
// by the other. Lock takes an exclusive advisory lock (flock) on a file in
// the directory for as long as the process serves; a second Lock fails at
// once, naming the holder's address and PID when it wrote them. The lock
// is released by the kernel when the process ends, even on SIGKILL, so a
// crash never leaves a stale lock behind.
//
// Commands that work beside a running server (operator create, audit
// verify, backup) do not take it: SQLite's own locking serialises them.
package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// FileName is the lock file inside the data dir.
const FileName = "liaison.lock"

// Lock is a held data-dir lock.
type Lock struct{ f *os.File }

// HeldError is returned when another process serves the directory.
type HeldError struct {
	Dir    string
	Holder string // "addr 127.0.0.1:8080, pid 1234", or "" if unknown
}

func (e *HeldError) Error() string {
	who := "another liaison process"
	if e.Holder != "" {
		who += " (" + e.Holder + ")"
	}
	return fmt.Sprintf("the data dir %s is already served by %s: stop it first, or give this one another LIAISON_DATA_DIR", e.Dir, who)
}

// Acquire locks dir for this process and records addr and the PID in the
// lock file. It never blocks.
func Acquire(dir, addr string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("LIAISON_DATA_DIR: cannot open %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Dir: dir, Holder: strings.TrimSpace(string(bytes.ToValidUTF8(holder, nil)))}
		}
		return nil, fmt.Errorf("LIAISON_DATA_DIR: cannot lock %s: %w", path, err)
	}
	info := fmt.Sprintf("addr %s, pid %d\n", addr, os.Getpid())
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
	return &Lock{f: f}, nil
}

// Release lets another process serve the directory.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
