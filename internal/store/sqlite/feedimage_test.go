package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// waitImage waits until the feed image has no build running and no
// parent pending, and reports whether it is complete.
func waitImage(t *testing.T, s *Store) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		settled, complete := s.img.settled()
		if settled {
			return complete
		}
		if time.Now().After(deadline) {
			t.Fatal("the feed image did not settle in 20 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// imageSame fails unless, once the image has settled, every one of users
// ("ent/user") is read from the image — held, or known not to exist —
// exactly as the database's statement reads them.
func imageSame(t *testing.T, s *Store, step string, users ...string) {
	t.Helper()
	ctx := context.Background()
	if !waitImage(t, s) {
		t.Fatalf("%s: the image is not complete", step)
	}
	for _, u := range users {
		ent, user, _ := strings.Cut(u, "/")
		want, wantStates, wantErr := s.feedParent(ctx, ent, user)
		var got store.Parent
		var gotStates []store.ReadState
		found, absent, err := s.img.read(ent, user, func(rows []byte) (err error) {
			got, gotStates, err = imageParent(ent, user, rows)
			return err
		})
		if err != nil {
			t.Fatalf("%s, %s: %v", step, u, err)
		}
		switch {
		case errors.Is(wantErr, sql.ErrNoRows):
			if !absent || found {
				t.Fatalf("%s, %s: not in the database, but the image says found %v, absent %v", step, u, found, absent)
			}
		case wantErr != nil:
			t.Fatal(wantErr)
		case !found:
			t.Fatalf("%s, %s: not in the image", step, u)
		case !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotStates, wantStates):
			t.Fatalf("%s, %s:\nimage    %+v %+v\ndatabase %+v %+v", step, u, got, gotStates, want, wantStates)
		}
		// And FeedParent answers what the image holds.
		p, states, err := s.FeedParent(ctx, ent, user)
		if wantErr != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s, %s: FeedParent %v, want not found", step, u, err)
			}
		} else if err != nil || !reflect.DeepEqual(p, want) || !reflect.DeepEqual(states, wantStates) {
			t.Fatalf("%s, %s: FeedParent %+v %+v %v", step, u, p, states, err)
		}
	}
}

