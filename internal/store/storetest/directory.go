package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

func commune(id, insee string) store.Collectivite {
	return store.Collectivite{ID: id, Kind: store.KindCommune, Name: "Commune " + insee, INSEE: insee, CreatedAt: T0}
}

func school(uai, commune string) store.School {
	return store.School{UAI: uai, Name: "École " + uai, Commune: commune, Level: store.LevelElementaire, CreatedAt: T0}
}

func ent(id, apiKey string) store.ENT {
	return store.ENT{
		ID: id, Name: "ENT " + id,
		Origins:    []string{"https://" + id + ".example.fr"},
		Schools:    []string{"0750001A", "0750002B"},
		KeyAlg:     store.AlgHS256,
		HMACSecret: []byte("secret-" + id),
		APIKeyHash: store.HashToken(apiKey),
		CreatedAt:  T0,
	}
}

func testCollectivites(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		c := commune("col_1", "75056")
		epci := store.Collectivite{ID: "col_2", Kind: store.KindEPCI, Name: "Métropole", SIREN: "200054781",
			Members: []string{"75056", "92012"}, CreatedAt: at(123 * time.Millisecond)}
		ok(t, s.CreateCollectivite(ctx, c, entry("collectivite.create", c.ID)))
		ok(t, s.CreateCollectivite(ctx, epci, entry("collectivite.create", epci.ID)))
		got, err := s.GetCollectivite(ctx, c.ID)
		ok(t, err)
		same(t, "commune", got, c)
		got, err = s.GetCollectivite(ctx, epci.ID)
		ok(t, err)
		same(t, "EPCI", got, epci)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetCollectivite(ctx, "col_absent")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("Conflicts", func(t *testing.T) {
		s := open(t)
		ok(t, s.CreateCollectivite(ctx, commune("col_1", "75056"), entry("collectivite.create", "col_1")))
		epci := store.Collectivite{ID: "col_2", Kind: store.KindEPCI, Name: "EPCI", SIREN: "200054781", CreatedAt: T0}
		ok(t, s.CreateCollectivite(ctx, epci, entry("collectivite.create", "col_2")))

		isErr(t, s.CreateCollectivite(ctx, commune("col_1", "69123"), entry("collectivite.create", "col_1")), store.ErrConflict)
		isErr(t, s.CreateCollectivite(ctx, commune("col_3", "75056"), entry("collectivite.create", "col_3")), store.ErrConflict)
		epci.ID = "col_4"
		isErr(t, s.CreateCollectivite(ctx, epci, entry("collectivite.create", "col_4")), store.ErrConflict)
		// Empty INSEE (EPCI) and empty SIREN (communes) are not keys.
		ok(t, s.CreateCollectivite(ctx, commune("col_5", "69123"), entry("collectivite.create", "col_5")))
		other := store.Collectivite{ID: "col_6", Kind: store.KindEPCI, Name: "Autre", SIREN: "243500139", CreatedAt: T0}
		ok(t, s.CreateCollectivite(ctx, other, entry("collectivite.create", "col_6")))
		if _, err := s.GetCollectivite(ctx, "col_3"); err == nil {
			t.Fatal("a refused collectivite was stored")
		}
	})
	t.Run("ListPaging", func(t *testing.T) {
		s := open(t)
		var want []string
		for i := range 7 {
			c := commune(fmt.Sprintf("col_%02d", 7-i), fmt.Sprintf("750%02d", i)) // created out of order
			ok(t, s.CreateCollectivite(ctx, c, entry("collectivite.create", c.ID)))
			want = append(want, fmt.Sprintf("col_%02d", i+1))
		}
		id := func(c store.Collectivite) string { return c.ID }
		all := collectPages(t, 3, id, func(cursor string) ([]store.Collectivite, error) {
			return s.ListCollectivites(ctx, store.Page{Cursor: cursor, Limit: 3})
		})
		sameIDs(t, "collectivites by ID", ids(all, id), want)
		one, err := s.ListCollectivites(ctx, store.Page{Limit: 10})
		ok(t, err)
		same(t, "listed collectivite", one[0], commune("col_01", "75006"))
	})
}

