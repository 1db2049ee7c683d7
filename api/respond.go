package api

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/store"
)

var jsonMarshal = json.Marshal

// Page sizes for every listing.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// created is a creation handler's body: the JSON body decoded into a Req,
// create run for the caller, 201 with view of what it made.
func created[Req, Res, V any](s *Server, c *fiber.Ctx, create func(context.Context, *app.Principal, Req) (Res, error), view func(Res) V) error {
	return answered(s, c, fiber.StatusCreated, nil, create, view)
}

// answered is the body of a handler that acts on a JSON request: the body
// decoded into a Req, at (when not nil) setting what the path names, uc
// run for the caller, status with view of its result.
func answered[Req, Res, V any](s *Server, c *fiber.Ctx, status int, at func(*Req), uc func(context.Context, *app.Principal, Req) (Res, error), view func(Res) V) error {
	res, err := decoded(c, s.cfg.BodyLimit, at, uc)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(view(res))
}

// decoded decodes the JSON body (at most limit bytes) into a Req, lets at
// (when not nil) set what the path names, and runs uc for the caller.
func decoded[Req, Res any](c *fiber.Ctx, limit int, at func(*Req), uc func(context.Context, *app.Principal, Req) (Res, error)) (Res, error) {
	var req Req
	if err := readJSON(c, limit, &req); err != nil {
		var none Res
		return none, err
	}
	if at != nil {
		at(&req)
	}
	return uc(c.UserContext(), principal(c), req)
}

// onID is uc on the resource the path's :id names.
func onID[Req, Res any](c *fiber.Ctx, uc func(context.Context, *app.Principal, string, Req) (Res, error)) func(context.Context, *app.Principal, Req) (Res, error) {
	return func(ctx context.Context, p *app.Principal, req Req) (Res, error) {
		return uc(ctx, p, c.Params("id"), req)
	}
}

// listed is a paged listing handler's body: ?limit= and ?cursor= read,
// list run for the caller, its page answered with view of each item.
func listed[T, V any](c *fiber.Ctx, list func(context.Context, *app.Principal, store.Page) (app.Page[T], error), view func(T) V) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	res, err := list(c.UserContext(), principal(c), p)
	if err != nil {
		return err
	}
	return c.JSON(pageOf(viewAll(res.Items, view), res.Next))
}

// pageOf is a listing page with the next page's cursor ("": the last).
func pageOf[T any](items []T, next string) list[T] {
	l := newList(items, 0, func(T) string { return "" })
	l.NextCursor = next
	return l
}

// pageParams reads ?limit= and ?cursor=.
func pageParams(c *fiber.Ctx) (store.Page, error) {
	p := store.Page{Cursor: c.Query("cursor"), Limit: defaultPageSize}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, app.Err(app.CodeRequestInvalidQuery, app.NewDetail("limit", "query.limit",
				"« limit » doit être un nombre entre 1 et 200.", "\"limit\" must be a number between 1 and 200."))
		}
		p.Limit = n
	}
	if len(p.Cursor) > 200 {
		return p, app.Err(app.CodeRequestInvalidQuery, app.NewDetail("cursor", "query.cursor",
			"Curseur de pagination invalide.", "Invalid pagination cursor."))
	}
	return p, nil
}

// list is the shape of every listing: items and the cursor of the next page
// (absent on the last page).
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// newList builds a page; more is true when a further page may exist.
func newList[T any](items []T, limit int, cursorOf func(T) string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if len(items) == limit && limit > 0 {
		l.NextCursor = cursorOf(items[len(items)-1])
	}
	return l
}
