package main

import (
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/internal/frenchid"
)

// The bench generates its schools: at the scale of a département-wide
// syndicat (3,000 schools and more) every UAI and commune code must be
// one the API accepts, and no two schools may share a UAI (nor one of
// the six schools of the bench's own commune).
func TestBenchSchoolsValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 1; i <= 6; i++ {
		seen[worldSchoolUAI(i)] = true
	}
	for i := 0; i < maxBenchSchools; i++ {
		sc := benchSchool(i, time.Time{})
		if !frenchid.UAIValid(sc.UAI) {
			t.Fatalf("school %d: UAI %q is not valid", i, sc.UAI)
		}
		if !frenchid.INSEEValid(sc.Commune) {
			t.Fatalf("school %d: commune %q is not an INSEE code", i, sc.Commune)
		}
		if seen[sc.UAI] {
			t.Fatalf("school %d: UAI %q given twice", i, sc.UAI)
		}
		seen[sc.UAI] = true
	}
}

// A school count the bench cannot make is refused before anything is
// set up, with the range it can.
func TestBenchSchoolsOutOfRangeRefused(t *testing.T) {
	for _, n := range []int{0, -1, maxBenchSchools + 1} {
		err := feedBench(t.TempDir(), 10, n, 10, 5, 1, 1, "go", "", "", false, false)
		if err == nil || !strings.Contains(err.Error(), "-feed-schools must be between 1 and 20000") {
			t.Errorf("%d schools: %v, want the range refused", n, err)
		}
	}
}
