package api

import "github.com/gofiber/fiber/v2"

// Schools (app/collectivites.go decides who sees which).

func (s *Server) createSchool(c *fiber.Ctx) error {
	return created(s, c, s.app.CreateSchool, viewSchool)
}

// listSchools: operators see all; admins and agents the schools of their
// territory; viewers the schools they are bound to.
func (s *Server) listSchools(c *fiber.Ctx) error { return listed(c, s.app.ListSchools, viewSchool) }
