package operator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// An operator created from the command line can sign in with the token
// shown once (only its hash is stored), its creation is audited, and a
// name out of bounds is refused with nothing written.
func TestCreate(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	now := time.Date(2027, 1, 4, 8, 30, 0, 123456789, time.UTC)

	for _, bad := range []string{"", "  ", " C ", strings.Repeat("é", 61)} {
		if _, _, err := Create(ctx, st, bad, now); !errors.Is(err, ErrName) {
			t.Errorf("name %q: %v, want ErrName", bad, err)
		}
	}
	if n, err := st.CountAccounts(ctx, store.RoleOperator, ""); err != nil || n != 0 {
		t.Fatalf("refused names wrote %d account(s): %v", n, err)
	}

	token, acc, err := Create(ctx, st, "  Claire Martin ", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "lia_s_") || acc.TokenHash == token || acc.TokenHash != store.HashToken(token) {
		t.Fatalf("token %q, hash %q", token, acc.TokenHash)
	}
	got, err := st.AccountByTokenHash(ctx, store.HashToken(token))
	if err != nil {
		t.Fatalf("the token does not sign in: %v", err)
	}
	if got.ID != acc.ID || got.Role != store.RoleOperator || got.Name != "Claire Martin" || got.CreatedBy != "cli" ||
		!got.CreatedAt.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("stored %+v", got)
	}
	log, err := st.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(log) != 1 || log[0].Action != "account.create" || log[0].Target != acc.ID || log[0].Actor != "cli" ||
		log[0].Summary != "Création du compte « Claire Martin » (rôle operator) en ligne de commande" {
		t.Fatalf("audit: %+v %v", log, err)
	}
}
