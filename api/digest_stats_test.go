package api

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/digest"
	"github.com/liaison-ent/liaison/internal/store"
)

// A notice delivered through the daily summary counts as pushed in its
// /stats: the summary's pushes are targeted and accepted for it, and the
// devices left for the summary are given as `digest` (the k ≥ 5 rule as
// for every figure).
func TestDailySummaryCountsAsPushed(t *testing.T) {
	p := newPublishing(t)
	ctx := context.Background()
	// Five families with 10 devices each: 50, the fewest devices a figure
	// is given for (rule 7).
	for i := range 5 {
		tok := p.subscribeDevices(t, fmt.Sprintf("p%d", i), store.MaxPushSubscriptions)
		p.must(200, p.do("PUT", "/v1/me/preferences", tok, map[string]any{"digest": []string{"cantine"}}))
	}
	ans := p.published(t, p.agents["restauration"], simpleNotice("cantine", "Menu de la semaine", uaiA1))
	id := ans.Notice.ID
	// The fan-out leaves the fifty devices for the summary.
	now := p.clock.Now().UTC()
	if p.fanOut(t) != 1 {
		t.Fatal("want the one notice fanned out")
	}
	if _, err := p.st.ClaimPushBatch(ctx, "w", now, time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an immediate push to a summarizing parent: %v", err)
	}
	// At 18:00 in Paris the summary goes (one a family, to its 10 devices);
	// the push service accepts all fifty.
	p.clock.Set(time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC))
	if w, err := digest.New(p.st, digest.Options{Clock: p.clock.Now}).RunOnce(ctx); err != nil || w != 5 {
		t.Fatalf("summaries written %d, %v", w, err)
	}
	for range 5 {
		b, err := p.st.ClaimPushBatch(ctx, "w", p.clock.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := store.DigestOfBatch(b.ID); !ok || b.NoticeID != id {
			t.Fatalf("batch %+v", b)
		}
		fin := b.Items
		for i := range fin {
			fin[i].Result = "delivered"
		}
		if err := p.st.CompletePushBatch(ctx, b, store.PushBatchUpdate{Finished: fin, Counts: map[string]int{store.CountAccepted: len(fin)}}, p.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var st noticeStats
	p.must(200, p.do("GET", "/v1/notices/"+id+"/stats", p.agents["restauration"], nil)).Decode(t, &st)
	if st.Pushes == nil || val(st.Pushes.Targeted) != 50 || val(st.Pushes.Accepted) != 50 || val(st.Pushes.Digest) != 50 {
		t.Fatalf("pushes %+v, want the summary's 50 targeted and accepted, 50 left for the summary", st.Pushes)
	}
}
