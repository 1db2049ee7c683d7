package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// mutation is one call of a mutating method with the entry it passes.
type mutation struct {
	name string
	do   func(ctx context.Context, s store.Store, a store.AuditEntry) error
}

// everyMutation calls every mutating method once, in an order where each
// call succeeds on a fresh store.
var everyMutation = []mutation{
	{"CreateCollectivite", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.CreateCollectivite(ctx, commune("col_a", "75056"), a)
	}},
	{"CreateSchool", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.CreateSchool(ctx, school("0750001A", "75056"), a)
	}},
	{"CreateAccount", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.CreateAccount(ctx, account("acc_1", store.RoleAgent, "col_a"), a)
	}},
	{"DeleteAccount", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.DeleteAccount(ctx, "acc_1", a)
	}},
	{"CreateENT", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.CreateENT(ctx, ent("ent_1", "key-1"), a)
	}},
	{"UpsertParents", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		_, err := s.UpsertParents(ctx, "ent_1", []store.Parent{
			parent("u1", child("0750001A", "CP", "")), parent("u2", child("0750001A", "CP", "")),
		}, T0, a)
		return err
	}},
	{"DeleteParent", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.DeleteParent(ctx, "ent_1", "u1", a)
	}},
	{"AppendAudit", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		_, err := s.AppendAudit(ctx, a)
		return err
	}},
	{"CreateConvention", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		c, v := convention("cnv_1", "col_a", "0750001A")
		_, err := s.CreateConvention(ctx, c, v, a)
		return err
	}},
	{"UpdateConvention", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		c, _ := convention("cnv_1", "col_a", "0750001A")
		c.Status = store.ConventionActive
		return s.UpdateConvention(ctx, c, 1, nil, a)
	}},
	{"CreateNotice", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		return s.CreateNotice(ctx, notice("ntc_1", "col_a", "0750001A"), a)
	}},
	{"UpdateNotice", func(ctx context.Context, s store.Store, a store.AuditEntry) error {
		n := notice("ntc_1", "col_a", "0750001A")
		n.Version, n.Title = 2, "Corrigé"
		return s.UpdateNotice(ctx, n, 1, a)
	}},
}

