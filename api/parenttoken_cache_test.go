package api

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Parents asking one after another on one kept-alive connection (a
// school's proxy, a carrier's NAT) each get their own answer, also once
// the verified-token cache has moved their tokens between its
// generations: a token read from the request buffer, which the next
// request reuses, is never what the cache keeps (before, the cache kept
// the reader's key on a promotion, and once its map grew that key
// answered for the next parent's token with the first parent's identity:
// another family's children and feed).
func TestParentTokensOnOneConnectionKeepTheirIdentity(t *testing.T) {
	f := newFixture(t)
	const n, hot = 1000, 40
	var ps []map[string]any
	for i := range n {
		ps = append(ps, map[string]any{"ent_user_id": fmt.Sprintf("u%03d", i),
			"children": []map[string]any{{"uai": uaiA1, "level": "maternelle", "class": fmt.Sprintf("CLASSE-%03d", i)}}})
	}
	f.must(200, f.do("PUT", "/v1/ent/parents", f.entKey, map[string]any{"parents": ps}))
	toks := make([]string, n)
	for i := range toks {
		toks[i] = mintParent(t, jwt.SigningMethodHS256, f.entSecret, f.entID, fmt.Sprintf("u%03d", i), f.clock.Now().Add(30*time.Minute))
	}
	// A small cache: its generations turn over every hundred tokens or so,
	// and its maps grow (their keys placed again) within each.
	f.app.ParentTokens().MaxBytes = 64 << 10
	base := serveLocal(t, f.testServer)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	// Half the requests from a few parents who poll, half from the rest.
	rng := rand.New(rand.NewPCG(1, 2))
	const requests = 2000
	wrong := 0
	for k := range requests {
		i := rng.IntN(n)
		if k%2 == 0 {
			i = rng.IntN(hot)
		}
		req, _ := http.NewRequest("GET", base+"/v1/me/enrolments", nil)
		req.Header.Set("Authorization", "Bearer "+toks[i])
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("u%03d: %d %s", i, res.StatusCode, b)
		}
		if !strings.Contains(string(b), fmt.Sprintf(`"CLASSE-%03d"`, i)) {
			if wrong++; wrong <= 3 {
				t.Errorf("request %d, u%03d was answered another family's children: %.300s", k, i, b)
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d answers of %d gave a parent another parent's identity", wrong, requests)
	}
}
