package sealed

import (
	"bytes"
	"encoding/base64"
	"testing"
)

var secret = Keys{Current: bytes.Repeat([]byte("k"), 32)}

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
	if _, err := New(Keys{Current: secret.Current[:31]}, "x"); err == nil {
		t.Error("a 31-byte secret accepted")
	}
}

// A rotation: the box of the new key with the old one as previous opens
// the values and accepts the tokens the old box made, and makes only new
// ones; once the old key is dropped, its values and tokens are refused.
// A previous key alone (no current one) makes no box.
func TestRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte("o"), 32), bytes.Repeat([]byte("n"), 32)
	before, _ := New(Keys{Current: oldKey}, "parent-session")
	during, err := New(Keys{Current: newKey, Previous: oldKey}, "parent-session")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := New(Keys{Current: newKey}, "parent-session")
	type v struct{ ID string }
	old, _ := before.Seal(v{"old"}, nil)
	oldTok := before.Token("form", "sid")
	var got v
	if err := during.Open(old, nil, &got); err != nil || got.ID != "old" {
		t.Fatalf("during the rotation, a value of the previous key: %+v, %v", got, err)
	}
	if !during.Check(oldTok, "form", "sid") {
		t.Error("during the rotation, a token of the previous key refused")
	}
	resealed, _ := during.Seal(got, nil)
	if before.Open(resealed, nil, &got) == nil {
		t.Error("a value sealed during the rotation opens with the previous key: it was not sealed with the new one")
	}
	if err := after.Open(resealed, nil, &got); err != nil {
		t.Errorf("a value sealed during the rotation does not open with the new key alone: %v", err)
	}
	if during.Token("form", "sid") == oldTok || !after.Check(during.Token("form", "sid"), "form", "sid") {
		t.Error("tokens made during the rotation are not the new key's")
	}
	if after.Open(old, nil, &got) == nil || after.Check(oldTok, "form", "sid") {
		t.Error("the previous key dropped, its values or tokens still accepted")
	}
	if _, err := New(Keys{Previous: oldKey}, "x"); err == nil {
		t.Error("a box with only a previous key")
	}
}

func TestKeysFrom(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := KeysFrom(k, "")
	if err != nil || len(keys.Current) != 32 || keys.Previous != nil {
		t.Fatalf("KeysFrom(NewKey()): %v, %v", keys, err)
	}
	if _, err := KeysFrom("", ""); err == nil {
		t.Error("no key accepted")
	}
	if _, err := KeysFrom(k, "c2hvcnQ="); err == nil {
		t.Error("a 5-byte previous key accepted")
	}
}
