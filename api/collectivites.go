package api

import "github.com/gofiber/fiber/v2"

// Collectivités (app/collectivites.go decides who sees which).

func (s *Server) createCollectivite(c *fiber.Ctx) error {
	return created(s, c, s.app.CreateCollectivite, viewCollectivite)
}

// listCollectivites: operators see all; admins and agents their own;
// viewers none.
func (s *Server) listCollectivites(c *fiber.Ctx) error {
	return listed(c, s.app.ListCollectivites, viewCollectivite)
}

func (s *Server) getCollectivite(c *fiber.Ctx) error {
	col, err := s.app.GetCollectivite(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(viewCollectivite(col))
}
