package api

import (
	"encoding/json"
	"testing"
)

// Review of issue 11, item 4: /reach lists the groups « not reached »
// (where to hand out paper). For a group whose figures are withheld — 3
// families here — whether it is on that list must not depend on what
// those families did: it listed the group while one of them had not read
// the notice and dropped it once all had, telling whether 1 to 4 known
// families had read it (with one family in a group: whether that family
// did). The whole answer must be the same before and after they read.
func TestNotReachedListOfSmallGroupSaysNothing(t *testing.T) {
	p := newPublishing(t)
	tok := p.agents["restauration"]
	body := simpleNotice("cantine", "Menu", uaiA1, uaiA2)
	body["audience"].(map[string]any)["classes"] = []string{"MS", "CP"} // A1 MS: 12 families; A2 CP: 3
	id := p.publish(t, "restauration", body)
	// 6 of A1's families read it (its figures change, as they may).
	for _, u := range []string{"p0", "p1", "p2", "p3", "p4", "p5"} {
		p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil))
	}
	reach := func() (reachView, map[string]string) {
		var rv reachView
		p.must(200, p.do("GET", "/v1/notices/"+id+"/reach", tok, nil)).Decode(t, &rv)
		out := map[string]string{}
		for _, g := range append(rv.Groups, rv.NotReached...) {
			if g.UAI == uaiA2 {
				b, _ := json.Marshal(g)
				out[g.UAI] += string(b)
			}
		}
		return rv, out
	}
	before, smallBefore := reach()
	if len(before.Groups) != 2 || before.Groups[1].UAI != uaiA2 || before.Groups[1].Families.Value != nil {
		t.Fatalf("groups %+v: want A1 and A2's CP, A2's withheld", before.Groups)
	}
	// The 3 CP families read it.
	for _, u := range []string{"p20", "p21", "p22"} {
		p.must(200, p.do("POST", "/v1/me/feed/"+id+"/read", p.parentToken(t, u), nil))
	}
	after, smallAfter := reach()
	if smallBefore[uaiA2] != smallAfter[uaiA2] {
		t.Errorf("what /reach says of A2's 3 families changed when they read the notice:\nbefore %s\nafter  %s", smallBefore[uaiA2], smallAfter[uaiA2])
	}
	if len(before.NotReached) != len(after.NotReached) {
		t.Errorf("not reached: %d groups before the 3 families read, %d after", len(before.NotReached), len(after.NotReached))
	}
}
