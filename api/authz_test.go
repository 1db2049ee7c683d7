package api

import (
	"fmt"
	"testing"
)

// TestAuthorizationMatrix: for each role × action, the expected answer.
// Cross-collectivité attempts are refused (B's staff on A's notices).
func TestAuthorizationMatrix(t *testing.T) {
	p := newPublishing(t)
	var agentB accountCreated
	p.must(201, p.do("POST", "/v1/accounts", p.adminB, map[string]any{"role": "agent", "name": "Agent cantine B", "services": []string{"restauration"}})).Decode(t, &agentB)
	viewerA := p.seedAccount(storeAccountViewer(uaiA1))
	viewerB := p.seedAccount(storeAccountViewer(uaiB1))
	parent := p.parentToken(t, "p0")
	// Lift the daily quota (an amendment) so that every row can publish.
	amended := conventionJSON(p.communeA)
	amended["limits"] = map[string]any{"max_validity_days": 31}
	amended["reason"] = "Avenant : pas de quota"
	p.must(201, p.do("POST", "/v1/conventions/"+p.conventionID+"/amendments", p.operator, amended))

	type expect struct{ publish, check, correct, withdraw, read, conventions int }
	rows := []struct {
		role  string
		token string
		want  expect
	}{
		{"operator", p.operator, expect{403, 403, 403, 403, 200, 201}},
		{"admin of A", p.adminA1, expect{403, 403, 403, 200, 200, 403}},
		{"admin of B", p.adminB, expect{403, 403, 403, 404, 404, 403}},
		{"agent restauration of A", p.agents["restauration"], expect{201, 200, 200, 200, 200, 403}},
		{"agent transport of A", p.agents["transport"], expect{403, 200, 403, 403, 200, 403}},
		{"agent enfance_jeunesse of A", p.agents["enfance_jeunesse"], expect{403, 200, 403, 403, 200, 403}},
		{"agent technique of A", p.agents["technique"], expect{403, 200, 403, 403, 200, 403}},
		{"agent culture of A", p.agents["culture"], expect{403, 200, 403, 403, 200, 403}},
		{"agent communication of A", p.agents["communication"], expect{403, 200, 403, 403, 200, 403}},
		{"agent elus of A", p.agents["elus"], expect{403, 200, 403, 403, 200, 403}},
		{"agent restauration of B", agentB.Token, expect{403, 200, 404, 404, 404, 403}},
		{"viewer of A1", viewerA, expect{403, 403, 403, 403, 200, 403}},
		{"viewer of B1", viewerB, expect{403, 403, 403, 403, 404, 403}},
		{"ENT key", p.entKey, expect{401, 401, 401, 401, 401, 401}},
		{"parent token", parent, expect{401, 401, 401, 401, 401, 401}},
		{"no token", "", expect{401, 401, 401, 401, 401, 401}},
	}
	author := p.agents["restauration"]
	for i, row := range rows {
		t.Run(row.role, func(t *testing.T) {
			// A fresh notice of A's restauration service for each row.
			notice := cantineNotice()
			notice["title"] = fmt.Sprintf("Menu n° %d", i)
			n := p.published(t, author, notice)
			id := n.Notice.ID
			got := expect{
				publish:     p.do("POST", "/v1/notices", row.token, cantineNotice()).Status,
				check:       p.do("POST", "/v1/notices/check", row.token, cantineNotice()).Status,
				correct:     p.do("POST", "/v1/notices/"+id+"/corrections", row.token, map[string]any{"reason": "Coquille", "title": "Menu corrigé"}).Status,
				withdraw:    p.do("POST", "/v1/notices/"+id+"/withdraw", row.token, map[string]any{"reason": "Retrait"}).Status,
				read:        p.do("GET", "/v1/notices/"+id, row.token, nil).Status,
				conventions: p.do("POST", "/v1/conventions", row.token, conventionJSON(p.communeB)).Status,
			}
			if got != row.want {
				t.Errorf("got  %+v\nwant %+v", got, row.want)
			}
		})
	}
}
