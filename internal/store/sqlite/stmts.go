package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// Prepared statements of the hot paths. A query given to QueryContext or
// ExecContext as text is parsed again on every call; a *sql.Stmt keeps, on
// each connection it has run on, the statement SQLite compiled there
// (modernc.org/sqlite resets and reuses a prepared single statement).
//
// The cache holds one *sql.Stmt per pool and SQL text. A reader statement
// is prepared on first use; the writer's are prepared at Open
// (writerStmts), because preparing on the writer pool needs its only
// connection, which a transaction asking for the statement already holds.
// In a transaction, tx.StmtContext reuses what the statement prepared on
// the transaction's connection. Statements built at run time (variable IN
// lists) are not cached.

// stmtKey names a cached statement.
type stmtKey struct {
	db    *sql.DB
	query string
}

// writerStmts are prepared on the writer when the store opens.
var writerStmts = []string{
	insertNoticeSQL,
	deleteNoticeSchoolsSQL,
	insertNoticeSchoolsSQL,
	auditHeadSQL,
	insertAuditSQL,
	moveAuditHeadSQL,
	claimPushBatchSQL,
	pushBatchLeaseSQL,
	completePushBatchSQL,
	goneSubscriptionsSQL,
	recordPushReceiptSQL,
}

// prepareWriter prepares writerStmts.
func (s *Store) prepareWriter(ctx context.Context) error {
	for _, q := range writerStmts {
		if _, err := s.stmt(ctx, s.w, q); err != nil {
			return err
		}
	}
	return nil
}

// stmt returns the statement of query on db, preparing it on first use.
// It must not be called for the writer inside a transaction: use txStmt.
func (s *Store) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{db, query}
	if st, ok := s.stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(k, st); loaded {
		st.Close() //nolint:errcheck // never used
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// txStmt returns tx's handle on the writer statement of query, prepared at
// Open; a query not among writerStmts is prepared for tx alone.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(stmtKey{s.w, query}); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	return tx.PrepareContext(ctx, query)
}

// closeStmts closes the cached statements.
func (s *Store) closeStmts() error {
	var errs []error
	s.stmts.Range(func(k, st any) bool {
		s.stmts.Delete(k)
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}

// queryStmt runs a cached reader statement.
func (s *Store) queryStmt(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, s.r, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRowStmt runs a cached reader statement that returns one row.
func (s *Store) queryRowStmt(ctx context.Context, query string, args ...any) scanner {
	st, err := s.stmt(ctx, s.r, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a *sql.Row that failed before the query ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// affected is how many rows a statement changed, from what ExecContext
// returned.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// changed is nil when a statement changed a row, none when it changed
// none, the statement's error otherwise (from what ExecContext returned).
func changed(res sql.Result, err error, none error) error {
	n, err := affected(res, err)
	if err == nil && n == 0 {
		err = none
	}
	return err
}

// collect scans every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
