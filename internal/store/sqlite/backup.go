package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a consistent copy of dir's database to dest with VACUUM
// INTO: one read transaction, so the copy is the database as of one
// instant even while a server writes (WAL: the writer is not blocked), and
// it is compact. dest must not exist; the copy is written beside it and
// renamed into place, so a failed backup leaves no partial file.
func Backup(ctx context.Context, dir, dest string) error {
	src := filepath.Join(dir, FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no database to back up in %s: %w", dir, err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s already exists: give a new file name", dest)
	}
	tmp := dest + ".partial"
	_ = os.Remove(tmp)
	db, err := sql.Open("sqlite", dsn(src, "deferred", "synchronous(NORMAL)"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup of %s failed: %w", src, err)
	}
	if err := checkFile(ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dest)
}

// SchemaVersion is the schema version this program writes: a database
// of a newer version is refused (by Open and by Restore).
func SchemaVersion() int { return len(migrations) }

// FileInfo describes a database file (a backup).
type FileInfo struct {
	Schema int // its schema version
}

// Inspect checks that path is a Liaison database this program can open:
// an intact SQLite file of a schema version not newer than this program's.
func Inspect(ctx context.Context, path string) (FileInfo, error) {
	if _, err := os.Stat(path); err != nil {
		return FileInfo{}, err
	}
	if err := checkFile(ctx, path); err != nil {
		return FileInfo{}, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return FileInfo{}, err
	}
	defer db.Close()
	var info FileInfo
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&info.Schema); err != nil {
		return info, fmt.Errorf("%s is not a Liaison database: %w", path, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit'`).Scan(&n); err != nil || n != 1 || info.Schema == 0 {
		return info, fmt.Errorf("%s is not a Liaison database (no schema)", path)
	}
	if info.Schema > SchemaVersion() {
		return info, fmt.Errorf("%s has schema version %d, newer than this program's (%d): restore it with the Liaison version that made it, or a later one", path, info.Schema, SchemaVersion())
	}
	return info, nil
}

// checkFile runs SQLite's integrity check on a database file.
func checkFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("%s is not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, res)
	}
	return nil
}

// Restore replaces dir's database with the backup at src, after checking
// it (Inspect). The database it replaces is kept beside it as
// liaison.db.before-restore-<time>, with its -wal and -shm files, so a
// mistaken restore can be undone. The caller must hold the data dir (no
// server running on it).
func Restore(ctx context.Context, dir, src string, now time.Time) (replaced string, err error) {
	if _, err := Inspect(ctx, src); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, FileName)
	tmp := dst + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	if _, err := os.Stat(dst); err == nil {
		replaced = dst + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dst+suffix, replaced+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				_ = os.Remove(tmp)
				return "", err
			}
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return replaced, err
	}
	return replaced, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
