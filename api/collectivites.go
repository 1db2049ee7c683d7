package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// Collectivités (app/collectivites.go decides who sees which).

func (s *Server) createCollectivite(c *fiber.Ctx) error {
	var req app.CreateCollectiviteRequest
	if err := readJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	col, err := s.app.CreateCollectivite(c.UserContext(), principal(c), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewCollectivite(col))
}

// listCollectivites: operators see all; admins and agents their own;
// viewers none.
func (s *Server) listCollectivites(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	res, err := s.app.ListCollectivites(c.UserContext(), principal(c), p)
	if err != nil {
		return err
	}
	return c.JSON(pageOf(viewAll(res.Items, viewCollectivite), res.Next))
}

func (s *Server) getCollectivite(c *fiber.Ctx) error {
	col, err := s.app.GetCollectivite(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(viewCollectivite(col))
}
