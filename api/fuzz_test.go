package api

import (
	"testing"

	"github.com/liaison-ent/liaison/app"
)

// FuzzParentsCSV: any CSV body gives parents or line-numbered errors,
// never a panic, and every parent's children have their line numbers.
func FuzzParentsCSV(f *testing.F) {
	f.Add([]byte("ent_user_id,uai,level,class\np1,0801001D,maternelle,MS\np1,0801002E,elementaire,CE2\n"))
	f.Add([]byte("\xef\xbb\xbfp1,0801001D,maternelle\n\n\"p2\",0801001D,maternelle,\"M\"\"S\"\n"))
	f.Add([]byte("a,b\n\"unterminated"))
	served := map[string]bool{"0801001D": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		parents, lines, _ := parseParentsCSV(data)
		if len(lines) != len(parents) {
			t.Fatalf("%d parents, %d line lists", len(parents), len(lines))
		}
		for i, p := range parents {
			if len(lines[i]) != len(p.Children) {
				t.Fatalf("parent %d: %d children, %d lines", i, len(p.Children), len(lines[i]))
			}
			_ = checkParent(p, served)
		}
	})
}

// FuzzNoticeRequest: any body gives a decoded, validated request or a
// catalog error, never a panic.
func FuzzNoticeRequest(f *testing.F) {
	f.Add([]byte(`{"category":"cantine","title":"Menus","audience":{"schools":["0801001D"]},"expires_at":"2026-11-27T18:00:00+01:00"}`))
	f.Add([]byte(`{"category":"transport","title":"Bus","audience":{"schools":["0801001d"],"classes":["CP"]},"expires_at":"2026-11-27T18:00:00Z","content":{"transport":{"line":"12","stops":["a"]}}}`))
	f.Add([]byte(`{"title":null,"audience":{"schools":[1]}}`))
	a := app.New(app.Deps{})
	f.Fuzz(func(t *testing.T, body []byte) {
		var req app.PublishRequest
		if err := strictUnmarshal(body, &req); err != nil {
			if _, ok := err.(*app.Error); !ok {
				t.Fatalf("not a catalog error: %T %v", err, err)
			}
			return
		}
		if err := a.Validate(&req); err != nil {
			if _, ok := err.(*app.Error); !ok {
				t.Fatalf("not a catalog error: %T %v", err, err)
			}
			return
		}
		_ = app.ContentDetails(req.Category, req.Content)
	})
}
