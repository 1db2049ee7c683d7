package conventions_test

import (
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

func TestNextPushTimeDST(t *testing.T) {
	qh := &c.QuietHours{From: "20:00", To: "07:30"}
	cases := []struct {
		name string
		at   string
		want string
	}{
		// Spring change, night of 27 to 28 March 2027 (02:00 CET → 03:00 CEST).
		{"evening before spring change", "2027-03-27T20:00:00Z", "2027-03-28T05:30:00Z"}, // 21:00 CET → 07:30 CEST, 9 h 30 later (not 10 h 30)
		{"just before quiet hours", "2027-03-27T18:59:59Z", "2027-03-27T18:59:59Z"},      // 19:59:59 CET
		{"start of quiet hours", "2027-03-27T19:00:00Z", "2027-03-28T05:30:00Z"},         // 20:00 CET
		{"01:30 CET", "2027-03-28T00:30:00Z", "2027-03-28T05:30:00Z"},
		{"03:30 CEST", "2027-03-28T01:30:00Z", "2027-03-28T05:30:00Z"},
		{"07:29:59 CEST", "2027-03-28T05:29:59Z", "2027-03-28T05:30:00Z"},
		{"07:30 CEST", "2027-03-28T05:30:00Z", "2027-03-28T05:30:00Z"},
		{"evening after spring change", "2027-03-28T18:00:00Z", "2027-03-29T05:30:00Z"}, // 20:00 CEST
		{"19:59 CEST", "2027-03-28T17:59:00Z", "2027-03-28T17:59:00Z"},
		// Autumn change, night of 30 to 31 October 2027 (03:00 CEST → 02:00 CET).
		{"evening before autumn change", "2027-10-30T19:00:00Z", "2027-10-31T06:30:00Z"}, // 21:00 CEST → 07:30 CET, 11 h 30 later (not 10 h 30)
		{"first 02:30 (CEST)", "2027-10-31T00:30:00Z", "2027-10-31T06:30:00Z"},
		{"second 02:30 (CET)", "2027-10-31T01:30:00Z", "2027-10-31T06:30:00Z"},
		{"07:29 CET", "2027-10-31T06:29:00Z", "2027-10-31T06:30:00Z"},
		{"08:00 CET", "2027-10-31T07:00:00Z", "2027-10-31T07:00:00Z"},
		{"20:00 CET", "2027-10-31T19:00:00Z", "2027-11-01T06:30:00Z"},
		// New year's eve crossing months and years.
		{"new year", "2026-12-31T22:00:00Z", "2027-01-01T06:30:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := utc(tc.at)
			got := c.NextPushTime(qh, "normal", false, at)
			if !got.Equal(utc(tc.want)) {
				t.Errorf("NextPushTime(%v = %v Paris) = %v, want %v", at, at.In(c.Paris()), got.UTC(), tc.want)
			}
			if in := qh.Contains(at); in != !got.Equal(at) {
				t.Errorf("Contains = %v", in)
			}
			if got.Location() != c.Paris() && !got.Equal(at) {
				t.Errorf("location %v", got.Location())
			}
		})
	}
	night := utc("2027-03-27T22:00:00Z")
	if got := c.NextPushTime(qh, "urgent", false, night); !got.Equal(night) {
		t.Error("urgent pushes are not exempt")
	}
	if got := c.NextPushTime(qh, "normal", true, night); !got.Equal(night) {
		t.Error("critical pushes are not exempt")
	}
	if got := c.NextPushTime(nil, "normal", false, night); !got.Equal(night) {
		t.Error("nil quiet hours delay")
	}
}

func TestQuietHoursShapes(t *testing.T) {
	day := func(h, m int) time.Time { return paris(2027, time.June, 1, h, m, 0) }
	lunch := c.QuietHours{From: "12:00", To: "14:00"}
	if got := lunch.NextPush(day(12, 0)); !got.Equal(day(14, 0)) {
		t.Errorf("lunch 12:00 → %v", got)
	}
	if got := lunch.NextPush(day(14, 0)); !got.Equal(day(14, 0)) {
		t.Errorf("lunch 14:00 → %v", got)
	}
	if got := lunch.NextPush(day(11, 59)); !got.Equal(day(11, 59)) {
		t.Errorf("lunch 11:59 → %v", got)
	}
	none := c.QuietHours{From: "00:00", To: "00:00"}
	if none.Contains(day(3, 0)) {
		t.Error("empty window contains 03:00")
	}
	bad := c.QuietHours{From: "8pm", To: "7"}
	if bad.Valid() || !bad.Contains(day(23, 0)) || bad.Contains(day(12, 0)) {
		t.Error("invalid quiet hours must fall back to the default window")
	}
	for _, s := range []string{"24:00", "00:00", "23:59"} {
		if !(c.QuietHours{From: s, To: "07:00"}).Valid() {
			t.Errorf("%s invalid", s)
		}
	}
	for _, s := range []string{"24:01", "7:30", "07h30", "12:60", ""} {
		if (c.QuietHours{From: s, To: "07:00"}).Valid() {
			t.Errorf("%q valid", s)
		}
	}
}

func TestDecisionPushAt(t *testing.T) {
	conv := saintFuscien()
	at := utc("2027-03-27T20:00:00Z") // 21:00 CET
	req := c.Request{Now: at, Service: "restauration", Category: "cantine", Schools: []string{mat}, Push: true}
	d := c.Decide(conv, req)
	if got := d.PushAt(at); !got.Equal(utc("2027-03-28T05:30:00Z")) {
		t.Errorf("PushAt = %v", got)
	}
	req.Service, req.Category, req.Priority = "technique", "batiment", "urgent"
	d = c.Decide(conv, req)
	if got := d.PushAt(at); !got.Equal(at) {
		t.Errorf("urgent PushAt = %v", got)
	}
	req.Push = false
	if got := c.Decide(conv, req).PushAt(at); !got.IsZero() {
		t.Errorf("no push PushAt = %v", got)
	}
}
