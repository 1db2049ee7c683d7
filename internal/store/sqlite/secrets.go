package sqlite

import (
	"context"
	"fmt"
)

// Secret returns the named server secret, creating it on first use. The
// insert is ignored when another process got there first; the stored value
// is what everyone reads.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("store: unable to generate secret %s: %w", name, err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("store: unable to save secret %s: %w", name, err)
	}
	if err := s.w.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: unable to read secret %s: %w", name, err)
	}
	return v, nil
}
