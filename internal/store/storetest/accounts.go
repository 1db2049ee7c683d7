package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

func account(id, role, collectiviteID string) store.Account {
	return store.Account{ID: id, Role: role, Name: "Compte " + id, CollectiviteID: collectiviteID,
		TokenHash: store.HashToken("token-" + id), CreatedAt: T0, CreatedBy: "acc_creator"}
}

func createAccounts(t *testing.T, s store.Store, accs ...store.Account) {
	t.Helper()
	for _, acc := range accs {
		ok(t, s.CreateAccount(context.Background(), acc, entry("account.create", acc.ID)))
	}
}

func testAccounts(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		agent := account("acc_agent", store.RoleAgent, "col_1")
		agent.Services = []string{"restauration", "periscolaire"}
		viewer := account("acc_viewer", store.RoleViewer, "col_1")
		viewer.Schools = []string{"0750001A"}
		machine := account("acc_machine", store.RoleAgent, "col_1")
		machine.Machine = true
		createAccounts(t, s, agent, viewer, machine, account("acc_op", store.RoleOperator, ""))
		for _, want := range []store.Account{agent, viewer, machine} {
			got, err := s.GetAccount(ctx, want.ID)
			ok(t, err)
			same(t, "account", got, want)
			got, err = s.AccountByTokenHash(ctx, store.HashToken("token-"+want.ID))
			ok(t, err)
			same(t, "account by token", got, want)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("acc_1", store.RoleAgent, "col_1"))
		_, err := s.GetAccount(ctx, "acc_absent")
		isErr(t, err, store.ErrNotFound)
		_, err = s.AccountByTokenHash(ctx, store.HashToken("not a token"))
		isErr(t, err, store.ErrNotFound)
		isErr(t, s.DeleteAccount(ctx, "acc_absent", entry("account.delete", "acc_absent")), store.ErrNotFound)
	})
	t.Run("Conflicts", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("acc_1", store.RoleAgent, "col_1"))
		dupID := account("acc_1", store.RoleViewer, "col_2")
		dupID.TokenHash = store.HashToken("another token")
		isErr(t, s.CreateAccount(ctx, dupID, entry("account.create", "acc_1")), store.ErrConflict)
		dupToken := account("acc_2", store.RoleAgent, "col_1")
		dupToken.TokenHash = store.HashToken("token-acc_1")
		isErr(t, s.CreateAccount(ctx, dupToken, entry("account.create", "acc_2")), store.ErrConflict)
		got, err := s.AccountByTokenHash(ctx, store.HashToken("token-acc_1"))
		ok(t, err)
		same(t, "account kept", got, account("acc_1", store.RoleAgent, "col_1"))
	})
	t.Run("ListCount", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s,
			account("acc_01", store.RoleOperator, ""),
			account("acc_02", store.RoleAdmin, "col_a"),
			account("acc_03", store.RoleAgent, "col_a"),
			account("acc_04", store.RoleAgent, "col_b"),
			account("acc_05", store.RoleAgent, "col_a"),
			account("acc_06", store.RoleViewer, "col_a"),
			account("acc_07", store.RoleAdmin, "col_b"),
			account("acc_08", store.RoleOperator, ""),
		)
		id := func(a store.Account) string { return a.ID }
		list := func(f store.AccountFilter) []string {
			f.Limit = 2
			return ids(collectPages(t, 2, id, func(cursor string) ([]store.Account, error) {
				f.Cursor = cursor
				return s.ListAccounts(ctx, f)
			}), id)
		}
		sameIDs(t, "all accounts", list(store.AccountFilter{}),
			[]string{"acc_01", "acc_02", "acc_03", "acc_04", "acc_05", "acc_06", "acc_07", "acc_08"})
		sameIDs(t, "accounts of col_a", list(store.AccountFilter{CollectiviteID: "col_a"}),
			[]string{"acc_02", "acc_03", "acc_05", "acc_06"})
		sameIDs(t, "agents of col_a", list(store.AccountFilter{CollectiviteID: "col_a", Role: store.RoleAgent}),
			[]string{"acc_03", "acc_05"})
		sameIDs(t, "operators", list(store.AccountFilter{Role: store.RoleOperator}), []string{"acc_01", "acc_08"})

		for _, c := range []struct {
			role, collectivite string
			want               int
		}{
			{store.RoleOperator, "", 2},
			{store.RoleAdmin, "col_a", 1},
			{store.RoleAdmin, "", 2},
			{store.RoleAgent, "col_a", 2},
			{"", "col_a", 4},
			{"", "", 8},
			{store.RoleViewer, "col_b", 0},
		} {
			n, err := s.CountAccounts(ctx, c.role, c.collectivite)
			ok(t, err)
			if n != c.want {
				t.Errorf("CountAccounts(%q, %q) = %d, want %d", c.role, c.collectivite, n, c.want)
			}
		}
	})
	t.Run("DeleteRevokesToken", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("acc_1", store.RoleAgent, "col_1"))
		ok(t, s.DeleteAccount(ctx, "acc_1", entry("account.delete", "acc_1")))
		_, err := s.GetAccount(ctx, "acc_1")
		isErr(t, err, store.ErrNotFound)
		_, err = s.AccountByTokenHash(ctx, store.HashToken("token-acc_1"))
		isErr(t, err, store.ErrNotFound)
	})
}

