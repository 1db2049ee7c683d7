package api

import (
	"testing"

	"github.com/liaison-ent/liaison/app"
)

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
