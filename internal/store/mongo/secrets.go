package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

type secretDoc struct {
	Name  string `bson:"_id"`
	Value []byte `bson:"value"`
}

// Secret returns the named server secret, creating it on first use; the
// unique _id makes the first writer win across processes.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	coll := s.db.Collection("secrets")
	var d secretDoc
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if err == nil {
		return d.Value, nil
	}
	if err != mongo.ErrNoDocuments {
		return nil, fmt.Errorf("store: unable to read secret %s: %w", name, err)
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("store: unable to generate secret %s: %w", name, err)
	}
	if _, err := coll.InsertOne(ctx, secretDoc{Name: name, Value: fresh}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("store: unable to save secret %s: %w", name, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d); err != nil {
		return nil, fmt.Errorf("store: unable to read secret %s: %w", name, err)
	}
	return d.Value, nil
}
