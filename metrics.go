package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// registerStoreMetrics adds the embedded store's feed image to /metrics:
// how many parents it holds, the memory it takes, the parents waiting to
// be read again and whether it is complete (a sysadmin sizes
// LIAISON_FEED_IMAGE_MIB from these).
func registerStoreMetrics(reg prometheus.Registerer, st store.Store) {
	img, ok := st.(interface {
		FeedImageStats() (sqlite.FeedImageStats, bool)
	})
	if !ok {
		return
	}
	if _, on := img.FeedImageStats(); !on {
		return
	}
	gauge := func(name, help string, v func(sqlite.FeedImageStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			s, _ := img.FeedImageStats()
			return v(s)
		})
	}
	for _, c := range []prometheus.Collector{
		gauge("liaison_feed_image_parents", "Parents held in the embedded store's feed image.",
			func(s sqlite.FeedImageStats) float64 { return float64(s.Parents) }),
		gauge("liaison_feed_image_bytes", "Memory the feed image takes (LIAISON_FEED_IMAGE_MIB bounds its records).",
			func(s sqlite.FeedImageStats) float64 { return float64(s.Bytes) }),
		gauge("liaison_feed_image_pending", "Parents written and waiting to be read into the feed image again.",
			func(s sqlite.FeedImageStats) float64 { return float64(s.Pending) }),
		gauge("liaison_feed_image_complete", "1 when the feed image holds every parent (0 while it builds, or when LIAISON_FEED_IMAGE_MIB is too small).",
			func(s sqlite.FeedImageStats) float64 {
				if s.Complete {
					return 1
				}
				return 0
			}),
	} {
		_ = reg.Register(c)
	}
}
