package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz: the process is up.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz: the store answers within two seconds.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("store not ready", "error", err)
		return apiErr("service.unavailable")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) version(c *fiber.Ctx) error {
	storeKind := "sqlite"
	if !s.cfg.Embedded() {
		storeKind = "mongodb"
	}
	return c.JSON(fiber.Map{"version": Version, "store": storeKind})
}
