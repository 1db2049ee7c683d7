package delivery

import (
	"context"

	"github.com/liaison-ent/liaison/internal/store"
)

// batchNotice is what a batch's pushes show: its notice, or, for a daily
// summary's batch (store.DigestBatchPrefix, written by internal/digest),
// the summary as a notice of its own — its title (« 3 nouvelles
// informations »), the listed titles as text, no category, opening the
// feed like any push. A summary gone (its parent erased) is sent to no
// one: its pushes are cancelled, as a purged notice's.
func (s *Service) batchNotice(ctx context.Context, b store.PushBatch) (store.Notice, error) {
	id, ok := store.DigestOfBatch(b.ID)
	if !ok {
		return s.nc.get(ctx, s.st, b.NoticeID, b.Version)
	}
	d, err := s.st.GetDigest(ctx, id)
	if err != nil {
		return store.Notice{}, err
	}
	return store.Notice{ID: d.ID, Version: b.Version, Title: d.Title, Body: d.Body, Priority: "normal",
		Status: store.NoticePublished, PublishAt: d.CreatedAt, ExpiresAt: d.ExpiresAt}, nil
}
