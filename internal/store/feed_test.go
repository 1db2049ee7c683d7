package store

import (
	"errors"
	"testing"
)

// A document unchanged since the last call is not decoded again; a changed
// one is; a call that failed midway leaves the last complete call's memo.
func TestNoticeMemo(t *testing.T) {
	var m NoticeMemo
	decodes := 0
	round := func(docs map[string]string, fail bool) map[string]string {
		m.Begin()
		out := map[string]string{}
		for id, raw := range docs {
			n, _ := m.Decode(id, []byte(raw), func() (Notice, error) { decodes++; return Notice{ID: id, Title: raw}, nil })
			out[id] = n.Title
		}
		m.End(!fail)
		return out
	}
	round(map[string]string{"a": "v1", "b": "v1"}, false)
	if decodes != 2 {
		t.Fatalf("first call: %d decodes", decodes)
	}
	got := round(map[string]string{"a": "v1", "b": "v2"}, false)
	if decodes != 3 || got["a"] != "v1" || got["b"] != "v2" {
		t.Fatalf("second call: %d decodes, %v", decodes, got)
	}
	round(map[string]string{"a": "v9"}, true) // failed: not kept
	round(map[string]string{"a": "v1"}, false)
	if decodes != 4 {
		t.Fatalf("after a failed call: %d decodes, want 4 (a v1 still known)", decodes)
	}
	m.Begin()
	if _, err := m.Decode("x", []byte("bad"), func() (Notice, error) { return Notice{}, errors.New("bad doc") }); err == nil {
		t.Fatal("a decode error is not returned")
	}
	m.End(false)
}
