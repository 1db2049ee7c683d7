package cas

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
	"github.com/liaison-ent/liaison/internal/testkit"
)

// fixedNow is the tests' clock.
var fixedNow = time.Date(2025, 9, 2, 8, 15, 30, 123456000, time.UTC)

// Test UAIs with their check letter.
const (
	uaiElem = "0801234G"
	uaiMat  = "0805678M"
)

// parentUser is the parent of the fixture: two children at the
// elementary school (CE1 A and CM2), one at the nursery school, which has
// no classes in the ENT.
func parentUser() castest.User {
	return castest.User{
		ExternalID:  "a3f0c2d1-7b4e-4c1a-9e2f-5d6b8c0e1f23",
		Login:       "marie.durand",
		FirstName:   "Marie",
		LastName:    "Durand",
		DisplayName: "DURAND Marie",
		BirthDate:   "1984-03-12",
		Email:       "marie.durand@example.fr",
		Profile:     "Relative",
		HasLoggedIn: true,
		Schools: []castest.School{
			{Name: "École élémentaire Jules Ferry", UAI: uaiElem, Type: "ECOLE DE NIVEAU ELEMENTAIRE", ExternalID: "ENT-STR-801234", Main: true, Classes: []string{"CE1 A", "CM2"}},
			{Name: "École maternelle Les Tilleuls", UAI: uaiMat, Type: "ECOLE MATERNELLE", ExternalID: "ENT-STR-805678"},
		},
	}
}

// personalValues are the values of parentUser that must never leave the
// package.
func personalValues() []string {
	return []string{"marie.durand", "Marie", "Durand", "DURAND", "1984-03-12", "example.fr", "Jules Ferry", "Tilleuls"}
}

// logCapture is a logger writing into a buffer, at debug level.
type logCapture = testkit.Buffer

func newLogCapture() (*slog.Logger, *logCapture) {
	c := &logCapture{}
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})), c
}

// standIn starts a CAS stand-in with the fixture parent signed in and a
// fixed clock, and a client for it.
func standIn(t *testing.T, v Version, opts Options) (*castest.Server, *Client) {
	t.Helper()
	s := castest.New(t)
	s.SetClock(func() time.Time { return fixedNow })
	s.AddUser(parentUser())
	s.SignIn(parentUser().ExternalID)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = s.Client()
	}
	c, err := New(Config{BaseURL: s.URL, Version: v, Mapping: Mapping{Preset: PresetEntcoreGeneric}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// readFixture reads testdata/name without its leading comment (where the
// shape comes from).
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.HasPrefix(s, "<!--") {
		_, s, _ = strings.Cut(s, "-->\n")
	}
	return []byte(s)
}
