package main

// Smoke test and feature probe for the FerretDB harness.
//
//	cd tools/ferretdb && go test ./...            # builds the binary into a temp dir
//	FERRETDB_TEST_BIN=../../bin/ferretdb-test go test -v ./...
//
// TestSmoke checks what the Mongo backend's contract tests need at minimum.
// TestFeatures probes a list of MongoDB features, compares each with the
// expected support recorded in `expected` (keep README.md in sync), and logs
// a table. A mismatch fails the test, so a FerretDB upgrade that changes
// behaviour is noticed.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startFerretDB starts the harness binary and returns a connected client.
//
// The client has no client-side timeout (CSOT), so the driver does not add
// maxTimeMS to commands (FerretDB 1.24 rejects it on distinct).
func startFerretDB(t *testing.T) *mongo.Client {
	t.Helper()

	bin := os.Getenv("FERRETDB_TEST_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "ferretdb-test")
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}

	// -log-level error: the feature probe hits unsupported features on
	// purpose, and FerretDB logs every error reply at warn level.
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-dir", t.TempDir(), "-max-lifetime", "10m", "-log-level", "error")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("ferretdb-test did not exit within 10s of SIGINT")
			_ = cmd.Process.Kill()
		}
	})

	uriCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if uri, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				uriCh <- uri
			}
		}
	}()
	var uri string
	select {
	case uri = <-uriCh:
	case <-exited:
		t.Fatal("ferretdb-test exited before READY")
	case <-time.After(60 * time.Second):
		t.Fatal("ferretdb-test not READY after 60s")
	}
	if !strings.HasPrefix(uri, "mongodb://127.0.0.1:") || !strings.HasSuffix(uri, "/") {
		t.Fatalf("unexpected URI %q", uri)
	}

	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	if err := client.Ping(context.Background(), nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
	return client
}

var collSeq atomic.Int64

func newColl(db *mongo.Database) *mongo.Collection {
	return db.Collection(fmt.Sprintf("c%d", collSeq.Add(1)))
}