func testSchools(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		sc := school("0750001A", "75056")
		sc.Level = store.LevelMaternelle
		ok(t, s.CreateSchool(ctx, sc, entry("school.create", sc.UAI)))
		got, err := s.GetSchool(ctx, sc.UAI)
		ok(t, err)
		same(t, "school", got, sc)
		_, err = s.GetSchool(ctx, "0759999Z")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("DuplicateUAI", func(t *testing.T) {
		s := open(t)
		ok(t, s.CreateSchool(ctx, school("0750001A", "75056"), entry("school.create", "0750001A")))
		isErr(t, s.CreateSchool(ctx, school("0750001A", "69123"), entry("school.create", "0750001A")), store.ErrConflict)
		got, err := s.GetSchool(ctx, "0750001A")
		ok(t, err)
		if got.Commune != "75056" {
			t.Fatalf("commune %q: the refused duplicate overwrote the school", got.Commune)
		}
	})
	t.Run("ListFilters", func(t *testing.T) {
		s := open(t)
		for _, sc := range []store.School{
			school("0750003C", "75056"), school("0750001A", "75056"), school("6900001A", "69123"),
			school("0750002B", "75056"), school("9200001A", "92012"),
		} {
			ok(t, s.CreateSchool(ctx, sc, entry("school.create", sc.UAI)))
		}
		uai := func(s store.School) string { return s.UAI }
		all := collectPages(t, 2, uai, func(cursor string) ([]store.School, error) {
			return s.ListSchools(ctx, store.SchoolFilter{Page: store.Page{Cursor: cursor, Limit: 2}})
		})
		sameIDs(t, "all schools", ids(all, uai), []string{"0750001A", "0750002B", "0750003C", "6900001A", "9200001A"})
		paris := collectPages(t, 2, uai, func(cursor string) ([]store.School, error) {
			return s.ListSchools(ctx, store.SchoolFilter{Communes: []string{"75056"}, Page: store.Page{Cursor: cursor, Limit: 2}})
		})
		sameIDs(t, "schools of 75056", ids(paris, uai), []string{"0750001A", "0750002B", "0750003C"})
		got, err := s.ListSchools(ctx, store.SchoolFilter{Communes: []string{"69123", "92012"}, Page: store.Page{Limit: 10}})
		ok(t, err)
		sameIDs(t, "schools of two communes", ids(got, uai), []string{"6900001A", "9200001A"})
		got, err = s.ListSchools(ctx, store.SchoolFilter{UAIs: []string{"9200001A", "0750002B", "0000000X"}, Page: store.Page{Limit: 10}})
		ok(t, err)
		sameIDs(t, "schools by UAI", ids(got, uai), []string{"0750002B", "9200001A"})
		got, err = s.ListSchools(ctx, store.SchoolFilter{Communes: []string{"75056"}, UAIs: []string{"0750002B", "6900001A"}, Page: store.Page{Limit: 10}})
		ok(t, err)
		sameIDs(t, "schools by commune and UAI", ids(got, uai), []string{"0750002B"})
	})
}

func testENTs(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		e := ent("ent_1", "key-1")
		es := store.ENT{ID: "ent_2", Name: "ENT ES256", Origins: []string{"https://a.fr", "https://b.fr"},
			KeyAlg: store.AlgES256, PublicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
			APIKeyHash: store.HashToken("key-2"), CreatedAt: T0}
		ok(t, s.CreateENT(ctx, e, entry("ent.create", e.ID)))
		ok(t, s.CreateENT(ctx, es, entry("ent.create", es.ID)))
		got, err := s.GetENT(ctx, "ent_1")
		ok(t, err)
		same(t, "ENT", got, e)
		got, err = s.ENTByAPIKeyHash(ctx, store.HashToken("key-2"))
		ok(t, err)
		same(t, "ENT by API key", got, es)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		ok(t, s.CreateENT(ctx, ent("ent_1", "key-1"), entry("ent.create", "ent_1")))
		_, err := s.GetENT(ctx, "ent_absent")
		isErr(t, err, store.ErrNotFound)
		_, err = s.ENTByAPIKeyHash(ctx, store.HashToken("wrong key"))
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("Conflicts", func(t *testing.T) {
		s := open(t)
		ok(t, s.CreateENT(ctx, ent("ent_1", "key-1"), entry("ent.create", "ent_1")))
		isErr(t, s.CreateENT(ctx, ent("ent_1", "key-9"), entry("ent.create", "ent_1")), store.ErrConflict)
		isErr(t, s.CreateENT(ctx, ent("ent_2", "key-1"), entry("ent.create", "ent_2")), store.ErrConflict)
		_, err := s.GetENT(ctx, "ent_2")
		isErr(t, err, store.ErrNotFound)
	})
	t.Run("ListPaging", func(t *testing.T) {
		s := open(t)
		for _, id := range []string{"ent_c", "ent_a", "ent_e", "ent_b", "ent_d"} {
			ok(t, s.CreateENT(ctx, ent(id, "key-"+id), entry("ent.create", id)))
		}
		id := func(e store.ENT) string { return e.ID }
		all := collectPages(t, 2, id, func(cursor string) ([]store.ENT, error) {
			return s.ListENTs(ctx, store.Page{Cursor: cursor, Limit: 2})
		})
		sameIDs(t, "ENTs by ID", ids(all, id), []string{"ent_a", "ent_b", "ent_c", "ent_d", "ent_e"})
		same(t, "listed ENT", all[0], ent("ent_a", "key-ent_a"))
	})
	t.Run("KeyRotation", func(t *testing.T) { testENTKeyRotation(t, open) })
}