// refused checks that err is a *store.KeyHolderError for role.
func refused(t *testing.T, err error, role, collectiviteID string, current int) {
	t.Helper()
	var kh *store.KeyHolderError
	if !errors.As(err, &kh) {
		t.Fatalf("error = %v, want a *store.KeyHolderError", err)
	}
	if kh.Role != role || kh.CollectiviteID != collectiviteID || kh.Current != current {
		t.Fatalf("KeyHolderError = %+v, want role %q, collectivite %q, current %d", *kh, role, collectiviteID, current)
	}
}

func testKeyHolders(t *testing.T, open opener) {
	ctx := context.Background()
	del := func(s store.Store, id string) error {
		return s.DeleteAccount(ctx, id, entry("account.delete", id))
	}
	t.Run("Operators", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("op_1", store.RoleOperator, ""), account("op_2", store.RoleOperator, ""))
		refused(t, del(s, "op_1"), store.RoleOperator, "", 2)
		createAccounts(t, s, account("op_3", store.RoleOperator, ""))
		ok(t, del(s, "op_1"))
		refused(t, del(s, "op_2"), store.RoleOperator, "", 2)
		refused(t, del(s, "op_3"), store.RoleOperator, "", 2)
		for _, id := range []string{"op_2", "op_3"} {
			_, err := s.GetAccount(ctx, id)
			ok(t, err)
		}
	})
	t.Run("LoneOperator", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("op_1", store.RoleOperator, ""))
		refused(t, del(s, "op_1"), store.RoleOperator, "", 1)
	})
	t.Run("AdminsPerCollectivite", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s,
			account("adm_a1", store.RoleAdmin, "col_a"), account("adm_a2", store.RoleAdmin, "col_a"),
			account("adm_b1", store.RoleAdmin, "col_b"), account("adm_b2", store.RoleAdmin, "col_b"),
			account("adm_b3", store.RoleAdmin, "col_b"), account("adm_b4", store.RoleAdmin, "col_b"),
		)
		// Four admins in col_b do not make col_a's two removable.
		refused(t, del(s, "adm_a1"), store.RoleAdmin, "col_a", 2)
		ok(t, del(s, "adm_b1"))
		ok(t, del(s, "adm_b2"))
		refused(t, del(s, "adm_b3"), store.RoleAdmin, "col_b", 2)
		createAccounts(t, s, account("adm_a3", store.RoleAdmin, "col_a"))
		ok(t, del(s, "adm_a1"))
		refused(t, del(s, "adm_a2"), store.RoleAdmin, "col_a", 2)
		// Operators are not admins of a collectivité.
		createAccounts(t, s, account("op_1", store.RoleOperator, ""), account("op_2", store.RoleOperator, ""),
			account("op_3", store.RoleOperator, ""))
		refused(t, del(s, "adm_a3"), store.RoleAdmin, "col_a", 2)
	})
	t.Run("AgentsAndViewers", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("agt_1", store.RoleAgent, "col_a"), account("vwr_1", store.RoleViewer, "col_a"))
		ok(t, del(s, "agt_1"))
		ok(t, del(s, "vwr_1"))
		n, err := s.CountAccounts(ctx, "", "col_a")
		ok(t, err)
		if n != 0 {
			t.Fatalf("%d accounts left", n)
		}
	})
	t.Run("RefusalIsNotAudited", func(t *testing.T) {
		s := open(t)
		createAccounts(t, s, account("op_1", store.RoleOperator, ""), account("op_2", store.RoleOperator, ""))
		before := len(auditLog(t, s))
		refused(t, del(s, "op_2"), store.RoleOperator, "", 2)
		if after := len(auditLog(t, s)); after != before {
			t.Fatalf("a refused removal appended %d audit entries", after-before)
		}
	})
}
