package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// BenchmarkUpsertParents syncs batches of 10,000 parents with two children
// each, as an ENT's nightly directory sync does: new parents (Create), then
// the same parents again (Resync). It reports parents/s.
func BenchmarkUpsertParents(b *testing.B) {
	const batchSize = 10_000
	batch := func(round int) []store.Parent {
		ps := make([]store.Parent, batchSize)
		for i := range ps {
			ps[i] = store.Parent{
				ENTUserID: fmt.Sprintf("user-%d-%06d", round, i),
				Children: []store.Child{
					{UAI: fmt.Sprintf("0750%03dA", i%300), Level: "CP", Class: fmt.Sprintf("CP-%d", i%3)},
					{UAI: fmt.Sprintf("0750%03dB", i%300), Level: "6e", Class: fmt.Sprintf("6e%d", i%5)},
				},
			}
		}
		return ps
	}
	run := func(b *testing.B, resync bool) {
		ctx := context.Background()
		s := openAt(b, b.TempDir())
		a := store.AuditEntry{At: storetest.T0, Actor: "ent_1", Action: "parents.upsert"}
		first := batch(0)
		if resync {
			if _, err := s.UpsertParents(ctx, "ent_1", first, storetest.T0, a); err != nil {
				b.Fatal(err)
			}
		}
		round := 0
		var elapsed time.Duration
		for b.Loop() {
			ps := first
			if !resync {
				b.StopTimer()
				round++
				ps = batch(round)
				b.StartTimer()
			}
			start := time.Now()
			res, err := s.UpsertParents(ctx, "ent_1", ps, storetest.T0, a)
			elapsed += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if res.Created+res.Updated != batchSize {
				b.Fatalf("result %+v", res)
			}
		}
		b.ReportMetric(float64(b.N*batchSize)/elapsed.Seconds(), "parents/s")
	}
	b.Run("Create", func(b *testing.B) { run(b, false) })
	b.Run("Resync", func(b *testing.B) { run(b, true) })
}
