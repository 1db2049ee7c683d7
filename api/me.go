package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// meView tells a parent what Liaison knows of them: only opaque ids and
// their children's schools, levels and classes.
type meView struct {
	ENTID     string      `json:"ent_id"`
	ENTUserID string      `json:"ent_user_id"`
	Synced    bool        `json:"synced"`
	Message   string      `json:"message,omitempty"`
	Children  []childView `json:"children"`
	Locale    string      `json:"locale"`
	Muted     []string    `json:"muted"`
}

// getMe is GET /v1/me. A parent the ENT has not synced yet is told so.
func (s *Server) getMe(c *fiber.Ctx) error {
	me, err := s.app.Me(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	v := meView{ENTID: me.ENTID, ENTUserID: me.ENTUserID, Synced: me.Synced, Children: viewAll(me.Children, viewChild),
		Locale: me.Locale, Muted: me.Muted}
	if v.Children == nil {
		v.Children = []childView{}
	}
	if !me.Synced {
		v.Message = app.NotSynced.In(Lang(c))
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(v)
}
