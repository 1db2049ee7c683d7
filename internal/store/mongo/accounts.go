package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// accountDoc: the token hash is left out when empty (sparse unique index).
type accountDoc struct {
	ID             string    `bson:"_id"`
	Role           string    `bson:"role"`
	Name           string    `bson:"name"`
	CollectiviteID string    `bson:"collectivite_id"`
	Services       []string  `bson:"services"`
	Schools        []string  `bson:"schools"`
	Machine        bool      `bson:"machine"`
	TokenHash      string    `bson:"token_hash,omitempty"`
	CreatedAt      time.Time `bson:"created_at"`
	CreatedBy      string    `bson:"created_by"`
}

func (d accountDoc) model() store.Account { return store.Account(d) }

// CreateAccount stores a new account with its audit entry
// (insertAudited); an existing ID or token hash is store.ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, acc store.Account, a store.AuditEntry) error {
	acc.CreatedAt = msUTC(acc.CreatedAt)
	return s.insertAudited(ctx, collAccounts, accountDoc(acc), a, "create account %s", acc.ID)
}

// GetAccount returns an account by ID.
func (s *Store) GetAccount(ctx context.Context, id string) (store.Account, error) {
	return s.findAccount(ctx, bson.D{{Key: "_id", Value: id}}, "get account "+id)
}

// AccountByTokenHash returns the account holding a token.
func (s *Store) AccountByTokenHash(ctx context.Context, hash string) (store.Account, error) {
	if hash == "" {
		return store.Account{}, fmt.Errorf("store: unable to find an account by token: %w", store.ErrNotFound)
	}
	return s.findAccount(ctx, bson.D{{Key: "token_hash", Value: hash}}, "find an account by token")
}

func (s *Store) findAccount(ctx context.Context, filter bson.D, what string) (store.Account, error) {
	return findOne(ctx, s, collAccounts, filter, accountDoc.model, "%s", what)
}

// accountFilter selects accounts by role and collectivité; empty values
// do not filter.
func accountFilter(role, collectiviteID string) bson.D {
	filter := bson.D{}
	if collectiviteID != "" {
		filter = append(filter, bson.E{Key: "collectivite_id", Value: collectiviteID})
	}
	if role != "" {
		filter = append(filter, bson.E{Key: "role", Value: role})
	}
	return filter
}

// ListAccounts lists accounts by ID.
func (s *Store) ListAccounts(ctx context.Context, f store.AccountFilter) ([]store.Account, error) {
	return findAll(ctx, s, collAccounts, afterID(accountFilter(f.Role, f.CollectiviteID), f.Cursor),
		findOptions(byID, f.Limit), accountDoc.model, "list accounts")
}

// CountAccounts counts the accounts of a role and collectivité (empty
// values do not filter).
func (s *Store) CountAccounts(ctx context.Context, role, collectiviteID string) (int, error) {
	n, err := s.coll(collAccounts).CountDocuments(ctx, accountFilter(role, collectiviteID))
	if err != nil {
		return 0, fail(err, "count accounts")
	}
	return int(n), nil
}

// DeleteAccount runs deleteAccount and the append of its audit entry in one
// transaction where the server has them (atomic, txn.go).
func (s *Store) DeleteAccount(ctx context.Context, id string, a store.AuditEntry) error {
	return s.atomic(ctx, func(ctx context.Context) error { return s.deleteAccount(ctx, id, a) })
}

// deleteAccount removes an account, keeping at least store.MinKeyHolders
// operators, and admins per collectivité.
//
// Without transactions, removals of key holders are serialised per scope
// (the operators; the admins of one collectivité) by a version document in
// counters: read its version, count, delete, then move the version on only
// if it is still the one read. A removal that loses that race puts the
// account back and starts over, so it counts again after the winner's
// delete; of concurrent removals only as many pass as the rule allows. (On
// FerretDB, whose updates are not atomic, this is best effort.)
func (s *Store) deleteAccount(ctx context.Context, id string, a store.AuditEntry) error {
	for range maxAppendAttempts {
		acc, err := s.GetAccount(ctx, id)
		if err != nil {
			return err
		}
		if acc.Role != store.RoleOperator && acc.Role != store.RoleAdmin {
			if err := s.deleteAccountDoc(ctx, id); err != nil {
				return err
			}
			return s.audit(ctx, a)
		}
		scope := ""
		if acc.Role == store.RoleAdmin {
			scope = acc.CollectiviteID
		}
		lockID := "keyholders/" + acc.Role + "/" + scope
		version, err := s.counterValue(ctx, lockID)
		if err != nil {
			return err
		}
		n, err := s.CountAccounts(ctx, acc.Role, scope)
		if err != nil {
			return err
		}
		if n-1 < store.MinKeyHolders {
			return fmt.Errorf("store: unable to delete account %s: %w", id,
				&store.KeyHolderError{Role: acc.Role, CollectiviteID: scope, Current: n})
		}
		if err := s.deleteAccountDoc(ctx, id); err != nil {
			return err
		}
		won, err := s.advanceCounter(ctx, lockID, version)
		if err == nil && won {
			return s.audit(ctx, a)
		}
		// Another removal in this scope went first: undo and count again.
		if _, rerr := s.coll(collAccounts).InsertOne(context.WithoutCancel(ctx), accountDoc(acc)); rerr != nil {
			return fail(rerr, "restore account %s after a concurrent removal", id)
		}
		if err != nil {
			return fail(err, "delete account %s", id)
		}
	}
	return fmt.Errorf("store: unable to delete account %s: too many concurrent removals", id)
}

func (s *Store) deleteAccountDoc(ctx context.Context, id string) error {
	res, err := s.coll(collAccounts).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fail(err, "delete account %s", id)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("store: unable to delete account %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// counterValue reads a counters document's value (0 when absent).
func (s *Store) counterValue(ctx context.Context, id string) (int64, error) {
	var c struct {
		Seq int64 `bson:"seq"`
	}
	err := s.coll(collCounters).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fail(err, "read counter %s", id)
	}
	return c.Seq, nil
}

// advanceCounter moves a counter from seen to seen+1, reporting false when
// it was no longer at seen (the upsert of a document that exists then
// fails on its _id).
func (s *Store) advanceCounter(ctx context.Context, id string, seen int64) (bool, error) {
	return s.advanceCounterBy(ctx, id, seen, 1)
}

// advanceCounterBy adds by to a counter that is still at seen.
func (s *Store) advanceCounterBy(ctx context.Context, id string, seen, by int64) (bool, error) {
	_, err := s.coll(collCounters).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: seen}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: by}}}},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	return err == nil, err
}
