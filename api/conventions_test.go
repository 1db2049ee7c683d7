package api

import (
	"strings"
	"testing"
)

// A draft without signatures yet shows empty lists, never null.
func TestDraftConventionLists(t *testing.T) {
	f := newFixture(t)
	body := conventionJSON(f.communeA)
	delete(body, "signatories")
	r := f.must(201, f.do("POST", "/v1/conventions", f.operator, body))
	if !strings.Contains(string(r.Body), `"signatories":[]`) {
		t.Fatalf("signatories not an empty list: %s", r.Body)
	}
	var cv conventionView
	r.Decode(t, &cv)
	r = f.must(200, f.do("GET", "/v1/conventions/"+cv.ID, f.operator, nil))
	if strings.Contains(string(r.Body), "null") {
		t.Fatalf("null in a convention: %s", r.Body)
	}
	// Not activable without the three signatures.
	r = f.do("POST", "/v1/conventions/"+cv.ID+"/activate", f.operator, nil)
	if r.Status != 422 || !strings.Contains(string(r.Body), "activation.missing_signatory") {
		t.Fatalf("activation without signatures: %d %s", r.Status, r.Body)
	}
}

// Viewers read the conventions of their schools only; agents none.
func TestConventionReaders(t *testing.T) {
	p := newPublishing(t)
	viewerA := p.seedAccount(storeAccountViewer(uaiA1))
	viewerB := p.seedAccount(storeAccountViewer(uaiB1))
	if r := p.do("GET", "/v1/conventions/"+p.conventionID, viewerA, nil); r.Status != 200 {
		t.Fatalf("viewer of A1 reading A's convention: %d", r.Status)
	}
	if r := p.do("GET", "/v1/conventions/"+p.conventionID, viewerB, nil); r.Status != 404 {
		t.Fatalf("viewer of B1 reading A's convention: %d", r.Status)
	}
	if r := p.do("GET", "/v1/conventions/"+p.conventionID, p.adminB, nil); r.Status != 404 {
		t.Fatalf("admin of B reading A's convention: %d", r.Status)
	}
	if r := p.do("GET", "/v1/conventions", p.agents["culture"], nil); r.Status != 403 {
		t.Fatalf("agent listing conventions: %d", r.Status)
	}
	var l list[conventionView]
	p.must(200, p.do("GET", "/v1/conventions", viewerB, nil)).Decode(t, &l)
	if len(l.Items) != 0 {
		t.Fatalf("viewer of B1 lists %d conventions", len(l.Items))
	}
}
