package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecondLockRefusedNamingTheHolder(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir, "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "127.0.0.1:8081")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:8080") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("the refusal should name the holder's address and the dir: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir, "127.0.0.1:8081")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
}

// A process killed while holding the lock leaves no stale lock: the kernel
// drops a flock with the process.
func TestLockDiesWithItsProcess(t *testing.T) {
	if os.Getenv("DATADIR_HOLD") != "" {
		if _, err := Acquire(os.Getenv("DATADIR_HOLD"), "127.0.0.1:9999"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDiesWithItsProcess$")
	cmd.Env = append(os.Environ(), "DATADIR_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	if _, err := Acquire(dir, "x"); err == nil || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("while the child holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "x")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
}
