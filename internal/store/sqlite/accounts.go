package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

const accountColumns = `id, role, name, collectivite_id, services, schools, machine, token_hash, created_at, created_by`

// CreateAccount stores a new account.
func (s *Store) CreateAccount(ctx context.Context, acc store.Account, a store.AuditEntry) error {
	return s.insertAudited(ctx, a, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{
		acc.ID, acc.Role, acc.Name, acc.CollectiviteID, fromList(acc.Services), fromList(acc.Schools),
		acc.Machine, acc.TokenHash, fromTime(acc.CreatedAt), acc.CreatedBy},
		"create account %s", acc.ID)
}

func scanAccount(sc scanner) (store.Account, error) {
	var acc store.Account
	var services, schools, created string
	err := sc.Scan(&acc.ID, &acc.Role, &acc.Name, &acc.CollectiviteID, &services, &schools,
		&acc.Machine, &acc.TokenHash, &created, &acc.CreatedBy)
	if err != nil {
		return acc, err
	}
	var dec decoded
	acc.Services, acc.Schools, acc.CreatedAt = dec.list(services), dec.list(schools), dec.time(created)
	return acc, dec.err
}

// GetAccount returns an account by ID.
func (s *Store) GetAccount(ctx context.Context, id string) (store.Account, error) {
	return one(s.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id), scanAccount, "get account %s", id)
}

// AccountByTokenHash returns the account whose token hashes to hash.
func (s *Store) AccountByTokenHash(ctx context.Context, hash string) (store.Account, error) {
	if hash == "" {
		return store.Account{}, fmt.Errorf("store: unable to get account by token: %w", store.ErrNotFound)
	}
	return one(s.queryRowStmt(ctx, `SELECT `+accountColumns+` FROM accounts WHERE token_hash = ?`, hash), scanAccount, "get account by token")
}

// ListAccounts lists accounts by ID.
func (s *Store) ListAccounts(ctx context.Context, f store.AccountFilter) ([]store.Account, error) {
	out, err := list(ctx, s.r, scanAccount, `SELECT `+accountColumns+` FROM accounts
		WHERE id > ? AND (? = '' OR collectivite_id = ?) AND (? = '' OR role = ?)
		ORDER BY id LIMIT ?`,
		f.Cursor, f.CollectiviteID, f.CollectiviteID, f.Role, f.Role, limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: unable to list accounts: %w", err)
	}
	return out, nil
}

// CountAccounts counts the accounts of a role (all roles if empty) and of a
// collectivité (all if empty).
func (s *Store) CountAccounts(ctx context.Context, role, collectiviteID string) (int, error) {
	n, err := countAccounts(ctx, s.r, role, collectiviteID)
	if err != nil {
		return 0, fmt.Errorf("store: unable to count accounts: %w", err)
	}
	return n, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func countAccounts(ctx context.Context, q queryer, role, collectiviteID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts
		WHERE (? = '' OR role = ?) AND (? = '' OR collectivite_id = ?)`,
		role, role, collectiviteID, collectiviteID).Scan(&n)
	return n, err
}

// DeleteAccount removes an account, unless it holds operator or admin
// rights that fewer than store.MinKeyHolders would hold after it.
func (s *Store) DeleteAccount(ctx context.Context, id string, a store.AuditEntry) error {
	err := s.write(ctx, a, func(tx *sql.Tx) error {
		var role, collectiviteID string
		err := tx.QueryRowContext(ctx, `SELECT role, collectivite_id FROM accounts WHERE id = ?`, id).Scan(&role, &collectiviteID)
		if err != nil {
			return err
		}
		switch role {
		case store.RoleOperator, store.RoleAdmin:
			scope := collectiviteID
			if role == store.RoleOperator {
				scope = ""
			}
			n, err := countAccounts(ctx, tx, role, scope)
			if err != nil {
				return err
			}
			if n <= store.MinKeyHolders {
				return &store.KeyHolderError{Role: role, CollectiviteID: scope, Current: n}
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unable to delete account %s: %w", id, mapErr(err))
	}
	return nil
}
