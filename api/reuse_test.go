package api

import (
	"encoding/json"
	"testing"
)

// GET /v1/notices/{id}/draft is a body to POST to /v1/notices: the same
// notice, or with next_week=true its menu one week on; nothing is
// published by asking. Another service's agent is refused, a bad
// next_week is a 400 naming it.
func TestNoticeDraft(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	ans := p.published(t, tok, cantineNotice())
	id := ans.Notice.ID

	var draft map[string]any
	p.must(200, p.do("GET", "/v1/notices/"+id+"/draft?next_week=true", tok, nil)).Decode(t, &draft)
	days := draft["content"].(map[string]any)["menu"].(map[string]any)["days"].([]any)
	if draft["title"] != "Menus du 30 novembre au 4 décembre" || days[0].(map[string]any)["date"] != "2026-12-07" ||
		days[1].(map[string]any)["date"] != "2026-12-09" || days[1].(map[string]any)["no_service"] != true {
		b, _ := json.Marshal(draft)
		t.Fatalf("draft: %s", b)
	}
	var list struct {
		Items []any `json:"items"`
	}
	p.must(200, p.do("GET", "/v1/notices", tok, nil)).Decode(t, &list)
	before := len(list.Items)
	again := p.published(t, tok, draft)
	if again.Notice.ID == id {
		t.Fatal("the draft published as the model")
	}
	p.must(200, p.do("GET", "/v1/notices", tok, nil)).Decode(t, &list)
	if len(list.Items) != before+1 {
		t.Fatalf("%d notices, then %d", before, len(list.Items))
	}

	if r := p.do("GET", "/v1/notices/"+id+"/draft", p.agents["culture"], nil); r.Status != 403 {
		t.Fatalf("another service's agent: %d %s", r.Status, r.Body)
	}
	p.must(400, p.do("GET", "/v1/notices/"+id+"/draft?next_week=oui", tok, nil))
	p.must(404, p.do("GET", "/v1/notices/ntc_nope/draft", tok, nil))
}
