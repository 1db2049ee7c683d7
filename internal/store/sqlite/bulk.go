package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// bulkRows is how many rows one multi-row INSERT writes.
const bulkRows = 100

// inserter writes rows with multi-row INSERTs: full statements of bulkRows
// rows (prepared once), and a last, shorter one.
type inserter struct {
	tx   *sql.Tx
	head string // "INSERT INTO t (a, b) VALUES "
	cols int
	tail string // after the rows (ON CONFLICT …)
	full *sql.Stmt
	args []any
}

func newInserter(tx *sql.Tx, head string, cols int) *inserter {
	return &inserter{tx: tx, head: head, cols: cols, args: make([]any, 0, bulkRows*cols)}
}

// add queues one row, writing the queue when it is full.
func (in *inserter) add(ctx context.Context, row ...any) error {
	in.args = append(in.args, row...)
	if len(in.args) == bulkRows*in.cols {
		return in.flush(ctx)
	}
	return nil
}

// flush writes the queued rows.
func (in *inserter) flush(ctx context.Context) error {
	n := len(in.args) / in.cols
	if n == 0 {
		return nil
	}
	defer func() { in.args = in.args[:0] }()
	if n < bulkRows {
		_, err := in.tx.ExecContext(ctx, in.query(n), in.args...)
		return err
	}
	if in.full == nil {
		stmt, err := in.tx.PrepareContext(ctx, in.query(bulkRows))
		if err != nil {
			return err
		}
		in.full = stmt
	}
	_, err := in.full.ExecContext(ctx, in.args...)
	return err
}

func (in *inserter) query(rows int) string {
	row := "(" + strings.Repeat("?, ", in.cols-1) + "?)"
	var b strings.Builder
	b.Grow(len(in.head) + rows*(len(row)+2))
	b.WriteString(in.head)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(in.tail)
	return b.String()
}

func (in *inserter) close() {
	if in.full != nil {
		in.full.Close()
	}
}
