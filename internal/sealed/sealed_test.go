package sealed

import (
	"bytes"
	"encoding/base64"
	"testing"
)

var secret = bytes.Repeat([]byte("k"), 32)

// A sealed value opens only with the same box and purpose, unchanged; a
// box of another label (the back-office's vs the parent page's) opens
// nothing of the other's and makes other tokens.
func TestSealOpenAndTokens(t *testing.T) {
	admin, err := New(secret, "admin-session")
	if err != nil {
		t.Fatal(err)
	}
	parent, _ := New(secret, "parent-session")
	type v struct{ ID string }
	s, err := admin.Seal(v{"abc"}, []byte("session"))
	if err != nil {
		t.Fatal(err)
	}
	var got v
	if err := admin.Open(s, []byte("session"), &got); err != nil || got.ID != "abc" {
		t.Fatalf("open: %+v, %v", got, err)
	}
	if admin.Open(s, []byte("pending"), &got) == nil {
		t.Error("opened for another purpose")
	}
	if parent.Open(s, []byte("session"), &got) == nil {
		t.Error("the parent page's box opened a back-office value")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(s)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 1
		if admin.Open(base64.RawURLEncoding.EncodeToString(bad), []byte("session"), &got) == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	tok := admin.Token("form", "sid")
	if !admin.Check(tok, "form", "sid") || admin.Check(tok, "form", "other") || parent.Check(tok, "form", "sid") ||
		admin.Check("", "form", "sid") || admin.Check(admin.Token("form", ""), "form", "") {
		t.Error("tokens: a token matched what it was not made for, or an empty one matched")
	}
	if _, err := New(secret[:31], "x"); err == nil {
		t.Error("a 31-byte secret accepted")
	}
}
