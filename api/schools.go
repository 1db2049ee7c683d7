package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// Schools (app/collectivites.go decides who sees which).

func (s *Server) createSchool(c *fiber.Ctx) error {
	var req app.CreateSchoolRequest
	if err := readJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	sc, err := s.app.CreateSchool(c.UserContext(), principal(c), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewSchool(sc))
}

// listSchools: operators see all; admins and agents the schools of their
// territory; viewers the schools they are bound to.
func (s *Server) listSchools(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	res, err := s.app.ListSchools(c.UserContext(), principal(c), p)
	if err != nil {
		return err
	}
	return c.JSON(pageOf(viewAll(res.Items, viewSchool), res.Next))
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