// TestFeedImageFollowsWrites: after each kind of write of what the feed
// reads — syncs that add, change and drop children, declarations,
// preferences and summaries, readings and acknowledgements, an erasure,
// a parent synced again after it, a purge of notices that took read
// states with it — every parent reads from the image as from the
// database, and a parent who does not exist is known not to.
func TestFeedImageFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	imageSame(t, s, "empty", "ent_1/u1")
	a := store.AuditEntry{At: storetest.T0, Actor: "ent_1", Action: "parents.upsert"}
	sync := func(ent string, at time.Duration, ps ...store.Parent) {
		t.Helper()
		if _, err := s.UpsertParents(ctx, ent, ps, storetest.T0.Add(at), a); err != nil {
			t.Fatal(err)
		}
	}
	var notices []string
	for i := range 3 {
		notices = append(notices, feedNotice(t, s, i, fmt.Sprintf("ntc_%d", i), storetest.T0.Add(time.Duration(i+1)*time.Hour)))
	}
	school, level := benchFeedSchool(1)
	kid := func(class string, e store.Enrolment) store.Child {
		return store.Child{UAI: school, Level: level, Class: class, Enrolment: e}
	}
	yes, no := store.EnrolYes, store.EnrolNo
	users := []string{"ent_1/u1", "ent_1/u2", "ent_1/u3", "ent_2/u1", "ent_1/nobody", "ent_9/u1"}
	sync("ent_1", 0,
		store.Parent{ENTUserID: "u1", Children: []store.Child{kid(" cp a ", store.Enrolment{Cantine: yes, Line: "s 12"}), kid("12:3", store.Enrolment{})}},
		store.Parent{ENTUserID: "u2", Children: []store.Child{kid("ce1", store.Enrolment{Transport: no, Line: "S1"})}},
		store.Parent{ENTUserID: "u3"})
	sync("ent_2", 0, store.Parent{ENTUserID: "u1", Children: []store.Child{kid("Éveil", store.Enrolment{Mercredi: no, Etudes: yes})}})
	imageSame(t, s, "first sync", users...)

	if err := s.SetPreferences(ctx, "ent_1", "u1", "en", []string{"culture"}, []string{"cantine"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeclaredEnrolments(ctx, "ent_1", "u1", []store.ChildEnrolment{{UAI: school, Level: level, Class: "12:3", Enrolment: store.Enrolment{GarderieSoir: yes}}}); err != nil {
		t.Fatal(err)
	}
	for i, id := range notices {
		if _, err := s.MarkRead(ctx, "ent_1", "u2", []string{id}, storetest.T0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkAcked(ctx, "ent_2", "u1", notices[1], storetest.T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	imageSame(t, s, "preferences, declarations, readings", users...)
	if p, states, _ := s.FeedParent(ctx, "ent_1", "u2"); len(states) != 3 || p.Children[0].Class != "CE1" {
		t.Fatalf("u2: %+v %+v", p, states)
	}

	sync("ent_1", time.Hour,
		store.Parent{ENTUserID: "u1", Children: []store.Child{kid("12:3", store.Enrolment{Cantine: no}), kid("CM2", store.Enrolment{GarderieMatin: yes})}},
		store.Parent{ENTUserID: "u2"},
		store.Parent{ENTUserID: "u3", Children: []store.Child{kid("GS", store.Enrolment{Transport: yes})}})
	if err := s.SetPreferences(ctx, "ent_1", "u1", "fr", nil, nil); err != nil {
		t.Fatal(err)
	}
	imageSame(t, s, "second sync, preferences cleared", users...)

	if err := s.DeleteParent(ctx, "ent_1", "u2", store.AuditEntry{At: storetest.T0, Action: "parents.erase"}); err != nil {
		t.Fatal(err)
	}
	imageSame(t, s, "erasure", users...)
	sync("ent_1", 2*time.Hour, store.Parent{ENTUserID: "u2", Children: []store.Child{kid("CE2", store.Enrolment{Etudes: no})}})
	imageSame(t, s, "synced after the erasure", users...)

	// The first notice expires: purged, its read states go with it, in
	// the image too.
	if _, err := s.MarkRead(ctx, "ent_1", "u1", notices, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeNotices(ctx, storetest.T0.Add(90*time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	imageSame(t, s, "purge", users...)
	if _, states, _ := s.FeedParent(ctx, "ent_1", "u1"); len(states) != 2 || states[0].NoticeID != notices[1] {
		t.Fatalf("u1's states after the purge: %+v", states)
	}

	// Many parents, in batches larger than a loader's and a build's step;
	// then the store opened again builds its image from the file.
	var many []store.Parent
	for i := range 2500 {
		many = append(many, store.Parent{ENTUserID: fmt.Sprintf("m%04d", i), Children: []store.Child{kid(fmt.Sprintf("C%d", i%7), store.Enrolment{Cantine: yes})}})
		if i%50 == 0 {
			users = append(users, "ent_1/"+many[i].ENTUserID)
		}
	}
	sync("ent_1", 3*time.Hour, many...)
	imageSame(t, s, "large batch", users...)
}

// TestFeedImageBuiltOnOpen: a store opened on an existing database builds
// its image from it: every parent (more than a build step) is read from
// the image, and one who does not exist is known not to be there.
func TestFeedImageBuiltOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []store.Parent
	var users []string
	school, level := benchFeedSchool(2)
	for i := range imageBuildStep + 300 {
		ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("p%05d", i), Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}})
		if i%97 == 0 {
			users = append(users, "ent_1/"+ps[i].ENTUserID)
		}
	}
	if _, err := s.UpsertParents(ctx, "ent_1", ps, storetest.T0, store.AuditEntry{At: storetest.T0, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, dir)
	imageSame(t, s, "reopened", append(users, "ent_1/p99999", "ent_1/"+ps[len(ps)-1].ENTUserID)...)
}

// TestFeedImageReadsItsOwnWrites: a write is in what FeedParent answers
// as soon as it returns — while the loader reads other parents again and
// other writes go on — for readings, acknowledgements, preferences and
// syncs (what a parent sees right after marking a notice read, or an ENT
// after syncing).
func TestFeedImageReadsItsOwnWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	school, level := benchFeedSchool(1)
	var notices []string
	for i := range 8 {
		notices = append(notices, feedNotice(t, s, 1, fmt.Sprintf("ntc_%d", i), storetest.T0.Add(time.Hour)))
	}
	const parents = 40
	var ps []store.Parent
	for i := range parents {
		ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("u%02d", i), Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}})
	}
	a := store.AuditEntry{At: storetest.T0, Action: "parents.upsert"}
	if _, err := s.UpsertParents(ctx, "ent_1", ps, storetest.T0, a); err != nil {
		t.Fatal(err)
	}
	waitImage(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	// Each worker owns parents i ≡ w (mod 4): reads, acks, locales and
	// classes, each checked at once.
	for w := range 4 {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			read := map[string]int{}
			for round := range 150 {
				u := fmt.Sprintf("u%02d", w+4*rng.IntN(parents/4))
				var check func(p store.Parent, states []store.ReadState) bool
				switch round % 4 {
				case 0:
					id := notices[rng.IntN(len(notices))]
					if _, err := s.MarkRead(ctx, "ent_1", u, []string{id}, storetest.T0); err != nil {
						errs <- err
						return
					}
					read[u+id]++
					check = func(_ store.Parent, states []store.ReadState) bool {
						return slices.ContainsFunc(states, func(st store.ReadState) bool { return st.NoticeID == id && st.ReadAt != nil })
					}
				case 1:
					id := notices[rng.IntN(len(notices))]
					if _, err := s.MarkAcked(ctx, "ent_1", u, id, storetest.T0); err != nil {
						errs <- err
						return
					}
					check = func(_ store.Parent, states []store.ReadState) bool {
						return slices.ContainsFunc(states, func(st store.ReadState) bool { return st.NoticeID == id && st.AckAt != nil })
					}
				case 2:
					loc := []string{"fr", "en", "es"}[rng.IntN(3)]
					if err := s.SetPreferences(ctx, "ent_1", u, loc, nil, nil); err != nil {
						errs <- err
						return
					}
					check = func(p store.Parent, _ []store.ReadState) bool { return p.Locale == loc }
				case 3:
					class := fmt.Sprintf("C%d", round)
					p := store.Parent{ENTUserID: u, Children: []store.Child{{UAI: school, Level: level, Class: class}}}
					if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{p}, storetest.T0.Add(time.Duration(round)*time.Second), a); err != nil {
						errs <- err
						return
					}
					check = func(p store.Parent, _ []store.ReadState) bool {
						return len(p.Children) == 1 && p.Children[0].Class == class
					}
				}
				p, states, err := s.FeedParent(ctx, "ent_1", u)
				if err != nil {
					errs <- err
					return
				}
				if !check(p, states) {
					errs <- fmt.Errorf("round %d, %s: FeedParent does not show the write that returned: %+v %+v", round, u, p, states)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var users []string
	for _, p := range ps {
		users = append(users, "ent_1/"+p.ENTUserID)
	}
	imageSame(t, s, "after the races", users...)
}

// TestFeedImageErasureLeavesNoBytes: an erased parent's record is
// overwritten in the image's memory at once: neither their ID nor their
// child's class is found in it.
func TestFeedImageErasureLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	school, level := benchFeedSchool(1)
	a := store.AuditEntry{At: storetest.T0, Action: "parents.upsert"}
	if _, err := s.UpsertParents(ctx, "ent_1", []store.Parent{
		{ENTUserID: "erase-me-4f2a", Children: []store.Child{{UAI: school, Level: level, Class: "CLASSE-UNIQUE-77"}}},
		{ENTUserID: "stays", Children: []store.Child{{UAI: school, Level: level, Class: "CP"}}},
	}, storetest.T0, a); err != nil {
		t.Fatal(err)
	}
	imageSame(t, s, "synced", "ent_1/erase-me-4f2a", "ent_1/stays")
	inImage := func(b string) bool {
		s.img.mu.RLock()
		defer s.img.mu.RUnlock()
		for _, c := range s.img.chunks {
			if bytes.Contains(c[:cap(c)], []byte(b)) {
				return true
			}
		}
		return false
	}
	if !inImage("erase-me-4f2a") || !inImage("CLASSE-UNIQUE-77") {
		t.Fatal("the test looks for bytes the image never held")
	}
	if err := s.DeleteParent(ctx, "ent_1", "erase-me-4f2a", store.AuditEntry{At: storetest.T0, Action: "parents.erase"}); err != nil {
		t.Fatal(err)
	}
	if inImage("erase-me-4f2a") || inImage("CLASSE-UNIQUE-77") {
		t.Fatal("the erased parent's record is still in the image's memory")
	}
	imageSame(t, s, "erased", "ent_1/erase-me-4f2a", "ent_1/stays")
}

// TestFeedImageOverItsLimit: an image too small for every parent holds
// what fits and says it is not complete; every parent — held or not — is
// still read as the database says, and one who does not exist is not
// found.
func TestFeedImageOverItsLimit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, FeedImage(4<<10))
	school, level := benchFeedSchool(1)
	var ps []store.Parent
	var users []string
	for i := range 200 {
		ps = append(ps, store.Parent{ENTUserID: fmt.Sprintf("u%03d", i), Children: []store.Child{{UAI: school, Level: level, Class: fmt.Sprintf("C%d", i)}}})
		users = append(users, "ent_1/"+ps[i].ENTUserID)
	}
	if _, err := s.UpsertParents(ctx, "ent_1", ps, storetest.T0, store.AuditEntry{At: storetest.T0, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
	if waitImage(t, s) {
		t.Fatal("an image over its limit says it is complete")
	}
	held := 0
	for _, u := range append(users, "ent_1/nobody") {
		ent, user, _ := strings.Cut(u, "/")
		found, absent, _ := s.img.read(ent, user, func([]byte) error { return nil })
		if found {
			held++
		}
		if absent {
			t.Fatalf("%s: an incomplete image says a parent does not exist", u)
		}
		want, wantStates, wantErr := s.feedParent(ctx, ent, user)
		p, states, err := s.FeedParent(ctx, ent, user)
		if wantErr != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: %v", u, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(p, want) || !reflect.DeepEqual(states, wantStates) {
			t.Fatalf("%s: %+v %v, want %+v", u, p, err, want)
		}
	}
	if held == 0 || held == len(users) {
		t.Fatalf("%d of %d parents in a 4 KiB image", held, len(users))
	}
}

// TestFeedImageTable: the image's table against a map, through
// insertions, replacements, removals (backward-shift deletion), growth
// and compactions.
func TestFeedImageTable(t *testing.T) {
	defer func(n int64) { imageCompactAt = n }(imageCompactAt)
	imageCompactAt = 64 << 10
	m := newFeedImage()
	model := map[parentKey][]byte{}
	rng := rand.New(rand.NewPCG(5, 6))
	ents := []string{"ent_a", "ent_b", "ent_c"}
	compactions := 0
	for op := range 60000 {
		k := parentKey{ents[rng.IntN(len(ents))], fmt.Sprintf("user-%d", rng.IntN(5000))}
		if rng.IntN(3) == 0 {
			before := m.garbage
			if e, ok := m.ents[k.ent]; ok {
				m.remove(e, k.user)
			}
			if m.garbage < before {
				compactions++
			}
			delete(model, k)
			continue
		}
		before := m.garbage
		rows := []byte(strings.Repeat(fmt.Sprintf("%d;", op), 1+rng.IntN(20)))
		if !m.put(k, rows) {
			t.Fatal("put refused under the limit")
		}
		if m.garbage < before {
			compactions++
		}
		model[k] = rows
	}
	if compactions == 0 {
		t.Fatal("no compaction ran")
	}
	if m.count != len(model) {
		t.Fatalf("%d records, want %d", m.count, len(model))
	}
	for k, want := range model {
		i := m.find(m.ents[k.ent], k.user)
		if i < 0 {
			t.Fatalf("%v lost", k)
		}
		if _, _, rows := m.record(m.slots[i]); !bytes.Equal(rows, want) {
			t.Fatalf("%v: %q, want %q", k, rows, want)
		}
	}
	for _, e := range ents {
		if m.find(m.ents[e], "user-5000") >= 0 {
			t.Fatal("a key never put is found")
		}
	}
}
