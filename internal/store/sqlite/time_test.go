package sqlite

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestToTimeAsTimeParse: the stored-time reader answers what time.Parse
// answers — the same instant (and location) for every time fromTime
// writes, and an error for what it refuses (a day past its month's end,
// hour 24, second 60, a letter, a wrong separator, a length off by one).
func TestToTimeAsTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var cases []string
	for range 20000 {
		at := time.Unix(rng.Int64N(1<<34)-1<<33, rng.Int64N(1e9))
		cases = append(cases, fromTime(at))
	}
	cases = append(cases, "2024-02-29T12:00:00.000000000Z", "2023-02-29T12:00:00.000000000Z", "2026-04-31T00:00:00.000000000Z",
		"2026-12-31T24:00:00.000000000Z", "2026-12-31T23:59:60.000000000Z", "2026-13-01T00:00:00.000000000Z", "2026-00-01T00:00:00.000000000Z",
		"2026-12-00T00:00:00.000000000Z", "2026-12-06T08:00:00.00000000aZ", "2026-12-06 08:00:00.000000000Z", "2026-12-06T08:00:00.000000000",
		"2026-12-06T08:00:00.0000000000Z", "-026-12-06T08:00:00.000000000Z", "0000-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z", "")
	for _, c := range cases {
		got, gotErr := toTime(c)
		want, wantErr := time.Parse(timeLayout, c)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %v %v, time.Parse %v %v", c, got, gotErr, want, wantErr)
		}
	}
}
