package api

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// healthz: the process is up.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// storageFailWindow is how long /readyz stays 503 after a request met a
// store that could not serve.
const storageFailWindow = 30 * time.Second

// storageFailed records that a request met a store that could not serve.
func (s *Server) storageFailed() { s.storageFailedAt.Store(s.now().UnixNano()) }

// errRecentStorageFailure: requests failed for want of storage lately.
var errRecentStorageFailure = errors.New("requests met a store that could not serve in the last 30 s")

// readyz: the store answers and accepts a write within two seconds, and no
// request met a store that could not serve in the last storageFailWindow —
// a full disk or a primary that refuses writes makes the instance not
// ready, where a ping alone still answered (a small write may still find
// room in SQLite's WAL when a larger one no longer does, hence both).
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	err := s.store.Ping(ctx)
	if err == nil {
		err = s.store.CheckWritable(ctx)
	}
	if err == nil {
		if at := s.storageFailedAt.Load(); at != 0 && s.now().Sub(time.Unix(0, at)) < storageFailWindow {
			err = errRecentStorageFailure
		}
	}
	if err != nil {
		s.log.Warn("store not ready", "error", err)
		c.Set(fiber.HeaderRetryAfter, storageRetryAfter)
		return app.StorageUnavailable()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) version(c *fiber.Ctx) error {
	storeKind := "sqlite"
	if !s.cfg.Embedded() {
		storeKind = "mongodb"
	}
	return c.JSON(fiber.Map{"version": Version, "store": storeKind})
}
