package app

import (
	"strings"
	"testing"
)

// Rule 7: figures counted in devices (what became of the pushes) are
// given from 50 devices, rounded down to 50 — a family may have 10
// devices, so 6 muted pushes can be one family's choice — while figures
// of families keep 5. A figure of devices given always stands for 5
// families at least, and so does any difference of them.
func TestSmallGroupsDevices(t *testing.T) {
	fam, dev := smallGroups{}, smallGroups{devices: true}
	val := func(f Figure) int {
		if f.Value == nil {
			return -1
		}
		return *f.Value
	}
	for _, c := range []struct {
		r    smallGroups
		n    int
		want int // -1: withheld
	}{
		{fam, 0, 0}, {fam, 4, -1}, {fam, 5, 5}, {fam, 9, 5}, {fam, 49, 45},
		{dev, 0, 0}, {dev, 1, -1}, {dev, 6, -1}, {dev, 41, -1}, {dev, 49, -1}, {dev, 50, 50}, {dev, 99, 50}, {dev, 120, 100},
	} {
		if got := val(c.r.part(c.n)); got != c.want {
			t.Errorf("devices %v, %d: %d, want %d", c.r.devices, c.n, got, c.want)
		}
	}
	if l := dev.part(120).Label; l.FR != "100 à 149" || l.EN != "100 to 149" {
		t.Errorf("label %+v", l)
	}
	if l := dev.part(12).Label; !strings.HasPrefix(l.FR, "moins de 50 appareils") || !strings.HasPrefix(l.EN, "fewer than 50 devices") {
		t.Errorf("withheld label %+v", l)
	}
	// 100 devices pushed, 94 accepted and 6 muted (one family's choice):
	// the 6 are withheld, and so is the 94, which would give them.
	whole := dev.part(100)
	figs := dev.partition(whole, 94, 6)
	if figs[0].Value != nil || figs[1].Value != nil {
		t.Errorf("100 = 94 + 6 devices: %d, %d given", val(figs[0]), val(figs[1]))
	}
	// 160 = 100 + 60: both given, rounded to 50.
	figs = dev.partition(dev.part(160), 100, 60)
	if val(figs[0]) != 100 || val(figs[1]) != 50 {
		t.Errorf("160 = 100 + 60 devices: %d, %d", val(figs[0]), val(figs[1]))
	}
	// A part whose whole has 1 to 49 devices more (« au moins »): not the
	// exact figure.
	if f := dev.part(70, dev.part(110)); f.Value != nil {
		t.Errorf("70 of 110 devices (40 apart): %d given", val(f))
	}
}
