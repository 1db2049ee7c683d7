package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// An ENT stored before key rotation existed keeps its keys through the
// migration that added it, and can then be rotated.
func TestENTFromBeforeKeyRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	before := lastMigrationWith(t, "prev_api_key_hash")
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:before] {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	created := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", before)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO ents (id, name, origins, schools, key_alg, hmac_secret, public_key, api_key_hash, created_at)
		VALUES ('ent_old', 'ENT', '["https://ent.example.fr"]', '["0750001A"]', 'HS256', ?, '', ?, ?)`,
		secret, store.HashToken("key-old"), fromTime(created)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := reopen(t, dir)
	e, err := s.ENTByAPIKeyHash(ctx, store.HashToken("key-old"))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "ent_old" || string(e.HMACSecret) != string(secret) || !e.CreatedAt.Equal(created) || e.KeysVersion != 0 ||
		e.PrevAPIKeyHash != "" || e.PrevAPIKeyUntil != nil || len(e.PrevHMACSecret) != 0 || e.PrevWidgetKeyUntil != nil || e.RevokedAt != nil {
		t.Fatalf("migrated ENT: %+v", e)
	}
	if !e.APIKeyValid(store.HashToken("key-old"), created) || len(e.WidgetKeys(created)) != 1 {
		t.Fatal("the migrated ENT's keys do not open it")
	}
	r := e.RotateAPIKey(store.HashToken("key-new"), created, time.Hour)
	if err := s.UpdateENTKeys(ctx, r, store.AuditEntry{At: created, Action: "ent.rotate_api_key", Target: e.ID}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ENTByAPIKeyHash(ctx, store.HashToken("key-old")); err != nil || got.PrevAPIKeyHash != store.HashToken("key-old") {
		t.Fatalf("previous key after the rotation: %+v %v", got, err)
	}
}