func testAudit(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("EveryMutationAppendsOneEntry", func(t *testing.T) {
		s := open(t)
		var prev store.AuditEntry
		for i, m := range everyMutation {
			a := store.AuditEntry{
				At: at(time.Duration(i) * time.Minute), Actor: "acc_actor", Action: m.name,
				Target: fmt.Sprintf("target-%d", i), Summary: "résumé " + m.name,
			}
			if i%2 == 0 {
				a.CollectiviteID = "col_a"
			}
			ok(t, m.do(ctx, s, a))
			log := auditLog(t, s)
			if len(log) != i+1 {
				t.Fatalf("after %s: %d audit entries, want %d", m.name, len(log), i+1)
			}
			got := log[i]
			want := a
			want.Seq, want.PrevHash = prev.Seq+1, prev.Hash
			want.Hash = store.ChainHash(want.PrevHash, want)
			same(t, m.name+"'s audit entry", got, want)
			prev = got
		}
		checkChain(t, auditLog(t, s))
	})
	t.Run("FailedMutationAppendsNothing", func(t *testing.T) {
		s := open(t)
		for _, m := range everyMutation {
			ok(t, m.do(ctx, s, entry(m.name, "")))
		}
		ok(t, s.CreateAccount(ctx, account("op_1", store.RoleOperator, ""), entry("account.create", "op_1")))
		before := auditLog(t, s)
		cnv, v := convention("cnv_1", "col_a", "0750001A")
		for _, f := range []struct {
			name string
			err  error
		}{
			{"duplicate collectivite", s.CreateCollectivite(ctx, commune("col_a", "69123"), entry("x", ""))},
			{"duplicate school", s.CreateSchool(ctx, school("0750001A", "75056"), entry("x", ""))},
			{"duplicate account", s.CreateAccount(ctx, account("op_1", store.RoleOperator, ""), entry("x", ""))},
			{"absent account", s.DeleteAccount(ctx, "acc_absent", entry("x", ""))},
			{"last operator", s.DeleteAccount(ctx, "op_1", entry("x", ""))},
			{"duplicate ENT", s.CreateENT(ctx, ent("ent_1", "key-2"), entry("x", ""))},
			{"absent parent", s.DeleteParent(ctx, "ent_1", "u1", entry("x", ""))},
			{"duplicate convention", func() error { _, err := s.CreateConvention(ctx, cnv, v, entry("x", "")); return err }()},
			{"stale convention", s.UpdateConvention(ctx, cnv, 7, nil, entry("x", ""))},
			{"duplicate notice", s.CreateNotice(ctx, notice("ntc_1", "col_a", "0750001A"), entry("x", ""))},
			{"stale notice", s.UpdateNotice(ctx, notice("ntc_1", "col_a", "0750001A"), 1, entry("x", ""))},
		} {
			if f.err == nil {
				t.Fatalf("%s: no error", f.name)
			}
		}
		same(t, "audit log after failed mutations", auditLog(t, s), before)
	})
	t.Run("AppendAudit", func(t *testing.T) {
		s := open(t)
		a := entry("purge", "notices")
		got, err := s.AppendAudit(ctx, a)
		ok(t, err)
		want := a
		want.Seq = 1
		want.Hash = store.ChainHash("", want)
		same(t, "first entry", got, want)
		second, err := s.AppendAudit(ctx, entry("purge", "audit"))
		ok(t, err)
		if second.Seq != 2 || second.PrevHash != got.Hash {
			t.Fatalf("second entry: Seq %d, PrevHash %q; want 2, %q", second.Seq, second.PrevHash, got.Hash)
		}
		log := auditLog(t, s)
		same(t, "stored chain", log, []store.AuditEntry{got, second})
	})
	t.Run("SubMillisecondTimes", func(t *testing.T) {
		// Whatever precision a backend keeps, the stored entry's hash must
		// verify from its stored fields.
		s := open(t)
		a := entry("x", "y")
		a.At = time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
		_, err := s.AppendAudit(ctx, a)
		ok(t, err)
		log := auditLog(t, s)
		checkChain(t, log)
		if d := log[0].At.Sub(a.At).Abs(); d >= time.Millisecond {
			t.Fatalf("At stored as %s, %s from %s", log[0].At, d, a.At)
		}
	})
	t.Run("ScanAudit", func(t *testing.T) {
		s := open(t)
		for i := range 1203 { // more than any sensible page
			_, err := s.AppendAudit(ctx, entry("x", fmt.Sprint(i)))
			ok(t, err)
		}
		log := auditLog(t, s)
		if len(log) != 1203 || log[0].Seq != 1 || log[1202].Target != "1202" {
			t.Fatalf("ScanAudit: %d entries from Seq %d", len(log), log[0].Seq)
		}
		checkChain(t, log)
		stop := errors.New("stop")
		n := 0
		err := s.ScanAudit(ctx, func(store.AuditEntry) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 10 {
			t.Fatalf("ScanAudit after fn failed: err %v after %d calls", err, n)
		}
	})
	t.Run("ListAudit", func(t *testing.T) {
		s := open(t)
		for i := range 10 {
			a := entry("x", fmt.Sprint(i+1))
			if i%3 == 0 {
				a.CollectiviteID = "col_a"
			} else if i%3 == 1 {
				a.CollectiviteID = "col_b"
			}
			_, err := s.AppendAudit(ctx, a)
			ok(t, err)
		}
		seqs := func(l []store.AuditEntry) []string {
			return ids(l, func(a store.AuditEntry) string { return fmt.Sprint(a.Seq) })
		}
		all, err := s.ListAudit(ctx, store.AuditFilter{Limit: 100})
		ok(t, err)
		sameIDs(t, "all entries", seqs(all), []string{"10", "9", "8", "7", "6", "5", "4", "3", "2", "1"})
		same(t, "listed entries", all[9], auditLog(t, s)[0])
		page, err := s.ListAudit(ctx, store.AuditFilter{Limit: 4})
		ok(t, err)
		sameIDs(t, "first page", seqs(page), []string{"10", "9", "8", "7"})
		page, err = s.ListAudit(ctx, store.AuditFilter{BeforeSeq: 7, Limit: 4})
		ok(t, err)
		sameIDs(t, "second page", seqs(page), []string{"6", "5", "4", "3"})
		page, err = s.ListAudit(ctx, store.AuditFilter{BeforeSeq: 3, Limit: 4})
		ok(t, err)
		sameIDs(t, "last page", seqs(page), []string{"2", "1"})
		page, err = s.ListAudit(ctx, store.AuditFilter{CollectiviteID: "col_a", Limit: 100})
		ok(t, err)
		sameIDs(t, "col_a's entries", seqs(page), []string{"10", "7", "4", "1"})
		page, err = s.ListAudit(ctx, store.AuditFilter{CollectiviteID: "col_b", BeforeSeq: 8, Limit: 1})
		ok(t, err)
		sameIDs(t, "col_b's page", seqs(page), []string{"5"})
	})
	t.Run("PurgeAudit", func(t *testing.T) {
		s := open(t)
		for i := range 6 {
			a := entry("x", fmt.Sprint(i+1))
			a.At = at(time.Duration(i) * 24 * time.Hour)
			_, err := s.AppendAudit(ctx, a)
			ok(t, err)
		}
		before := auditLog(t, s)
		n, err := s.PurgeAudit(ctx, at(3*24*time.Hour))
		ok(t, err)
		if n != 3 {
			t.Fatalf("PurgeAudit deleted %d entries, want 3", n)
		}
		after := auditLog(t, s)
		same(t, "remaining entries", after, before[3:])
		checkChain(t, after)
		if after[0].PrevHash != before[2].Hash {
			t.Fatal("the first remaining entry no longer anchors the chain")
		}
		n, err = s.PurgeAudit(ctx, at(3*24*time.Hour))
		ok(t, err)
		if n != 0 {
			t.Fatalf("a second identical purge deleted %d entries", n)
		}
		// Purging everything does not restart the chain.
		n, err = s.PurgeAudit(ctx, at(365*24*time.Hour))
		ok(t, err)
		if n != 3 || len(auditLog(t, s)) != 0 {
			t.Fatalf("purge of everything deleted %d, left %d", n, len(auditLog(t, s)))
		}
		next, err := s.AppendAudit(ctx, entry("audit.purge", ""))
		ok(t, err)
		if next.Seq != 7 || next.PrevHash != before[5].Hash {
			t.Fatalf("entry after a full purge: Seq %d, PrevHash %q; want 7, %q", next.Seq, next.PrevHash, before[5].Hash)
		}
		checkChain(t, auditLog(t, s))
	})
}

// convention is a draft convention of collectivité col covering schools,
// and its version 1.
func convention(id, col string, schools ...string) (store.Convention, store.ConventionVersion) {
	doc, _ := json.Marshal(map[string]any{"id": id, "schools": schools, "articles": []any{map[string]string{"n": "3"}}})
	c := store.Convention{ID: id, CollectiviteID: col, Status: store.ConventionDraft, Version: 1,
		Schools: schools, Doc: doc, UpdatedAt: T0}
	v := store.ConventionVersion{ConventionID: id, Version: 1, Doc: doc, CreatedAt: T0, CreatedBy: "acc_admin"}
	return c, v
}
