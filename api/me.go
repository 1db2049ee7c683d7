package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/store"
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
	id := parentOf(c)
	v := meView{ENTID: id.ENT.ID, ENTUserID: id.UserID, Children: []childView{}, Locale: "fr", Muted: []string{}}
	p, err := s.store.GetParent(c.UserContext(), id.ENT.ID, id.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.Message = notSyncedMessage(Lang(c))
	case err != nil:
		return err
	default:
		v.Synced, v.Children = true, viewAll(p.Children, viewChild)
		if p.Locale != "" {
			v.Locale = p.Locale
		}
		if p.Muted != nil {
			v.Muted = p.Muted
		}
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(v)
}

func notSyncedMessage(lang string) string {
	if lang == "en" {
		return "Your ENT has not yet told Liaison which school your children attend: no notice can reach you yet. Contact your ENT's support if this lasts."
	}
	return "Votre ENT n'a pas encore indiqué à Liaison l'école de vos enfants : aucune information ne peut encore vous parvenir. Contactez l'assistance de votre ENT si cela dure."
}
