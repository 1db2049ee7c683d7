package parent

import (
	"net/url"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/sealed"
)

// The parent page's session keys are LIAISON_SESSION_KEY, held outside
// the database: two servers on the same database, one configured with
// another key, open none of each other's sessions. (The keys used to
// derive from a secret kept in the database itself: whoever read the
// database or a backup sealed a session for any parent of any ENT.)
func TestSessionKeysAreNotInTheDatabase(t *testing.T) {
	w := newWorld(t)
	b := w.signedIn(t, w.entA.ID, parentJF)
	signedInFeed(t, b.get(base(w.entA.ID)))

	w.serve(t, map[string]string{"LIAISON_SESSION_KEY": otherSessionKey})
	if p := b.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("a session sealed with another server's key opens the page: the key is not LIAISON_SESSION_KEY")
	}
}

// A rotation: with the new key as LIAISON_SESSION_KEY and the former one
// as LIAISON_SESSION_KEY_PREVIOUS, a session of the former key goes on
// and is sealed again with the new key at its next request; once the
// former key is dropped, only the sessions moved to the new key remain.
func TestSessionKeyRotation(t *testing.T) {
	w := newWorld(t)
	moved, stale := w.browser(t), w.browser(t)
	moved.signIn(w.entA.ID, parentJF, false)
	stale.signIn(w.entA.ID, parentCoq, false)
	token := csrfOf(t, must(t, moved.get(base(w.entA.ID)), 200))

	w.serve(t, map[string]string{"LIAISON_SESSION_KEY": otherSessionKey, "LIAISON_SESSION_KEY_PREVIOUS": testSessionKey})
	before := moved.cookies[w.page.sessionCookie()]
	signedInFeed(t, moved.get(base(w.entA.ID)))
	if moved.cookies[w.page.sessionCookie()] == before {
		t.Fatal("the session was not sealed again")
	}
	// The form of a page rendered before the rotation still posts.
	must(t, moved.post(base(w.entA.ID)+"tout-lu", url.Values{"csrf": {token}}), 303)
	w.serve(t, map[string]string{"LIAISON_SESSION_KEY": otherSessionKey})
	signedInFeed(t, moved.get(base(w.entA.ID)))
	if p := stale.get(base(w.entA.ID)); !signedOut(p) {
		t.Fatal("the former key dropped, a session sealed with it still opens the page")
	}
}

// Without a usable key, the page says the service is unavailable rather
// than sealing with nothing; config refuses a malformed key, and with
// MongoDB a missing one.
func TestSessionKeyRequired(t *testing.T) {
	w := newWorld(t)
	w.serve(t, map[string]string{"LIAISON_SESSION_KEY": ""})
	if p := w.browser(t).get(base(w.entA.ID)); p.Status != 503 {
		t.Fatalf("no session key: %d", p.Status)
	}
	for _, env := range []map[string]string{
		{"LIAISON_SESSION_KEY": "c2hvcnQ="},
		{"LIAISON_SESSION_KEY_PREVIOUS": testSessionKey},
		{"LIAISON_MONGODB_URI": "mongodb://127.0.0.1:27017/liaison"},
	} {
		_, err := config.FromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "LIAISON_SESSION_KEY") {
			t.Errorf("%v: %v", env, err)
		}
	}
	if _, err := config.FromEnv(func(k string) string {
		return map[string]string{"LIAISON_MONGODB_URI": "mongodb://127.0.0.1:27017/liaison", "LIAISON_ROLE": "worker"}[k]
	}); err != nil {
		t.Errorf("a worker (no pages) asked for a session key: %v", err)
	}
}

// otherSessionKey is a second LIAISON_SESSION_KEY.
var otherSessionKey = func() string {
	k, err := sealed.NewKey()
	if err != nil {
		panic(err)
	}
	return k
}()
