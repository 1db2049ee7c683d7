package webpush

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSizeArithmetic(t *testing.T) {
	if EncryptionOverhead != 103 || MaxPayloadBytes != 2641 || MaxPayloadBytes+EncryptionOverhead != MaxBodyBytes {
		t.Fatalf("overhead %d, max payload %d", EncryptionOverhead, MaxPayloadBytes)
	}
	for n := 0; n <= MaxPayloadBytes; n++ {
		b := bodySize(n)
		if b > MaxBodyBytes || b < n+EncryptionOverhead || (b != MaxBodyBytes && b%PadBlock != 0) {
			t.Fatalf("bodySize(%d) = %d", n, b)
		}
	}
}

func TestTopic(t *testing.T) {
	seen := map[string]bool{}
	for i := range 2000 {
		id := "notice-" + strconv.Itoa(i)
		tp := Topic(id)
		if len(tp) != 32 || len(tp)%4 != 0 || !ValidTopic(tp) {
			t.Fatalf("Topic(%q) = %q", id, tp)
		}
		if strings.ContainsAny(tp, "=+/") {
			t.Fatalf("Topic(%q) = %q: not base64url", id, tp)
		}
		if seen[tp] {
			t.Fatalf("Topic collision at %q", id)
		}
		seen[tp] = true
		if Topic(id) != tp {
			t.Fatal("Topic is not deterministic")
		}
	}
	if Topic("") == "" || !ValidTopic(Topic(strings.Repeat("é", 1000))) {
		t.Error("Topic of odd ids")
	}
	for tp, want := range map[string]bool{"": false, "a": false, "ab": true, "abc": true, "abcd": true, "abcde": false,
		strings.Repeat("A", 32): true, strings.Repeat("A", 33): false, "ab=c": false, "a+bc": false, "a/bc": false, "a bc": false, "a-_c": true, "é": false} {
		if ValidTopic(tp) != want {
			t.Errorf("ValidTopic(%q) = %v", tp, !want)
		}
	}
}

func TestBuildPayload(t *testing.T) {
	p := Payload{NoticeID: "n-1", Version: 3, Category: "closure", Title: "Fermeture", Text: "Court.", URL: "https://ent.example/n/1", Receipt: "r"}
	b, err := BuildPayload(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"n-1","v":3,"c":"closure","t":"Fermeture","b":"Court.","u":"https://ent.example/n/1","r":"r"}`
	if string(b) != want {
		t.Errorf("BuildPayload = %s\nwant %s", b, want)
	}
	if cap(b) != len(b) {
		t.Error("payload has spare capacity")
	}
	// Long texts of several scripts: cut on a rune boundary, "…", ≤ bound.
	for _, unit := range []string{"a", "é", "€", "👩‍👩‍👧", "<&>\"\\", "\u2028", "x "} {
		for _, max := range []int{0, 200, 1000, MaxPayloadBytes, 10_000} {
			p.Text = strings.Repeat(unit, 5000)
			b, err := BuildPayload(p, max)
			if err != nil {
				t.Fatalf("%q/%d: %v", unit, max, err)
			}
			bound := max
			if max <= 0 || max > MaxPayloadBytes {
				bound = MaxPayloadBytes
			}
			var got Payload
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(b) > bound || !got.Truncated || !strings.HasSuffix(got.Text, "…") || !utf8.ValidString(got.Text) {
				t.Fatalf("%q/%d: %d bytes, text %q…", unit, max, len(b), got.Text[:min(20, len(got.Text))])
			}
			// Maximal: one more rune would not fit (within a unit's width).
			if len(b) < bound-len(unit)*8-8 {
				t.Errorf("%q/%d: only %d bytes used", unit, max, len(b))
			}
			if !strings.HasPrefix(p.Text, strings.TrimSuffix(got.Text, "…")) {
				t.Errorf("text is not a prefix")
			}
		}
	}
	// No room even for text: title is cut.
	p.Text, p.Title = "body", strings.Repeat("T", 500)
	b, err = BuildPayload(p, 200)
	var got Payload
	if err != nil || json.Unmarshal(b, &got) != nil || len(b) > 200 || got.Text != "" || !strings.HasSuffix(got.Title, "…") {
		t.Errorf("title cut: %s (%v)", b, err)
	}
	// An enormous URL cannot be cut.
	p.URL = "https://ent.example/" + strings.Repeat("u", 3000)
	if _, err := BuildPayload(p, 0); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("huge URL: %v", err)
	}
}

func TestShrink(t *testing.T) {
	p := Payload{NoticeID: "n-1", Title: "Titre", Text: strings.Repeat("texte ", 300), URL: "https://ent.example/n/1"}
	b, err := Shrink(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"n-1","t":"Titre","u":"https://ent.example/n/1","x":true}` {
		t.Errorf("Shrink = %s", b)
	}
	p.Title = strings.Repeat("Ü", 400)
	b, err = Shrink(p, 300)
	if err != nil || len(b) > 300 {
		t.Errorf("Shrink with a long title: %d bytes, %v", len(b), err)
	}
}
