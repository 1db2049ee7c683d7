package api

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// PUT /v1/me/preferences with digest: the daily summary per category,
// stored, shown per category; muted and summarized at once refused with a
// French sentence (English on request), nothing saved; a critical category
// cannot wait for the summary.
func TestPreferencesDigest(t *testing.T) {
	p := newPublishing(t)
	tok := p.parentToken(t, "p0")
	var v preferencesView
	p.must(200, p.do("GET", "/v1/me/preferences", tok, nil)).Decode(t, &v)
	if v.Digest == nil || len(v.Digest) != 0 {
		t.Fatalf("default summary: %+v", v.Digest)
	}
	p.must(200, p.do("PUT", "/v1/me/preferences", tok, map[string]any{"digest": []string{"cantine", "culture"}, "muted": []string{"etudes"}})).Decode(t, &v)
	sameStrings(t, "digest", v.Digest, []string{"cantine", "culture"})
	i := slices.IndexFunc(v.Categories, func(c categoryPref) bool { return c.Code == "cantine" })
	if i < 0 || !v.Categories[i].Digest || v.Categories[i].Muted {
		t.Fatalf("cantine: %+v", v.Categories)
	}
	par, err := p.st.GetParent(context.Background(), p.entID, "p0")
	if err != nil || !slices.Equal(par.Digest, []string{"cantine", "culture"}) || !slices.Equal(par.Muted, []string{"etudes"}) {
		t.Fatalf("stored: %+v %v", par, err)
	}
	r := p.do("PUT", "/v1/me/preferences", tok, map[string]any{"digest": []string{"transport"}, "muted": []string{"transport"}})
	if r.Status != 422 || r.ErrorCode(t) != "request.validation_failed" ||
		!strings.Contains(string(r.Body), "ne peut pas être à la fois désactivée et dans le résumé quotidien") {
		t.Fatalf("muted and summarized: %d %s", r.Status, r.Body)
	}
	r = p.do("PUT", "/v1/me/preferences", tok, map[string]any{"digest": []string{"alerte"}}, "Accept-Language: en")
	if r.Status != 422 || r.ErrorCode(t) != "preferences.critical_category" || !strings.Contains(string(r.Body), "cannot wait for the daily summary") {
		t.Fatalf("alerts summarized: %d %s", r.Status, r.Body)
	}
	for _, bad := range []map[string]any{{"digest": []string{"meteo"}}, {"digest": []string{"culture", "culture"}}, {"digest": "cantine"}} {
		if r := p.do("PUT", "/v1/me/preferences", tok, bad); r.Status != 422 && r.Status != 400 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	if par, _ := p.st.GetParent(context.Background(), p.entID, "p0"); !slices.Equal(par.Digest, []string{"cantine", "culture"}) {
		t.Fatalf("a refused PUT changed the preferences: %+v", par)
	}
}
