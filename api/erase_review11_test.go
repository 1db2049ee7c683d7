package api

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/digest"
	"github.com/liaison-ent/liaison/internal/store"
)

// Review of issue 11, items 5 and 6 together: a parent whose ENT id holds
// « / ? # % + » has a device, a push waiting in the outbox and a notice
// waiting for their daily summary. Erased through the API (the id
// percent-encoded in the path), nothing of theirs is sent afterwards: no
// push batch carries their endpoint, and no summary is written for them.
func TestErasureOfEscapedIDStopsPushesAndSummaries(t *testing.T) {
	p := newPublishing(t)
	ctx := context.Background()
	const id = "a/b?c#d%e+f"
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, map[string]any{"parents": []map[string]any{
		{"ent_user_id": id, "children": []map[string]any{{"uai": uaiA1, "level": "maternelle", "class": "MS"}}}}}))
	tok := p.parentToken(t, id)
	erasedEndpoint := fcm + "erased-device"
	p.must(201, p.do("POST", "/v1/me/push-subscriptions", tok, browserSub(t, erasedEndpoint)))
	p.must(200, p.do("PUT", "/v1/me/preferences", tok, map[string]any{"digest": []string{"cantine"}}))
	p.subscribeDevices(t, "p1", 1) // someone else, still pushed

	p.publish(t, "restauration", simpleNotice("cantine", "Menu", uaiA1)) // the erased parent's: for the summary
	p.must(201, p.do("POST", "/v1/notices", p.agents["technique"], worksNotice(1)))
	p.fanOut(t)

	p.must(204, p.do("DELETE", "/v1/ent/parents/"+url.PathEscape(id), p.entKey, nil))
	if _, err := p.st.GetParent(ctx, p.entID, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("parent %q not erased: %v", id, err)
	}

	now := p.clock.Now()
	others := 0
	for {
		b, err := p.st.ClaimPushBatch(ctx, "w", now, time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range b.Items {
			if it.Endpoint == erasedEndpoint {
				t.Errorf("batch %s still pushes to the erased parent's device", b.ID)
			}
			others++
		}
		fin := b.Items
		for i := range fin {
			fin[i].Result = "delivered"
		}
		if err := p.st.CompletePushBatch(ctx, b, store.PushBatchUpdate{Finished: fin, Counts: map[string]int{store.CountAccepted: len(fin)}}, now); err != nil {
			t.Fatal(err)
		}
	}
	if others != 2 {
		t.Errorf("%d pushes to the other parent's device, want 2 (both notices)", others)
	}
	// 18:00 in Paris: the daily summaries go — none for the erased parent.
	p.clock.Set(time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC))
	if w, err := digest.New(p.st, digest.Options{Clock: p.clock.Now}).RunOnce(ctx); err != nil || w != 0 {
		t.Fatalf("summaries written after the erasure: %d, %v", w, err)
	}
	if _, err := p.st.ClaimPushBatch(ctx, "w", p.clock.Now(), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("something left in the outbox after the erasure: %v", err)
	}
}
