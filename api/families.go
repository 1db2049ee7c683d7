package api

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// Family counts ("reaches N families") are asked for by every check and
// publication, and counting distinct parents over a large directory costs
// tens of milliseconds. They are cached per audience for a few seconds;
// a directory change made through this process empties the cache at once
// (other processes' changes show within the TTL).
const (
	familyCacheTTL  = 10 * time.Second
	familyCacheSize = 10000
)

type familyCache struct {
	gen     atomic.Uint64
	mu      sync.Mutex
	entries map[string]familyEntry
}

type familyEntry struct {
	n   int
	at  time.Time
	gen uint64
}

func audienceKey(a store.Audience) string {
	norm := func(xs []string) string {
		c := slices.Clone(xs)
		slices.Sort(c)
		return strings.Join(c, ",")
	}
	return norm(a.Schools) + "|" + norm(a.Levels) + "|" + strings.ToUpper(norm(a.Classes))
}

// directoryChanged invalidates every cached count.
func (s *Server) directoryChanged() { s.families.gen.Add(1) }

// countFamilies counts the families an audience reaches, from the cache
// when fresh.
func (s *Server) countFamilies(ctx context.Context, a store.Audience) (int, error) {
	fc := &s.families
	key, gen, now := audienceKey(a), fc.gen.Load(), time.Now()
	fc.mu.Lock()
	e, ok := fc.entries[key]
	fc.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < familyCacheTTL {
		return e.n, nil
	}
	n, err := s.store.CountFamilies(ctx, a)
	if err != nil {
		return 0, err
	}
	fc.mu.Lock()
	if fc.entries == nil || len(fc.entries) >= familyCacheSize {
		fc.entries = make(map[string]familyEntry)
	}
	fc.entries[key] = familyEntry{n: n, at: now, gen: gen}
	fc.mu.Unlock()
	return n, nil
}
