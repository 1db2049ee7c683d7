package mongo_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
)

// MongoDB going away fails requests within seconds (not the driver's 30 s
// server selection), with an error the API answers 503: a server of its
// own, stopped under the store.
func TestServerGoneFailsFastAsUnavailable(t *testing.T) {
	if realMongo {
		t.Skip("stops its own FerretDB; runs when the suite runs on FerretDB")
	}
	if skipReason != "" {
		if os.Getenv("LIAISON_REQUIRE_MONGO") == "1" {
			t.Fatal(skipReason)
		}
		t.Skip(skipReason)
	}
	bin := os.Getenv("LIAISON_FERRETDB_BIN")
	if bin == "" {
		bin = "../../../bin/ferretdb-test"
	}
	uri, stop, err := startFerretDB(bin)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	ctx := context.Background()
	st, err := mongo.Open(ctx, uri, mongo.WithDatabase("liaison_gone"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckWritable(ctx); err != nil {
		t.Fatalf("writable while up: %v", err)
	}
	stop()
	stopped = true

	start := time.Now()
	_, err = st.GetParent(ctx, "ent_1", "u1")
	took := time.Since(start)
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("read with the server gone: %v (unavailable: %v)", err, store.IsUnavailable(err))
	}
	if took > 10*time.Second {
		t.Fatalf("the read took %s to fail", took)
	}
	if err := st.CheckWritable(ctx); err == nil || !store.IsUnavailable(err) {
		t.Fatalf("readiness write with the server gone: %v", err)
	}
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
}