// testENTKeyRotation: an ENT's credentials are rotated and revoked with
// UpdateENTKeys, optimistically (of two rotations from the same state, one
// wins), and its previous API key finds it during the overlap.
func testENTKeyRotation(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	e := ent("ent_1", "key-1")
	ok(t, s.CreateENT(ctx, e, entry("ent.create", e.ID)))
	ok(t, s.CreateENT(ctx, ent("ent_2", "key-2"), entry("ent.create", "ent_2")))

	// API key: key-1 → key-1b, key-1 kept for an hour.
	r := e.RotateAPIKey(store.HashToken("key-1b"), at(time.Minute), time.Hour)
	ok(t, s.UpdateENTKeys(ctx, r, entry("ent.rotate_api_key", e.ID)))
	r.KeysVersion++
	got, err := s.GetENT(ctx, e.ID)
	ok(t, err)
	same(t, "ENT after API key rotation", got, r)
	if got.PrevAPIKeyUntil == nil || !got.PrevAPIKeyUntil.Equal(at(time.Hour+time.Minute)) {
		t.Fatalf("previous key until %v", got.PrevAPIKeyUntil)
	}
	for _, k := range []string{"key-1", "key-1b"} {
		got, err := s.ENTByAPIKeyHash(ctx, store.HashToken(k))
		ok(t, err)
		if got.ID != e.ID {
			t.Fatalf("%s finds %s", k, got.ID)
		}
	}

	// A second rotation from the state before the first is stale, and
	// changes nothing.
	stale := e.RotateAPIKey(store.HashToken("key-1c"), at(2*time.Minute), 0)
	isErr(t, s.UpdateENTKeys(ctx, stale, entry("ent.rotate_api_key", e.ID)), store.ErrStale)
	_, err = s.ENTByAPIKeyHash(ctx, store.HashToken("key-1c"))
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.UpdateENTKeys(ctx, ent("ent_absent", "key-x"), entry("ent.rotate_api_key", "ent_absent")), store.ErrNotFound)

	// Widget key: replaced, the old one kept for 10 minutes.
	w := r.RotateWidgetKey(store.WidgetKey{HMACSecret: []byte("lia_w_new")}, at(3*time.Minute), 10*time.Minute)
	ok(t, s.UpdateENTKeys(ctx, w, entry("ent.rotate_widget_key", e.ID)))
	w.KeysVersion++
	got, err = s.GetENT(ctx, e.ID)
	ok(t, err)
	same(t, "ENT after widget key rotation", got, w)
	if string(got.PrevHMACSecret) != "secret-ent_1" || got.PrevAPIKeyHash != store.HashToken("key-1") {
		t.Fatalf("previous keys: %q %q", got.PrevHMACSecret, got.PrevAPIKeyHash)
	}

	// Rotation without overlap: the previous API key is forgotten.
	n := w.RotateAPIKey(store.HashToken("key-1d"), at(4*time.Minute), 0)
	ok(t, s.UpdateENTKeys(ctx, n, entry("ent.rotate_api_key", e.ID)))
	n.KeysVersion++
	for _, k := range []string{"key-1", "key-1b"} {
		_, err := s.ENTByAPIKeyHash(ctx, store.HashToken(k))
		isErr(t, err, store.ErrNotFound)
	}

	// Revocation: secrets gone, the revocation kept; other ENTs untouched.
	v := n.Revoke(at(5 * time.Minute))
	ok(t, s.UpdateENTKeys(ctx, v, entry("ent.revoke", e.ID)))
	v.KeysVersion++
	got, err = s.GetENT(ctx, e.ID)
	ok(t, err)
	same(t, "revoked ENT", got, v)
	if got.RevokedAt == nil || len(got.HMACSecret) != 0 || len(got.PrevHMACSecret) != 0 {
		t.Fatalf("revoked ENT keeps secrets or lost its revocation: %+v", got)
	}
	other, err := s.GetENT(ctx, "ent_2")
	ok(t, err)
	same(t, "other ENT", other, ent("ent_2", "key-2"))
	// The new key's hash is unique across ENTs.
	clash := other.RotateAPIKey(store.HashToken("key-1d"), at(6*time.Minute), 0)
	isErr(t, s.UpdateENTKeys(ctx, clash, entry("ent.rotate_api_key", "ent_2")), store.ErrConflict)
	got, err = s.ENTByAPIKeyHash(ctx, store.HashToken("key-1d"))
	ok(t, err)
	if got.ID != e.ID {
		t.Fatalf("key-1d finds %s", got.ID)
	}
	checkChain(t, auditLog(t, s))
}
