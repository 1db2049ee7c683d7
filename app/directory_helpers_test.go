package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite/sqlitetest"
)

// dirNow is the fixed clock of the directory tests: Monday 23 November
// 2026, 09:00 in Paris.
var dirNow = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// dirWorld is a small world built through the use cases, as the
// back-office calls them: two communes with their schools and admins, an
// ENT serving commune A's schools and one serving commune B's.
type dirWorld struct {
	a        *App
	st       store.Store
	ctx      context.Context
	operator *Principal
	communeA store.Collectivite
	communeB store.Collectivite
	adminA   *Principal
	entA     ENTKeys // serves uaiA1, uaiA2
	entB     ENTKeys // serves uaiB1
}

const (
	dirUAIA1 = "0801001D" // maternelle, commune A (80702)
	dirUAIA2 = "0801002E" // élémentaire, commune A
	dirUAIB1 = "0801003F" // maternelle, commune B (80116)
)

func newDirWorld(t *testing.T) *dirWorld {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	a := New(Deps{Store: st, Clock: func() time.Time { return dirNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := &dirWorld{a: a, st: st, ctx: ctx,
		operator: &Principal{Account: &store.Account{ID: "acc_op", Role: store.RoleOperator, Name: "Opératrice"}}}
	w.communeA = w.mustCollectivite(t, CreateCollectiviteRequest{Kind: store.KindCommune, Name: "Saint-Fuscien", INSEE: "80702"})
	w.communeB = w.mustCollectivite(t, CreateCollectiviteRequest{Kind: store.KindCommune, Name: "Boves", INSEE: "80116"})
	for _, sc := range []CreateSchoolRequest{
		{UAI: dirUAIA1, Name: "École maternelle Les Coquelicots", Commune: "80702", Level: store.LevelMaternelle},
		{UAI: dirUAIA2, Name: "École élémentaire Jules Ferry", Commune: "80702", Level: store.LevelElementaire},
		{UAI: dirUAIB1, Name: "École maternelle Le Petit Prince", Commune: "80116", Level: store.LevelMaternelle},
	} {
		if _, err := a.CreateSchool(ctx, w.operator, sc); err != nil {
			t.Fatal(err)
		}
	}
	w.adminA = &Principal{Account: &store.Account{ID: "acc_a", Role: store.RoleAdmin, Name: "Admin A", CollectiviteID: w.communeA.ID}}
	w.entA = w.mustENT(t, "ENT A", dirUAIA1, dirUAIA2)
	w.entB = w.mustENT(t, "ENT B", dirUAIB1)
	return w
}

func (w *dirWorld) mustCollectivite(t *testing.T, req CreateCollectiviteRequest) store.Collectivite {
	t.Helper()
	col, err := w.a.CreateCollectivite(w.ctx, w.operator, req)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

func (w *dirWorld) mustENT(t *testing.T, name string, uais ...string) ENTKeys {
	t.Helper()
	out, err := w.a.CreateENT(w.ctx, w.operator, CreateENTRequest{Name: name, Origins: []string{"https://ent.example.fr"}, Schools: uais})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asENT is the principal of an ENT calling with its API key.
func asENT(k ENTKeys) *Principal { e := k.ENT; return &Principal{ENT: &e} }

// wantErr fails unless err is the catalog error code (store errors as
// every front end answers them).
func wantErr(t *testing.T, err error, code Code) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	e, _ := AsError(err)
	if e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	return e
}

func intp(n int) *int { return &n }
