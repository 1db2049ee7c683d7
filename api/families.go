package api

import (
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/ttlcache"
)

// Family counts ("reaches N families") are asked for by every check and
// publication, and counting distinct parents over a large directory costs
// tens of milliseconds. They are cached per audience for a few seconds;
// a directory change made through this process empties the cache at once
// (other processes' changes show within the TTL). What is cached is what
// the small-group rule needs (familyCount, reach.go).
const familyCacheTTL = 10 * time.Second

type familyCache struct {
	counts ttlcache.Cache[string, familyCount]
}

func audienceKey(a store.Audience) string {
	norm := func(xs []string) string {
		c := slices.Clone(xs)
		slices.Sort(c)
		return strings.Join(c, ",")
	}
	return norm(a.Schools) + "|" + norm(a.Levels) + "|" + norm(frenchid.NormalizeClasses(a.Classes))
}

// directoryChanged invalidates every cached count.
func (s *Server) directoryChanged() { s.app.DirectoryChanged() }
