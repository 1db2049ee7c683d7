package pushtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLatencyDistribution(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	if d := (Latency{Median: 50 * time.Millisecond}).draw(rnd); d != 50*time.Millisecond {
		t.Fatalf("fixed latency drew %v", d)
	}
	if d := (Latency{}).draw(rnd); d != 0 {
		t.Fatalf("no latency drew %v", d)
	}
	l := Latency{Median: 50 * time.Millisecond, Sigma: 0.5, Max: 200 * time.Millisecond}
	ds := make([]time.Duration, 20001)
	for i := range ds {
		ds[i] = l.draw(rnd)
	}
	slices.Sort(ds)
	med, p99, top := ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1]
	if med < 47*time.Millisecond || med > 53*time.Millisecond {
		t.Errorf("median %v, want about 50 ms", med)
	}
	// exp(0.5 × 2.326) ≈ 3.2
	if p99 < 140*time.Millisecond || p99 > 180*time.Millisecond {
		t.Errorf("p99 %v, want about 160 ms", p99)
	}
	if top != 200*time.Millisecond {
		t.Errorf("longest %v, want the 200 ms cut", top)
	}
}
