package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/liaison-ent/liaison/internal/store"
)

// Seed writes new parents of an ENT and their push subscriptions in a few
// insert commands, the documents UpsertParents and UpsertPushSubscription
// would write one by one (a test seam: on FerretDB v1 every upsert costs a
// scan or a round trip, so thousands of them take minutes).
func Seed(ctx context.Context, s *Store, entID string, parents []store.Parent, subs []store.PushSubscription, now time.Time) error {
	if err := s.ensurePushIndexes(ctx); err != nil {
		return err
	}
	now = msUTC(now)
	pdocs := make([]any, len(parents))
	for i, p := range parents {
		pdocs[i] = parentDoc{ID: parentID(entID, p.ENTUserID), ENTID: entID, ENTUserID: p.ENTUserID, Children: childDocs(p.Children),
			Locale: p.Locale, Muted: p.Muted, UpdatedAt: now}
	}
	sdocs := make([]any, len(subs))
	for i, sub := range subs {
		sdocs[i] = subscriptionDoc{ID: sub.ID, Parent: parentID(sub.ENTID, sub.ENTUserID), ENTID: sub.ENTID, ENTUserID: sub.ENTUserID,
			Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth, CreatedAt: now, RefreshedAt: now}
	}
	for coll, docs := range map[string][]any{collParents: pdocs, collPushSubscriptions: sdocs} {
		for lo := 0; lo < len(docs); lo += s.bulkChunk {
			hi := min(lo+s.bulkChunk, len(docs))
			if _, err := s.coll(coll).InsertMany(ctx, docs[lo:hi], options.InsertMany().SetOrdered(false)); err != nil {
				return err
			}
		}
	}
	return nil
}
