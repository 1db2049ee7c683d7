package webpush

import (
	"encoding/base64"
	"testing"
)

func TestVAPIDKeys(t *testing.T) {
	pub, priv, err := GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	pb, err1 := base64.RawURLEncoding.DecodeString(pub)
	kb, err2 := base64.RawURLEncoding.DecodeString(priv)
	if err1 != nil || err2 != nil || len(pb) != 65 || pb[0] != 4 || len(kb) != 32 {
		t.Fatalf("generated %q %q", pub, priv)
	}
	k, err := ParseVAPIDKeys(pub, priv)
	if err != nil || k.Public != pub || k.Private != priv {
		t.Fatalf("ParseVAPIDKeys: %+v %v", k, err)
	}
	// Padded forms are accepted and normalized.
	if k2, err := ParseVAPIDKeys(base64.URLEncoding.EncodeToString(pb), base64.URLEncoding.EncodeToString(kb)); err != nil || k2 != k {
		t.Errorf("padded keys: %v", err)
	}
	pub2, priv2, _ := GenerateVAPIDKeys()
	for name, pair := range map[string][2]string{
		"mismatched":       {pub, priv2},
		"swapped":          {priv, pub},
		"empty":            {"", ""},
		"short private":    {pub, priv[:20]},
		"zero private":     {pub, base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		"not base64":       {pub2, "!!!"},
		"public off curve": {base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)), priv},
	} {
		if _, err := ParseVAPIDKeys(pair[0], pair[1]); ErrorCode(err) != CodeBadVAPIDKey {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestValidateSubject(t *testing.T) {
	for _, ok := range []string{
		"mailto:ops@liaison.example", "mailto:push+alerts@mairie-paris.fr", "https://liaison.example",
		"https://liaison.example/contact", "mailto:first.last@sub.domain.example",
	} {
		if err := ValidateSubject(ok); err != nil {
			t.Errorf("ValidateSubject(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "ops@liaison.example", "mailto:", "mailto:mailto:ops@liaison.example", "mailto:MAILTO:ops@x.example",
		"mailto:ops@localhost", "mailto:root@LOCALHOST", "mailto:ops@dev.localhost", "mailto:ops@localhost.localdomain",
		"mailto:ops@127.0.0.1", "mailto:ops@[127.0.0.1]", "mailto:@liaison.example", "mailto:ops", "mailto:a@b@c.example",
		"mailto:ops@liaison", "mailto:Ops <ops@liaison.example>", "mailto:ops@liaison.example?subject=x",
		"https://localhost", "https://localhost:8443/x", "https://127.0.0.1/", "https://[::1]/", "https://app.localhost/",
		"https://user@liaison.example/", "http://liaison.example", "https:liaison.example", "ftp://liaison.example",
	} {
		if err := ValidateSubject(bad); ErrorCode(err) != CodeBadSubject {
			t.Errorf("ValidateSubject(%q) = %v, want %s", bad, err, CodeBadSubject)
		}
	}
}
