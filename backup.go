package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// backupCmd is `liaison backup FILE`: a consistent copy of the embedded
// store, safe beside a running server (internal/store/sqlite.Backup).
func backupCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		fmt.Fprintln(stderr, "usage: liaison backup FILE")
		return 2
	}
	if !cfg.Embedded() {
		fmt.Fprintln(stderr, "liaison: backup copies the embedded store; on MongoDB use mongodump --oplog (or your provider's snapshots): see README.md, Operations")
		return 2
	}
	start := time.Now()
	if err := sqlite.Backup(ctx, cfg.DataDir, args[0]); err != nil {
		fmt.Fprintf(stderr, "liaison: backup failed: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup: %s written in %s (schema version %d, integrity checked)\n", args[0], time.Since(start).Round(time.Millisecond), sqlite.SchemaVersion())
	return 0
}

// restoreCmd is `liaison restore FILE`: the embedded store replaced by a
// backup, with no server running on the data dir; a backup of a newer
// schema, or one that fails SQLite's integrity check, is refused.
func restoreCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		fmt.Fprintln(stderr, "usage: liaison restore FILE")
		return 2
	}
	if !cfg.Embedded() {
		fmt.Fprintln(stderr, "liaison: restore replaces the embedded store; on MongoDB use mongorestore: see README.md, Operations")
		return 2
	}
	lock, err := lockDataDir(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot restore: %v\n", err)
		return 1
	}
	defer lock.Release()
	replaced, err := sqlite.Restore(ctx, cfg.DataDir, args[0], time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "liaison: restore refused: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restore: %s is now the store of %s\n", args[0], cfg.DataDir)
	if replaced != "" {
		fmt.Fprintf(stdout, "restore: the database it replaced is kept as %s\n", replaced)
	}
	fmt.Fprintln(stdout, "restore: run `liaison audit verify`, then start the server")
	return 0
}
