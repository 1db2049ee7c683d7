package app

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// The daily summary among a parent's choices: per category, a push each,
// one summary a day, or the feed only; a category is never both muted and
// summarized; critical categories cannot wait for the summary; nothing is
// saved when the request is refused.
func TestPreferencesDigest(t *testing.T) {
	f := newParentFixture(t)
	ctx := context.Background()
	p, err := f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Digest: &[]string{"cantine", "culture"}, Muted: &[]string{"batiment"}})
	if err != nil || !slices.Equal(p.Digest, []string{"cantine", "culture"}) || !slices.Equal(p.Muted, []string{"batiment"}) {
		t.Fatalf("summary chosen: %+v %v", p, err)
	}
	cat := func(p Preferences, code string) CategoryPreference {
		i := slices.IndexFunc(p.Categories, func(c CategoryPreference) bool { return c.Code == code })
		if i < 0 {
			t.Fatalf("no category %s", code)
		}
		return p.Categories[i]
	}
	if c := cat(p, "cantine"); !c.Digest || c.Muted {
		t.Fatalf("cantine: %+v", c)
	}
	if c := cat(p, "batiment"); c.Digest || !c.Muted {
		t.Fatalf("batiment: %+v", c)
	}
	// Muting a summarized category moves it out of the summary, and the
	// reverse.
	p, err = f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Muted: &[]string{"batiment", "culture"}})
	if err != nil || !slices.Equal(p.Digest, []string{"cantine"}) || !slices.Equal(p.Muted, []string{"batiment", "culture"}) {
		t.Fatalf("culture muted: %+v %v", p, err)
	}
	p, err = f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Digest: &[]string{"cantine", "batiment"}})
	if err != nil || !slices.Equal(p.Digest, []string{"cantine", "batiment"}) || !slices.Equal(p.Muted, []string{"culture"}) {
		t.Fatalf("batiment summarized: %+v %v", p, err)
	}
	// Refused, nothing saved: both at once; a critical category.
	var e *Error
	_, err = f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Muted: &[]string{"transport"}, Digest: &[]string{"cantine", "transport"}})
	if !errors.As(err, &e) || e.Code != CodeRequestValidationFailed || len(e.Details) != 1 || e.Details[0].Field != "digest[1]" ||
		e.Details[0].Code != "preferences.muted_and_digest" {
		t.Fatalf("muted and summarized: %v", err)
	}
	_, err = f.a.SetPreferences(ctx, f.ent1u1, PreferencesRequest{Digest: &[]string{"alerte"}})
	if !errors.As(err, &e) || e.Code != CodePreferencesCriticalCategory || len(e.Details) != 1 || e.Details[0].Field != "digest[0]" {
		t.Fatalf("alerts summarized: %v", err)
	}
	p, err = f.a.Preferences(ctx, f.ent1u1)
	if err != nil || !slices.Equal(p.Digest, []string{"cantine", "batiment"}) || !slices.Equal(p.Muted, []string{"culture"}) {
		t.Fatalf("after the refusals: %+v %v", p, err)
	}
	if c := cat(p, "alerte"); c.Digest || c.Mutable {
		t.Fatalf("alerte: %+v", c)
	}
}