func ids(t *testing.T, cur *mongo.Cursor) []any {
	var out []any
	for cur.Next(context.Background()) {
		out = append(out, cur.Current.Lookup("_id").AsInt64())
	}
	return out
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	c := newColl(startFerretDB(t).Database("smoke"))

	// insert + find with a filter
	if _, err := c.InsertMany(ctx, []any{
		bson.D{{"_id", int64(1)}, {"kind", "a"}, {"n", 1}},
		bson.D{{"_id", int64(2)}, {"kind", "b"}, {"n", 2}},
		bson.D{{"_id", int64(3)}, {"kind", "a"}, {"n", 3}},
	}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	cur, err := c.Find(ctx, bson.D{{"kind", "a"}, {"n", bson.D{{"$gt", 1}}}})
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if got := ids(t, cur); !reflect.DeepEqual(got, []any{int64(3)}) {
		t.Fatalf("find: got %v", got)
	}

	// unique index + duplicate key error (fresh collection: on MongoDB, the
	// documents above, which lack "email", would collide as nulls)
	items := c
	c = newColl(c.Database())
	if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{"email", 1}}, Options: options.Index().SetUnique(true).SetName("email_1"),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}
	// idempotent re-creation, as the backend does at every start-up
	if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{"email", 1}}, Options: options.Index().SetUnique(true).SetName("email_1"),
	}); err != nil {
		t.Fatalf("re-create unique index: %v", err)
	}
	if _, err := c.InsertOne(ctx, bson.D{{"_id", int64(10)}, {"email", "x@example.org"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.InsertOne(ctx, bson.D{{"_id", int64(11)}, {"email", "x@example.org"}})
	if !mongo.IsDuplicateKeyError(err) || !strings.Contains(err.Error(), "E11000") {
		t.Fatalf("duplicate insert: want E11000 duplicate key error, got %v", err)
	}
	_, err = c.InsertOne(ctx, bson.D{{"_id", int64(10)}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate _id: want duplicate key error, got %v", err)
	}

	// findOneAndUpdate, upsert, returnDocument after
	var doc bson.M
	err = c.FindOneAndUpdate(ctx, bson.D{{"_id", int64(20)}},
		bson.D{{"$set", bson.D{{"state", "leased"}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&doc)
	if err != nil || doc["state"] != "leased" {
		t.Fatalf("findOneAndUpdate upsert: %v %v", doc, err)
	}
	err = c.FindOneAndUpdate(ctx, bson.D{{"_id", int64(20)}, {"state", "leased"}},
		bson.D{{"$set", bson.D{{"state", "done"}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err != nil || doc["state"] != "done" {
		t.Fatalf("findOneAndUpdate after: %v %v", doc, err)
	}
	err = c.FindOneAndUpdate(ctx, bson.D{{"_id", int64(20)}, {"state", "leased"}},
		bson.D{{"$set", bson.D{{"state", "x"}}}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("findOneAndUpdate no match: want ErrNoDocuments, got %v", err)
	}

	// bulk write (ordered)
	res, err := items.BulkWrite(ctx, []mongo.WriteModel{
		mongo.NewInsertOneModel().SetDocument(bson.D{{"_id", int64(30)}, {"n", 1}}),
		mongo.NewUpdateOneModel().SetFilter(bson.D{{"_id", int64(30)}}).SetUpdate(bson.D{{"$set", bson.D{{"n", 2}}}}),
		mongo.NewUpdateOneModel().SetFilter(bson.D{{"_id", int64(31)}}).SetUpdate(bson.D{{"$set", bson.D{{"n", 5}}}}).SetUpsert(true),
		mongo.NewReplaceOneModel().SetFilter(bson.D{{"_id", int64(1)}}).SetReplacement(bson.D{{"kind", "z"}}),
		mongo.NewDeleteOneModel().SetFilter(bson.D{{"_id", int64(2)}}),
	})
	if err != nil {
		t.Fatalf("bulk write: %v", err)
	}
	if res.InsertedCount != 1 || res.MatchedCount != 2 || res.ModifiedCount != 2 || res.UpsertedCount != 1 || res.DeletedCount != 1 {
		t.Fatalf("bulk write result: %+v", res)
	}
}

// expected support of each probed feature by FerretDB 1.24.x with SQLite.
// Keep in sync with README.md.
var expected = map[string]bool{
	"sessions (no transaction)":            true,
	"transactions":                         false,
	"$inc":                                 true,
	"$addToSet":                            true,
	"$pull":                                true,
	"$pull with condition":                 false, // silently a no-op
	"$push":                                true,
	"$push $each $slice":                   false, // $slice silently ignored
	"$unset":                               true,
	"$set dotted path":                     true,
	"arrayFilters":                         false,
	"positional $ update":                  false,
	"aggregate $match/$sort/$limit":        true,
	"aggregate $group (one accumulator)":   true,
	"aggregate $group (two accumulators)":  false, // 2nd+ accumulator silently sees no documents
	"aggregate $group $max":                false, // only $sum and $count exist
	"aggregate $lookup":                    false,
	"aggregate $unwind":                    true,
	"countDocuments with filter":           true,
	"estimatedDocumentCount":               true,
	"distinct":                             true,
	"distinct with context deadline":       false, // rejects maxTimeMS
	"find/aggregate with context deadline": true,
	"unique compound index":                true,
	"unique index: missing fields collide as null": false, // missing fields never collide
	"partial index":                               false,
	"sparse index":                                true,
	"TTL index":                                   false,
	"sort on multiple keys":                       true,
	"find skip/limit/projection":                  true,
	"$in on array field":                          true,
	"$elemMatch (operators on scalars)":           false, // wrong results
	"$elemMatch (one field of subdocuments)":      false, // matches nothing
	"$elemMatch (several fields of subdocuments)": false, // BadValue
	"dotted query into array of subdocuments":     true,
	"$or/$nin/$exists/$ne":                        true,
	"range on dates":                              true,
	"findOneAndUpdate with sort":                  true,
	"findOneAndDelete":                            true,
	"bulkWrite unordered":                         true,
	"insertMany unordered":                        true,
	"deleteMany":                                  true,
	"updateMany":                                  true,
	"$setOnInsert":                                true,
	"upsert with query fields copied":             true,
	"$max/$min/$currentDate":                      true,
	"update pipeline":                             false,
	"$regex":                                      true,
	"listIndexes/dropIndex":                       true,
	"change streams":                              false,
}

type probe struct {
	name string
	fn   func(ctx context.Context, db *mongo.Database) error
}

func TestFeatures(t *testing.T) {
	ctx := context.Background()
	client := startFerretDB(t)
	db := client.Database("features")

	type result struct {
		name string
		err  error
	}
	var results []result
	for _, p := range probes(client) {
		err := p.fn(ctx, db)
		results = append(results, result{p.name, err})
		want, known := expected[p.name]
		switch {
		case !known:
			t.Errorf("%s: no expectation recorded (supported=%v, err=%v)", p.name, err == nil, err)
		case want && err != nil:
			t.Errorf("%s: expected supported, got %v", p.name, err)
		case !want && err == nil:
			t.Errorf("%s: expected unsupported, but it works now", p.name)
		}
	}
	var b strings.Builder
	for _, r := range results {
		if r.err == nil {
			fmt.Fprintf(&b, "  %-40s supported\n", r.name)
		} else {
			fmt.Fprintf(&b, "  %-40s NOT SUPPORTED: %s\n", r.name, oneLine(r.err))
		}
	}
	t.Logf("FerretDB feature probe:\n%s", b.String())
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func seed(ctx context.Context, c *mongo.Collection, docs ...bson.D) error {
	a := make([]any, len(docs))
	for i, d := range docs {
		a[i] = d
	}
	_, err := c.InsertMany(ctx, a)
	return err
}

func findIDs(ctx context.Context, c *mongo.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]int64, error) {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var out []int64
	for cur.Next(ctx) {
		out = append(out, cur.Current.Lookup("_id").AsInt64())
	}
	return out, cur.Err()
}

// wantIDs returns a checker for findIDs results: wantIDs(1, 2)(findIDs(...)).
func wantIDs(want ...int64) func([]int64, error) error {
	return func(got []int64, err error) error {
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			return fmt.Errorf("wrong result: got %v, want %v", got, want)
		}
		return nil
	}
}

func aggregate(ctx context.Context, c *mongo.Collection, p mongo.Pipeline) ([]bson.M, error) {
	cur, err := c.Aggregate(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []bson.M
	err = cur.All(ctx, &out)
	return out, err
}

func probeDistinct(ctx context.Context, db *mongo.Database) error {
	c := newColl(db)
	if err := seed(ctx, c, bson.D{{"_id", int64(1)}, {"g", "a"}}, bson.D{{"_id", int64(2)}, {"g", "a"}}, bson.D{{"_id", int64(3)}, {"g", "b"}}); err != nil {
		return err
	}
	res := c.Distinct(ctx, "g", bson.D{{"_id", bson.D{{"$gte", 1}}}})
	if err := res.Err(); err != nil {
		return err
	}
	var vals []string
	if err := res.Decode(&vals); err != nil {
		return err
	}
	sort.Strings(vals)
	if !reflect.DeepEqual(vals, []string{"a", "b"}) {
		return fmt.Errorf("wrong result: %v", vals)
	}
	return nil
}

func getDoc(ctx context.Context, c *mongo.Collection, id int64) (bson.M, error) {
	var m bson.M
	err := c.FindOne(ctx, bson.D{{"_id", id}}).Decode(&m)
	return m, err
}

func wantField(ctx context.Context, c *mongo.Collection, id int64, field string, want any) error {
	m, err := getDoc(ctx, c, id)
	if err != nil {
		return err
	}
	if got := m[field]; !reflect.DeepEqual(fmt.Sprint(got), fmt.Sprint(want)) {
		return fmt.Errorf("wrong result: %s = %v, want %v", field, got, want)
	}
	return nil
}

func probes(client *mongo.Client) []probe {
	id := func(i int64) bson.E { return bson.E{Key: "_id", Value: i} }
	return []probe{
		{"sessions (no transaction)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			return client.UseSession(ctx, func(sctx context.Context) error {
				if _, err := c.InsertOne(sctx, bson.D{id(1)}); err != nil {
					return err
				}
				return c.FindOne(sctx, bson.D{id(1)}).Err()
			})
		}},
		{"transactions", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(0)}); err != nil { // collection must exist in MongoDB
				return err
			}
			sess, err := client.StartSession()
			if err != nil {
				return err
			}
			defer sess.EndSession(ctx)
			// Abort must undo the insert.
			if err := sess.StartTransaction(); err != nil {
				return err
			}
			sctx := mongo.NewSessionContext(ctx, sess)
			if _, err := c.InsertOne(sctx, bson.D{id(1)}); err != nil {
				_ = sess.AbortTransaction(ctx)
				return err
			}
			if err := sess.AbortTransaction(ctx); err != nil {
				return err
			}
			n, err := c.CountDocuments(ctx, bson.D{id(1)})
			if err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("aborted transaction was not rolled back (transactions silently ignored)")
			}
			return nil
		}},
		{"$inc", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"n", 1}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$inc", bson.D{{"n", 2}, {"m", 1}}}}); err != nil {
				return err
			}
			if err := wantField(ctx, c, 1, "m", 1); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "n", 3)
		}},
		{"$addToSet", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{"x"}}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$addToSet", bson.D{{"a", bson.D{{"$each", bson.A{"x", "y"}}}}}}}); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "a", bson.A{"x", "y"})
		}},
		{"$pull", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{"x", "y", "x"}}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$pull", bson.D{{"a", "x"}}}}); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "a", bson.A{"y"})
		}},
		{"$pull with condition", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}}, bson.D{{"k", 2}}}}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$pull", bson.D{{"a", bson.D{{"k", bson.D{{"$gte", 2}}}}}}}}); err != nil {
				return err
			}
			m, err := getDoc(ctx, c, 1)
			if err != nil {
				return err
			}
			if a, _ := m["a"].(bson.A); len(a) != 1 {
				return fmt.Errorf("wrong result: a = %v", m["a"])
			}
			return nil
		}},
		{"$push", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1)}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$push", bson.D{{"a", "x"}}}}); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "a", bson.A{"x"})
		}},
		{"$push $each $slice", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{1, 2}}}); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$push", bson.D{{"a", bson.D{{"$each", bson.A{3, 4}}, {"$slice", -3}}}}}})
			if err != nil {
				return err
			}
			return wantField(ctx, c, 1, "a", bson.A{2, 3, 4})
		}},
		{"$unset", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"x", 1}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$unset", bson.D{{"x", ""}}}}); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "x", nil)
		}},
		{"$set dotted path", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"s", bson.D{{"a", 1}}}}); err != nil {
				return err
			}
			if _, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$set", bson.D{{"s.b", 2}}}}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{{"s.a", 1}, {"s.b", 2}}))
		}},
		{"arrayFilters", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}, {"v", 0}}, bson.D{{"k", 2}, {"v", 0}}}}}); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{{"$set", bson.D{{"a.$[e].v", 9}}}},
				options.UpdateOne().SetArrayFilters([]any{bson.D{{"e.k", 2}}}))
			if err != nil {
				return err
			}
			m, err := getDoc(ctx, c, 1)
			if err != nil {
				return err
			}
			if fmt.Sprint(m["a"]) != fmt.Sprint(bson.A{bson.M{"k": 1, "v": 0}, bson.M{"k": 2, "v": 9}}) {
				return fmt.Errorf("wrong result: %v", m["a"])
			}
			return nil
		}},
		{"positional $ update", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}, {"v", 0}}, bson.D{{"k", 2}, {"v", 0}}}}}); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{id(1), {"a.k", 2}}, bson.D{{"$set", bson.D{{"a.$.v", 9}}}})
			return err
		}},
		{"aggregate $match/$sort/$limit", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}}, bson.D{id(2), {"g", "a"}}, bson.D{id(3), {"g", "b"}}); err != nil {
				return err
			}
			cur, err := c.Aggregate(ctx, mongo.Pipeline{
				{{"$match", bson.D{{"g", "a"}}}}, {{"$sort", bson.D{{"_id", -1}}}}, {{"$limit", 1}},
			})
			if err != nil {
				return err
			}
			var out []bson.M
			if err := cur.All(ctx, &out); err != nil {
				return err
			}
			if len(out) != 1 || fmt.Sprint(out[0]["_id"]) != "2" {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"aggregate $group (one accumulator)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}, {"n", 1}}, bson.D{id(2), {"g", "a"}, {"n", 2}}, bson.D{id(3), {"g", "b"}, {"n", 5}}); err != nil {
				return err
			}
			out, err := aggregate(ctx, c, mongo.Pipeline{
				{{"$group", bson.D{{"_id", "$g"}, {"cnt", bson.D{{"$sum", 1}}}}}},
				{{"$sort", bson.D{{"_id", 1}}}},
			})
			if err != nil {
				return err
			}
			if len(out) != 2 || fmt.Sprint(out[0]["cnt"]) != "2" || fmt.Sprint(out[1]["cnt"]) != "1" {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"aggregate $group (two accumulators)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}, {"n", 1}}, bson.D{id(2), {"g", "a"}, {"n", 2}}, bson.D{id(3), {"g", "b"}, {"n", 5}}); err != nil {
				return err
			}
			out, err := aggregate(ctx, c, mongo.Pipeline{
				{{"$group", bson.D{{"_id", "$g"}, {"sum", bson.D{{"$sum", "$n"}}}, {"cnt", bson.D{{"$sum", 1}}}}}},
				{{"$sort", bson.D{{"_id", 1}}}},
			})
			if err != nil {
				return err
			}
			if len(out) != 2 || fmt.Sprint(out[0]["sum"]) != "3" || fmt.Sprint(out[0]["cnt"]) != "2" {
				return fmt.Errorf("wrong result (only the first accumulator sees the documents): %v", out)
			}
			return nil
		}},
		{"aggregate $group $max", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}, {"n", 1}}, bson.D{id(2), {"g", "a"}, {"n", 2}}); err != nil {
				return err
			}
			out, err := aggregate(ctx, c, mongo.Pipeline{{{"$group", bson.D{{"_id", "$g"}, {"m", bson.D{{"$max", "$n"}}}}}}})
			if err != nil {
				return err
			}
			if len(out) != 1 || fmt.Sprint(out[0]["m"]) != "2" {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"aggregate $lookup", func(ctx context.Context, db *mongo.Database) error {
			c, o := newColl(db), newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"ref", 10}}); err != nil {
				return err
			}
			if err := seed(ctx, o, bson.D{id(10), {"name", "x"}}); err != nil {
				return err
			}
			cur, err := c.Aggregate(ctx, mongo.Pipeline{
				{{"$lookup", bson.D{{"from", o.Name()}, {"localField", "ref"}, {"foreignField", "_id"}, {"as", "j"}}}},
			})
			if err != nil {
				return err
			}
			var out []bson.M
			if err := cur.All(ctx, &out); err != nil {
				return err
			}
			if len(out) != 1 || len(out[0]["j"].(bson.A)) != 1 {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"aggregate $unwind", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{"x", "y"}}}); err != nil {
				return err
			}
			cur, err := c.Aggregate(ctx, mongo.Pipeline{{{"$unwind", "$a"}}})
			if err != nil {
				return err
			}
			var out []bson.M
			if err := cur.All(ctx, &out); err != nil {
				return err
			}
			if len(out) != 2 {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"countDocuments with filter", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}}, bson.D{id(2), {"g", "a"}}, bson.D{id(3), {"g", "b"}}); err != nil {
				return err
			}
			n, err := c.CountDocuments(ctx, bson.D{{"g", "a"}})
			if err != nil {
				return err
			}
			if n != 2 {
				return fmt.Errorf("wrong result: %d", n)
			}
			n, err = c.CountDocuments(ctx, bson.D{{"g", "a"}}, options.Count().SetLimit(1))
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("wrong result with limit: %d", n)
			}
			return nil
		}},
		{"estimatedDocumentCount", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1)}, bson.D{id(2)}); err != nil {
				return err
			}
			n, err := c.EstimatedDocumentCount(ctx)
			if err == nil && n != 2 {
				return fmt.Errorf("wrong result: %d", n)
			}
			return err
		}},
		{"distinct", func(ctx context.Context, db *mongo.Database) error {
			return probeDistinct(ctx, db)
		}},
		{"distinct with context deadline", func(ctx context.Context, db *mongo.Database) error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return probeDistinct(ctx, db)
		}},
		{"find/aggregate with context deadline", func(ctx context.Context, db *mongo.Database) error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1)}); err != nil {
				return err
			}
			if _, err := aggregate(ctx, c, mongo.Pipeline{{{"$match", bson.D{}}}}); err != nil {
				return err
			}
			if _, err := c.CountDocuments(ctx, bson.D{id(1)}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{id(1)}))
		}},
		{"unique compound index", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{"a", 1}, {"b", -1}}, Options: options.Index().SetUnique(true),
			}); err != nil {
				return err
			}
			if err := seed(ctx, c, bson.D{id(1), {"a", 1}, {"b", 1}}, bson.D{id(2), {"a", 1}, {"b", 2}}); err != nil {
				return fmt.Errorf("distinct pairs rejected: %w", err)
			}
			_, err := c.InsertOne(ctx, bson.D{id(3), {"a", 1}, {"b", 2}})
			if !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("duplicate pair: want duplicate key error, got %v", err)
			}
			return nil
		}},
		{"unique index: missing fields collide as null", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{"k", 1}}, Options: options.Index().SetUnique(true),
			}); err != nil {
				return err
			}
			if err := seed(ctx, c, bson.D{id(1)}); err != nil {
				return err
			}
			_, err := c.InsertOne(ctx, bson.D{id(2)})
			if !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("second document without the field: want duplicate key error (MongoDB), got %v", err)
			}
			return nil
		}},
		{"partial index", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{"k", 1}},
				Options: options.Index().SetUnique(true).
					SetPartialFilterExpression(bson.D{{"active", true}}),
			})
			if err != nil {
				return err
			}
			// Outside the filter, duplicates are allowed; inside, they are not.
			if err := seed(ctx, c, bson.D{id(1), {"k", 1}, {"active", false}}, bson.D{id(2), {"k", 1}, {"active", false}}, bson.D{id(3), {"k", 1}, {"active", true}}); err != nil {
				return fmt.Errorf("duplicates outside the partial filter rejected: %w", err)
			}
			_, err = c.InsertOne(ctx, bson.D{id(4), {"k", 1}, {"active", true}})
			if !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("duplicate inside partial filter: want duplicate key error, got %v", err)
			}
			return nil
		}},
		{"sparse index", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{"k", 1}}, Options: options.Index().SetUnique(true).SetSparse(true),
			})
			if err != nil {
				return err
			}
			return seed(ctx, c, bson.D{id(1)}, bson.D{id(2)})
		}},
		{"TTL index", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{"t", 1}}, Options: options.Index().SetExpireAfterSeconds(60),
			})
			return err
		}},
		{"sort on multiple keys", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c,
				bson.D{id(1), {"a", 1}, {"b", 1}}, bson.D{id(2), {"a", 2}, {"b", 1}},
				bson.D{id(3), {"a", 1}, {"b", 2}}, bson.D{id(4), {"a", 2}, {"b", 2}}); err != nil {
				return err
			}
			return wantIDs(2, 4, 1, 3)(findIDs(ctx, c, bson.D{}, options.Find().SetSort(bson.D{{"a", -1}, {"b", 1}})))
		}},
		{"find skip/limit/projection", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"x", 1}}, bson.D{id(2), {"x", 2}}, bson.D{id(3), {"x", 3}}); err != nil {
				return err
			}
			var out []bson.M
			cur, err := c.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{"_id", 1}}).SetSkip(1).SetLimit(1).SetProjection(bson.D{{"x", 1}}))
			if err != nil {
				return err
			}
			if err := cur.All(ctx, &out); err != nil {
				return err
			}
			if len(out) != 1 || fmt.Sprint(out[0]["x"]) != "2" {
				return fmt.Errorf("wrong result: %v", out)
			}
			return nil
		}},
		{"$in on array field", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"tags", bson.A{"a", "b"}}}, bson.D{id(2), {"tags", bson.A{"c"}}}, bson.D{id(3), {"tags", "a"}}); err != nil {
				return err
			}
			return wantIDs(1, 3)(findIDs(ctx, c, bson.D{{"tags", bson.D{{"$in", bson.A{"a", "x"}}}}}, options.Find().SetSort(bson.D{{"_id", 1}})))
		}},
		{"$elemMatch (operators on scalars)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{1, 7}}}, bson.D{id(2), {"a", bson.A{3}}}); err != nil {
				return err
			}
			return wantIDs(2)(findIDs(ctx, c, bson.D{{"a", bson.D{{"$elemMatch", bson.D{{"$gte", 2}, {"$lt", 5}}}}}}))
		}},
		{"$elemMatch (one field of subdocuments)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}}}}}, bson.D{id(2), {"a", bson.A{bson.D{{"k", 2}}}}}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{{"a", bson.D{{"$elemMatch", bson.D{{"k", 1}}}}}}))
		}},
		{"$elemMatch (several fields of subdocuments)", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c,
				bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}, {"v", 2}}}}},
				bson.D{id(2), {"a", bson.A{bson.D{{"k", 1}, {"v", 1}}, bson.D{{"k", 2}, {"v", 2}}}}}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{{"a", bson.D{{"$elemMatch", bson.D{{"k", 1}, {"v", 2}}}}}}))
		}},
		{"dotted query into array of subdocuments", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", bson.A{bson.D{{"k", 1}}, bson.D{{"k", 3}}}}}, bson.D{id(2), {"a", bson.A{bson.D{{"k", 2}}}}}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{{"a.k", 3}}))
		}},
		{"$or/$nin/$exists/$ne", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"x", 1}}, bson.D{id(2), {"x", 2}}, bson.D{id(3)}); err != nil {
				return err
			}
			return wantIDs(1, 3)(findIDs(ctx, c, bson.D{{"$or", bson.A{
				bson.D{{"x", bson.D{{"$exists", false}}}},
				bson.D{{"x", bson.D{{"$nin", bson.A{2}}}}, {"x", bson.D{{"$ne", nil}}}},
			}}}, options.Find().SetSort(bson.D{{"_id", 1}})))
		}},
		{"range on dates", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := seed(ctx, c, bson.D{id(1), {"t", t0}}, bson.D{id(2), {"t", t0.Add(time.Hour)}}); err != nil {
				return err
			}
			return wantIDs(2)(findIDs(ctx, c, bson.D{{"t", bson.D{{"$gt", t0}}}}))
		}},
		{"findOneAndUpdate with sort", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"p", 2}, {"s", "ready"}}, bson.D{id(2), {"p", 1}, {"s", "ready"}}, bson.D{id(3), {"p", 3}, {"s", "ready"}}); err != nil {
				return err
			}
			var m bson.M
			err := c.FindOneAndUpdate(ctx, bson.D{{"s", "ready"}}, bson.D{{"$set", bson.D{{"s", "leased"}}}},
				options.FindOneAndUpdate().SetSort(bson.D{{"p", 1}}).SetReturnDocument(options.After)).Decode(&m)
			if err != nil {
				return err
			}
			if fmt.Sprint(m["_id"]) != "2" || m["s"] != "leased" {
				return fmt.Errorf("wrong document: %v", m)
			}
			return nil
		}},
		{"findOneAndDelete", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1)}, bson.D{id(2)}); err != nil {
				return err
			}
			var m bson.M
			if err := c.FindOneAndDelete(ctx, bson.D{}, options.FindOneAndDelete().SetSort(bson.D{{"_id", -1}})).Decode(&m); err != nil {
				return err
			}
			if fmt.Sprint(m["_id"]) != "2" {
				return fmt.Errorf("wrong document: %v", m)
			}
			return nil
		}},
		{"bulkWrite unordered", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1)}); err != nil {
				return err
			}
			res, err := c.BulkWrite(ctx, []mongo.WriteModel{
				mongo.NewInsertOneModel().SetDocument(bson.D{id(1)}), // duplicate
				mongo.NewInsertOneModel().SetDocument(bson.D{id(2)}),
				mongo.NewDeleteOneModel().SetFilter(bson.D{id(1)}),
			}, options.BulkWrite().SetOrdered(false))
			var bwe mongo.BulkWriteException
			if !errors.As(err, &bwe) || !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("want BulkWriteException with duplicate key, got %v", err)
			}
			if res == nil || res.InsertedCount != 1 || res.DeletedCount != 1 {
				return fmt.Errorf("unordered bulk did not continue past the error: %+v", res)
			}
			return wantIDs(2)(findIDs(ctx, c, bson.D{}))
		}},
		{"insertMany unordered", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			_, err := c.InsertMany(ctx, []any{bson.D{id(1)}, bson.D{id(1)}, bson.D{id(2)}}, options.InsertMany().SetOrdered(false))
			if !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("want duplicate key error, got %v", err)
			}
			return wantIDs(1, 2)(findIDs(ctx, c, bson.D{}, options.Find().SetSort(bson.D{{"_id", 1}})))
		}},
		{"deleteMany", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}}, bson.D{id(2), {"g", "a"}}, bson.D{id(3), {"g", "b"}}); err != nil {
				return err
			}
			res, err := c.DeleteMany(ctx, bson.D{{"g", "a"}})
			if err != nil {
				return err
			}
			if res.DeletedCount != 2 {
				return fmt.Errorf("deleted %d", res.DeletedCount)
			}
			return wantIDs(3)(findIDs(ctx, c, bson.D{}))
		}},
		{"updateMany", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"g", "a"}}, bson.D{id(2), {"g", "a"}}, bson.D{id(3), {"g", "b"}}); err != nil {
				return err
			}
			res, err := c.UpdateMany(ctx, bson.D{{"g", "a"}}, bson.D{{"$set", bson.D{{"x", 1}}}})
			if err != nil {
				return err
			}
			if res.ModifiedCount != 2 {
				return fmt.Errorf("modified %d", res.ModifiedCount)
			}
			return nil
		}},
		{"$setOnInsert", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			upd := func(v int) error {
				_, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{
					{"$setOnInsert", bson.D{{"created", v}}},
					{"$set", bson.D{{"updated", v}}},
				}, options.UpdateOne().SetUpsert(true))
				return err
			}
			if err := upd(1); err != nil {
				return err
			}
			if err := upd(2); err != nil {
				return err
			}
			if err := wantField(ctx, c, 1, "updated", 2); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "created", 1)
		}},
		{"upsert with query fields copied", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if _, err := c.UpdateOne(ctx, bson.D{{"k", "x"}, {"g", 7}}, bson.D{{"$set", bson.D{{"v", 1}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
				return err
			}
			var m bson.M
			if err := c.FindOne(ctx, bson.D{{"k", "x"}, {"g", 7}, {"v", 1}}).Decode(&m); err != nil {
				return fmt.Errorf("upserted document lacks query fields: %w", err)
			}
			return nil
		}},
		{"$max/$min/$currentDate", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"hi", 5}, {"lo", 5}}); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{id(1)}, bson.D{
				{"$max", bson.D{{"hi", 7}}}, {"$min", bson.D{{"lo", 3}}}, {"$currentDate", bson.D{{"t", true}}},
			})
			if err != nil {
				return err
			}
			if err := wantField(ctx, c, 1, "hi", 7); err != nil {
				return err
			}
			return wantField(ctx, c, 1, "lo", 3)
		}},
		{"update pipeline", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"a", 1}}); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{id(1)}, mongo.Pipeline{{{"$set", bson.D{{"b", "$a"}}}}})
			if err != nil {
				return err
			}
			return wantField(ctx, c, 1, "b", 1)
		}},
		{"$regex", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			if err := seed(ctx, c, bson.D{id(1), {"s", "Hello"}}, bson.D{id(2), {"s", "world"}}); err != nil {
				return err
			}
			return wantIDs(1)(findIDs(ctx, c, bson.D{{"s", bson.Regex{Pattern: "^hel", Options: "i"}}}))
		}},
		{"listIndexes/dropIndex", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			name, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{"x", 1}}})
			if err != nil {
				return err
			}
			specs, err := c.Indexes().ListSpecifications(ctx)
			if err != nil {
				return err
			}
			if len(specs) != 2 {
				return fmt.Errorf("want 2 indexes, got %d", len(specs))
			}
			return c.Indexes().DropOne(ctx, name)
		}},
		{"change streams", func(ctx context.Context, db *mongo.Database) error {
			c := newColl(db)
			cs, err := c.Watch(ctx, mongo.Pipeline{})
			if err != nil {
				return err
			}
			return cs.Close(ctx)
		}},
	}
}
