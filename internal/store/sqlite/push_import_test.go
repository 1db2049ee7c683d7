package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestImportPushSubscriptions: the bulk load of the national dry run adds
// subscriptions that read back as UpsertPushSubscription's would, and a
// bad one anywhere in the load (unknown parent, endpoint held, over the
// per-parent limit) fails it whole: nothing is written.
func TestImportPushSubscriptions(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	at := time.Date(2026, 11, 22, 8, 30, 0, 0, time.UTC)
	if _, err := st.UpsertParents(ctx, "ent_1", []store.Parent{{ENTUserID: "u1"}, {ENTUserID: "u2"}}, at,
		store.AuditEntry{At: at, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	sub := func(user string, i int) store.PushSubscription {
		return store.PushSubscription{ID: fmt.Sprintf("psb_%s_%d", user, i), ENTID: "ent_1", ENTUserID: user,
			Endpoint: fmt.Sprintf("https://push.example/%s/%d", user, i), P256dh: "BPk", Auth: "au", CreatedAt: at}
	}
	if err := st.ImportPushSubscriptions(ctx, []store.PushSubscription{sub("u1", 1), sub("u2", 1), sub("u1", 2)}); err != nil {
		t.Fatal(err)
	}
	count := func(user string) int {
		l, err := st.ListPushSubscriptions(ctx, "ent_1", user)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	l, err := st.ListPushSubscriptions(ctx, "ent_1", "u1")
	if err != nil || len(l) != 2 || l[0].ID != "psb_u1_1" || l[1].Endpoint != "https://push.example/u1/2" ||
		!l[0].RefreshedAt.Equal(at) || !l[0].CreatedAt.Equal(at) || l[0].P256dh != "BPk" || l[0].Auth != "au" {
		t.Fatalf("imported: %+v %v", l, err)
	}

	unknown := sub("nobody", 1)
	held := sub("u2", 9)
	held.Endpoint = sub("u1", 1).Endpoint
	var tooMany []store.PushSubscription
	for i := range store.MaxPushSubscriptions { // u2 holds one already
		tooMany = append(tooMany, sub("u2", 10+i))
	}
	for _, c := range []struct {
		name string
		subs []store.PushSubscription
		want error
	}{
		{"unknown parent", []store.PushSubscription{sub("u2", 2), unknown}, store.ErrNotFound},
		{"endpoint held", []store.PushSubscription{sub("u2", 2), held}, store.ErrTaken},
		{"over the limit", tooMany, store.ErrLimit},
	} {
		if err := st.ImportPushSubscriptions(ctx, c.subs); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if n := count("u2"); n != 1 {
			t.Errorf("%s: u2 has %d subscriptions after the failed import, want 1", c.name, n)
		}
	}
	if n := count("u1"); n != 2 {
		t.Errorf("u1 has %d subscriptions, want 2", n)
	}
}
