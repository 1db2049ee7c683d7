package sqlite

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// A batch's items are stored in a compact binary form: a claim decodes
// hundreds of them, and encoding/json spent more CPU on that than SQLite
// on the claim itself. The form is itemsV1, then per item its fields in
// order: SubscriptionID, Endpoint, P256dh, Auth, Result (uvarint length +
// bytes), Attempts, Status (uvarint), FirstAt, NotBefore (varint Unix
// nanoseconds, 0 for the zero time), Shrunk (one byte). A blob that starts
// with '[' is the JSON array earlier versions wrote, and is still read.
const itemsV1 = 0x01

var errItems = errors.New("store: malformed push batch items")

// appendItems appends the binary form of items to b.
func appendItems(b []byte, items []store.PushItem) []byte {
	b = append(b, itemsV1)
	for i := range items {
		it := &items[i]
		for _, s := range [...]string{it.SubscriptionID, it.Endpoint, it.P256dh, it.Auth, it.Result} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(max(it.Attempts, 0)))
		b = binary.AppendUvarint(b, uint64(max(it.Status, 0)))
		b = binary.AppendVarint(b, unixNano(it.FirstAt))
		b = binary.AppendVarint(b, unixNano(it.NotBefore))
		shrunk := byte(0)
		if it.Shrunk {
			shrunk = 1
		}
		b = append(b, shrunk)
	}
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decodeItems reads what appendItems wrote (or a JSON array). The strings
// of all items share one allocation.
func decodeItems(b []byte) ([]store.PushItem, error) {
	if len(b) == 0 || b[0] == '[' {
		var docs []pushItemDoc
		err := json.Unmarshal(b, &docs)
		return pushItemModels(docs), err
	}
	if b[0] != itemsV1 {
		return nil, errItems
	}
	all := string(b) // one copy; the items' strings are slices of it
	p := 1
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b[p:])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	str := func() (string, bool) {
		l, ok := uv()
		if !ok || l > uint64(len(b)-p) {
			return "", false
		}
		s := all[p : p+int(l)]
		p += int(l)
		return s, true
	}
	var items []store.PushItem
	for p < len(b) {
		var it store.PushItem
		ok := true
		for _, f := range [...]*string{&it.SubscriptionID, &it.Endpoint, &it.P256dh, &it.Auth, &it.Result} {
			var okf bool
			*f, okf = str()
			ok = ok && okf
		}
		attempts, ok1 := uv()
		status, ok2 := uv()
		if !ok || !ok1 || !ok2 || attempts > 1<<31 || status > 1<<31 {
			return nil, errItems
		}
		it.Attempts, it.Status = int(attempts), int(status)
		for _, f := range [...]*time.Time{&it.FirstAt, &it.NotBefore} {
			v, n := binary.Varint(b[p:])
			if n <= 0 {
				return nil, errItems
			}
			p += n
			*f = fromUnixNano(v)
		}
		if p >= len(b) || b[p] > 1 {
			return nil, errItems
		}
		it.Shrunk = b[p] == 1
		p++
		if items == nil {
			items = make([]store.PushItem, 0, len(b)/(p-1))
		}
		items = append(items, it)
	}
	if items == nil {
		items = []store.PushItem{}
	}
	return items, nil
}
