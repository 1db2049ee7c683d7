package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// TestPushItemsEncoding: the binary form gives back every field (times to
// the nanosecond, zero times zero), the JSON of earlier versions is still
// read, and a cut or altered blob is refused, never half read.
func TestPushItemsEncoding(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 30, 1, 123456789, time.UTC)
	items := []store.PushItem{
		{SubscriptionID: "psb_1", Endpoint: "https://fcm.googleapis.com/fcm/send/abc", P256dh: "BPk", Auth: "au"},
		{SubscriptionID: "psb_2", Endpoint: "https://push.example/é", Attempts: 3, FirstAt: at, NotBefore: at.Add(time.Minute),
			Shrunk: true, Result: "transient", Status: 503},
		{SubscriptionID: "psb_3", Result: "delivered", Status: 201, Attempts: 1, FirstAt: at},
	}
	b := appendItems(nil, items)
	got, err := decodeItems(b)
	if err != nil || !reflect.DeepEqual(got, items) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, items)
	}
	if got, err := decodeItems(appendItems(nil, nil)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no items: %#v %v", got, err)
	}
	js, _ := json.Marshal(newPushItemDocs(items)) // as earlier versions wrote them
	if got, err := decodeItems(js); err != nil || !reflect.DeepEqual(got, items) {
		t.Errorf("JSON: %v %+v", err, got)
	}
	for n := 1; n < len(b); n++ {
		if got, err := decodeItems(b[:n]); err == nil && len(got) == len(items) {
			t.Errorf("cut at %d of %d: read %d items", n, len(b), len(got))
		}
	}
	bad := append([]byte{0x02}, b[1:]...)
	if _, err := decodeItems(bad); err == nil {
		t.Error("unknown version read")
	}
}

func BenchmarkDecodeItems(b *testing.B) {
	items := make([]store.PushItem, 500)
	for i := range items {
		items[i] = store.PushItem{SubscriptionID: "psb_01JD0000000000000000000000", Endpoint: "https://fcm.googleapis.com/fcm/send/" + string(rune('a'+i%26)) + "dGhpcyBpcyBhIGZha2UgdG9rZW4gb2YgYSBwdXNoIHN1YnNjcmlwdGlvbiBlbmRwb2ludCB0aGF0IGlzIGxvbmc",
			P256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", Auth: "tBHItJI5svbpez7KI4CCXg"}
	}
	js, _ := json.Marshal(newPushItemDocs(items)) // as earlier versions wrote them
	bin := appendItems(nil, items)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out []store.PushItem
			if err := json.Unmarshal(js, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeItems(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}
