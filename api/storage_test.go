package api

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// A full disk answers 503 service.unavailable with Retry-After and a
// sentence, writes nothing half-way, and makes /readyz 503; once space is
// back, writes and readiness recover by themselves.
func TestDiskFullAnswers503AndRecovers(t *testing.T) {
	f := newFixture(t)
	st := f.st.(*sqlite.Store)
	ctx := context.Background()
	f.must(200, f.do("GET", "/readyz", "", nil))

	parents := parentBatch(2000, uaiA1)
	if err := st.SetMaxSize(ctx, 1); err != nil { // full: no page may be added
		t.Fatal(err)
	}
	r := f.do("PUT", "/v1/ent/parents", f.entKey, parents, "Accept-Language: fr")
	if r.Status != 503 || r.ErrorCode(t) != "service.unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sync on a full disk: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if d := r.JSON(t)["error"].(map[string]any)["details"].([]any); len(d) != 1 || d[0].(map[string]any)["code"] != "storage.unavailable" {
		t.Fatalf("details: %s", r.Body)
	}
	if r := f.do("GET", "/readyz", "", nil); r.Status != 503 || r.ErrorCode(t) != "service.unavailable" {
		t.Fatalf("readyz on a full disk: %d %s", r.Status, r.Body)
	}
	if _, err := f.st.GetParent(ctx, f.entID, "u00000"); err == nil {
		t.Fatal("a parent of the refused batch was stored")
	}

	if err := st.SetMaxSize(ctx, 0); err != nil { // space is back
		t.Fatal(err)
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, parents))
	f.clock.Advance(storageFailWindow + time.Second)
	f.must(200, f.do("GET", "/readyz", "", nil))
}
