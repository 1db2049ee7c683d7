package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// supportsTransactions tells whether the server runs multi-document
// transactions: a replica set member or a mongos, not FerretDB v1 and not
// a standalone server.
func (s *Store) supportsTransactions(ctx context.Context) (bool, error) {
	if s.ferretDB {
		return false, nil
	}
	var hello bson.M
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return false, fmt.Errorf("store: unable to ask the server what it is: %w", err)
	}
	if name, _ := hello["setName"].(string); name != "" {
		return true, nil
	}
	msg, _ := hello["msg"].(string)
	return msg == "isdbgrid", nil
}

// Transactions reports whether a mutation and its audit entry commit
// together on this server (a replica set or a sharded cluster). Without
// them, a process killed between the two leaves a change without its
// entry — `liaison audit verify` names it — and a directory sync is not
// all or nothing.
func (s *Store) Transactions() bool { return s.txn }

// errAuditRaced: inside a transaction, another process appended the
// audit sequence number this one chose; the whole transaction is retried
// on top of it (a duplicate key aborts a transaction, so the append
// cannot retry by itself there).
var errAuditRaced = errors.New("store: audit sequence taken by a concurrent append")

// inTransaction reports whether ctx carries a session in a transaction.
func inTransaction(ctx context.Context) bool {
	sess := mongo.SessionFromContext(ctx)
	return sess != nil && sess.TransactionRunning()
}

// atomic runs fn — a mutation and the append of its audit entry — in one
// transaction where the server has them (retried by the driver on
// transient errors, and by atomic when the audit sequence was raced);
// elsewhere fn runs as it is, one write after the other.
func (s *Store) atomic(ctx context.Context, fn func(ctx context.Context) error) error {
	if !s.txn || inTransaction(ctx) {
		return fn(ctx)
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return fail(err, "start a session")
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	for range maxAppendAttempts {
		_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) { return nil, fn(ctx) })
		if !errors.Is(err, errAuditRaced) {
			return err
		}
		s.tip.Store(nil)
	}
	return fmt.Errorf("store: unable to commit a change and its audit entry: lost %d audit races in a row", maxAppendAttempts)
}
