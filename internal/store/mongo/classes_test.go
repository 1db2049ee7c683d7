package mongo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/storetest"
)

// TestClassesStoredBeforeNormalisation: parents written by a version that
// kept classes as the ENT spelt them (" cm1 ", "Cm1") are matched by
// every audience query of a notice to "CM1" — counts, cells, subscribed
// families and the push fan-out — without a migration (MongoDB compares
// in Go, normalising both sides).
func TestClassesStoredBeforeNormalisation(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const uai = "0750001A"
	at := storetest.T0
	var ps []store.Parent
	for _, u := range []string{"u1", "u2", "u3"} {
		ps = append(ps, store.Parent{ENTUserID: u, Children: []store.Child{{UAI: uai, Level: "elementaire", Class: "CM2"}}})
	}
	if _, err := s.UpsertParents(ctx, "ent_1", ps, at, store.AuditEntry{At: at, Action: "parents.upsert"}); err != nil {
		t.Fatal(err)
	}
	for id, class := range map[string]string{"ent_1/u1": " cm1 ", "ent_1/u2": "Cm1"} {
		_, err := s.Database().Collection("parents").UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "children", Value: bson.A{bson.D{{Key: "uai", Value: uai}, {Key: "level", Value: "elementaire"}, {Key: "class", Value: class}}}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"u1", "u3"} {
		sub := store.PushSubscription{ID: "psb_" + u, ENTID: "ent_1", ENTUserID: u, Endpoint: "https://push.example/" + u,
			P256dh: "BPk", Auth: "auth", CreatedAt: at, RefreshedAt: at}
		if _, _, err := s.UpsertPushSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	aud := store.Audience{Schools: []string{uai}, Classes: []string{"CM1"}}
	if n, err := s.CountFamilies(ctx, aud); err != nil || n != 2 {
		t.Fatalf("CountFamilies = %d, %v; want 2", n, err)
	}
	cells, err := s.AudienceCells(ctx, store.Audience{Schools: []string{uai}})
	if err != nil || len(cells) != 2 || cells[0].Class != "CM1" || cells[0].Families != 2 {
		t.Fatalf("AudienceCells = %+v, %v; want CM1: 2, CM2: 1", cells, err)
	}
	if n, err := s.CountFamiliesIn(ctx, store.Audience{}, cells[:1]); err != nil || n != 2 {
		t.Fatalf("CountFamiliesIn(CM1) = %d, %v; want 2", n, err)
	}
	if n, err := s.CountSubscribedFamilies(ctx, aud); err != nil || n != 1 {
		t.Fatalf("CountSubscribedFamilies = %d, %v; want 1", n, err)
	}
	n := store.Notice{ID: "ntc_1", Version: 1, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "elus", Category: "alerte",
		Priority: "urgent", Critical: true, Title: "Alerte", Audience: aud, PublishAt: at, ExpiresAt: at.Add(time.Hour), Push: true,
		Status: store.NoticePublished, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateNotice(ctx, n, store.AuditEntry{At: at, Action: "notice.publish"}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartFanout(ctx, store.PushFanout{NoticeID: n.ID, Version: 1, Category: n.Category, Audience: aud, Critical: true, PushAt: at, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		if done, err = s.FanoutStep(ctx, n.ID, 1, 10, at); err != nil {
			t.Fatal(err)
		}
	}
	var items []store.PushItem
	for {
		b, err := s.ClaimPushBatch(ctx, "w1", at, time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, b.Items...)
	}
	if len(items) != 1 || items[0].SubscriptionID != "psb_u1" {
		t.Fatalf("pushes of a critical alert to CM1: %+v, want psb_u1's", items)
	}
}
