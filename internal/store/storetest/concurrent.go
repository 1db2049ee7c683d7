package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// RunConcurrent checks what concurrent callers rely on: an unforked audit
// chain, one winner among racing optimistic updates and idempotent
// creations, distinct convention numbers. It needs a backend with atomic
// writes (SQLite, a real MongoDB replica set), not FerretDB v1.
//
// open is called once per case; openMore, if not nil, opens another handle
// on the same store (another process, another API replica) and writers
// are spread over both.
func RunConcurrent(t *testing.T, open func(t *testing.T) store.Store, openMore func(t *testing.T, s store.Store) store.Store) {
	ctx := context.Background()
	const workers, each = 8, 25
	handles := func(t *testing.T) []store.Store {
		s := open(t)
		if openMore == nil {
			return []store.Store{s}
		}
		return []store.Store{s, openMore(t, s)}
	}

	t.Run("AuditChain", func(t *testing.T) {
		hs := handles(t)
		errs := race(workers, func(w int) error {
			s := hs[w%len(hs)]
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = s.AppendAudit(ctx, entry("x", fmt.Sprintf("%d-%d", w, i)))
				} else {
					uai := fmt.Sprintf("%02d%05dX", w, i)
					err = s.CreateSchool(ctx, school(uai, "75056"), entry("school.create", uai))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		for _, err := range errs {
			ok(t, err)
		}
		log := auditLog(t, hs[0])
		if len(log) != workers*each {
			t.Fatalf("%d audit entries, want %d", len(log), workers*each)
		}
		checkChain(t, log)
	})
	t.Run("OneOptimisticUpdateWins", func(t *testing.T) {
		hs := handles(t)
		createNotice(t, hs[0], notice("ntc_1", "col_a", "0750001A"))
		c, v := convention("cnv_1", "col_a", "0750001A")
		createConvention(t, hs[0], c, v)
		errs := race(workers, func(w int) error {
			s := hs[w%len(hs)]
			if w%2 == 0 {
				n := notice("ntc_1", "col_a", "0750001A")
				n.Version, n.Title = 2, fmt.Sprint("correction ", w)
				return s.UpdateNotice(ctx, n, 1, entry("notice.correct", "ntc_1"))
			}
			next := v
			next.Version, next.Reason = 2, fmt.Sprint("avenant ", w)
			return s.UpdateConvention(ctx, c, 1, &next, entry("convention.amend", "cnv_1"))
		})
		wins := map[bool]int{}
		for w, err := range errs {
			switch {
			case err == nil:
				wins[w%2 == 0]++
			case !errors.Is(err, store.ErrStale):
				t.Fatalf("worker %d: %v, want nil or ErrStale", w, err)
			}
		}
		if wins[true] != 1 || wins[false] != 1 {
			t.Fatalf("%d notice and %d convention updates won, want 1 and 1", wins[true], wins[false])
		}
		versions, err := hs[0].NoticeVersions(ctx, "ntc_1")
		ok(t, err)
		if len(versions) != 1 {
			t.Fatalf("%d earlier notice versions, want 1", len(versions))
		}
		cv, err := hs[0].ConventionVersions(ctx, "cnv_1")
		ok(t, err)
		if len(cv) != 2 {
			t.Fatalf("%d convention versions, want 2", len(cv))
		}
		checkChain(t, auditLog(t, hs[0]))
	})
	t.Run("OneIdempotentCreationWins", func(t *testing.T) {
		hs := handles(t)
		errs := race(workers, func(w int) error {
			n := notice(fmt.Sprint("ntc_", w), "col_a", "0750001A")
			n.IdempotencyKey = "key-1"
			return hs[w%len(hs)].CreateNotice(ctx, n, entry("notice.create", n.ID))
		})
		if won := winners(t, errs, store.ErrConflict); won != 1 {
			t.Fatalf("%d creations with one idempotency key succeeded", won)
		}
		if log := auditLog(t, hs[0]); len(log) != 1 {
			t.Fatalf("%d audit entries, want 1", len(log))
		}
	})
	t.Run("DistinctConventionNumbers", func(t *testing.T) {
		hs := handles(t)
		numbers := make([]int, workers)
		errs := race(workers, func(w int) error {
			c, v := convention(fmt.Sprint("cnv_", w), "col_a")
			n, err := hs[w%len(hs)].CreateConvention(ctx, c, v, entry("convention.create", c.ID))
			numbers[w] = n
			return err
		})
		seen := map[int]bool{}
		for w, err := range errs {
			ok(t, err)
			if numbers[w] < 1 || numbers[w] > workers || seen[numbers[w]] {
				t.Fatalf("convention numbers %v", numbers)
			}
			seen[numbers[w]] = true
		}
	})
	t.Run("PushSubscriptionLimit", func(t *testing.T) {
		// A parent subscribing many browsers at once, some with another
		// parent's endpoint: MaxPushSubscriptions at most, and the other
		// parent's endpoint stays theirs.
		hs := handles(t)
		upsert(t, hs[0], "ent_1", 0, 2, 0, parent("u1", child("0750001A", "maternelle", "PS")), parent("u2", child("0750001A", "maternelle", "MS")))
		subscribe(t, hs[0], subscription("psb_u2", "u2", "https://push.example/u2", 0), true)
		n := 2 * (store.MaxPushSubscriptions + workers)
		errs := race(n, func(w int) error {
			endpoint := fmt.Sprint("https://push.example/u1-", w)
			if w%3 == 0 {
				endpoint = "https://push.example/u2"
			}
			_, _, err := hs[w%len(hs)].UpsertPushSubscription(ctx, subscription(fmt.Sprint("psb_", w), "u1", endpoint, 0))
			return err
		})
		for w, err := range errs {
			switch {
			case w%3 == 0 && !errors.Is(err, store.ErrTaken):
				t.Fatalf("worker %d posting u2's endpoint: %v, want ErrTaken", w, err)
			case w%3 != 0 && err != nil && !errors.Is(err, store.ErrLimit):
				t.Fatalf("worker %d: %v, want nil or ErrLimit", w, err)
			}
		}
		l, err := hs[0].ListPushSubscriptions(ctx, "ent_1", "u1")
		ok(t, err)
		if len(l) != store.MaxPushSubscriptions {
			t.Fatalf("u1 holds %d subscriptions, want %d", len(l), store.MaxPushSubscriptions)
		}
		l, err = hs[0].ListPushSubscriptions(ctx, "ent_1", "u2")
		ok(t, err)
		if len(l) != 1 || l[0].ID != "psb_u2" {
			t.Fatalf("u2's subscriptions after the race: %+v", l)
		}
	})
	t.Run("EndpointFirstRegistration", func(t *testing.T) {
		// Review of issue 11, item 9: parents racing to register the same
		// new endpoint (none holds it yet): one gets it, every other is
		// refused with ErrTaken, and it stays the winner's.
		hs := handles(t)
		var ps []store.Parent
		for w := range workers {
			ps = append(ps, parent(fmt.Sprint("r", w), child("0750001A", "maternelle", "PS")))
		}
		upsert(t, hs[0], "ent_1", 0, workers, 0, ps...)
		for round := range 5 {
			endpoint := fmt.Sprint("https://push.example/contested-", round)
			errs := race(workers, func(w int) error {
				_, _, err := hs[w%len(hs)].UpsertPushSubscription(ctx, subscription(fmt.Sprint("psb_", round, "_", w), fmt.Sprint("r", w), endpoint, 0))
				return err
			})
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("round %d: parents r%d and r%d both registered %s", round, winner, w, endpoint)
				case err == nil:
					winner = w
				case !errors.Is(err, store.ErrTaken):
					t.Fatalf("round %d, parent r%d: %v, want nil or ErrTaken", round, w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: nobody registered %s", round, endpoint)
			}
			for w := range workers {
				l, err := hs[0].ListPushSubscriptions(ctx, "ent_1", fmt.Sprint("r", w))
				ok(t, err)
				for _, sub := range l {
					if sub.Endpoint == endpoint && w != winner {
						t.Fatalf("round %d: %s held by r%d, registered by r%d", round, endpoint, w, winner)
					}
				}
			}
		}
	})
	t.Run("KeyHolders", func(t *testing.T) {
		// Three operators removed at once: exactly one removal may pass.
		hs := handles(t)
		createAccounts(t, hs[0], account("op_1", store.RoleOperator, ""), account("op_2", store.RoleOperator, ""),
			account("op_3", store.RoleOperator, ""))
		errs := race(3, func(w int) error {
			id := fmt.Sprint("op_", w+1)
			return hs[w%len(hs)].DeleteAccount(ctx, id, entry("account.delete", id))
		})
		removed := 0
		for _, err := range errs {
			var kh *store.KeyHolderError
			switch {
			case err == nil:
				removed++
			case !errors.As(err, &kh):
				t.Fatalf("removal: %v", err)
			}
		}
		n, err := hs[0].CountAccounts(ctx, store.RoleOperator, "")
		ok(t, err)
		if removed != 1 || n != 2 {
			t.Fatalf("%d removals passed, %d operators left", removed, n)
		}
	})
}
