package api

import (
	"encoding/json"
	"time"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/ttlcache"
)

// The feed's caches (the parents, their read states, the notices in feeds,
// ENTs and names) are the application layer's (app/feedcache.go), shared
// with every front end. The API keeps only the JSON of feed notices.

// encodedTTL bounds how long a notice version's JSON is kept (a
// correction is a new version; a withdrawal removes it from feeds).
const encodedTTL = 10 * time.Minute

// feedCaches are the Server's caches of feed answers.
type feedCaches struct {
	encoded ttlcache.Cache[encodedKey, []byte] // feed notices' JSON
}

// encodedKey identifies the JSON of a feed notice: a notice version as
// last changed (an attachment added or removed keeps the version) and
// published by a collectivité of that name.
type encodedKey struct {
	id      string
	version int
	updated int64 // UpdatedAt, Unix ns
	name    string
}

func newFeedCaches() *feedCaches {
	return &feedCaches{encoded: ttlcache.Cache[encodedKey, []byte]{TTL: encodedTTL}}
}

// encodedNotice returns the JSON of a feed notice, encoded once per notice
// version (a correction is a new version; a withdrawal removes it from
// feeds) and publisher name.
func (s *Server) encodedNotice(n *app.FeedNotice) ([]byte, error) {
	k := encodedKey{n.ID, n.Version, n.UpdatedAt.UnixNano(), n.CollectiviteName}
	return s.caches.encoded.Fetch(k, nil, func() ([]byte, error) { return json.Marshal(viewFeedNotice(n)) })
}
