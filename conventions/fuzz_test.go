package conventions_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	c "github.com/liaison-ent/liaison/conventions"
)

// FuzzDecide feeds arbitrary conventions (as JSON) and requests to Decide,
// Capabilities, ValidateConvention, CheckActivation and the quiet hours: none
// may panic, and every decision must be consistent.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(exampleJSON), "culture", "culture", "urgent", "0801002E", "elementaire", "CE2", true, false, int64(1792000000), int64(0), int64(86400), 3)
	f.Add([]byte(exampleJSON), "restauration", "cantine", "", "0801001D", "", "", true, true, int64(1806000000), int64(3600), int64(-5), 0)
	f.Add([]byte(`{"status":"active","schools":["x"],"valid_from":"0001-01-01","valid_until":"9999-12-31","limits":{"quiet_hours":{"from":"99:99","to":""}},"rules":[{"services":["elus"],"categories":["alerte"],"max_priority":"x","max_validity_days":-4}]}`),
		"elus", "alerte", "normal", "x", "lycee", "", true, false, int64(-62135596800), int64(1<<62), int64(-1<<62), -7)
	f.Add([]byte(`{}`), "", "", "", "", "", "", false, false, int64(0), int64(0), int64(0), 0)
	f.Fuzz(func(t *testing.T, convJSON []byte, service, category, priority, school, level, class string,
		push, ack bool, nowUnix, pubOff, expOff int64, count int) {
		var conv c.Convention
		if err := json.Unmarshal(convJSON, &conv); err != nil {
			return
		}
		if conv.Status == "" {
			conv.Status = c.StatusActive
		}
		now := time.Unix(nowUnix%(1<<40), 0)
		r := c.Request{
			Now: now, Service: service, Category: category, Priority: priority,
			Schools: strings.Split(school, ","), Push: push, AckRequired: ack,
			PublishedToday: map[string]int{school: count},
		}
		if level != "" {
			r.Levels = []c.Level{c.Level(level)}
		}
		if class != "" {
			r.Classes = []string{class}
		}
		if pubOff != 0 {
			r.PublishAt = now.Add(time.Duration(pubOff))
		}
		if expOff != 0 {
			r.ExpiresAt = now.Add(time.Duration(expOff))
		}
		d := c.Decide(conv, r)
		if d.Allowed == (len(d.Reasons) > 0) {
			t.Fatalf("Allowed %v with reasons %+v", d.Allowed, d.Reasons)
		}
		for _, rs := range d.Reasons {
			if rs.Code == "" || rs.FR == "" || rs.EN == "" {
				t.Fatalf("incomplete reason %+v", rs)
			}
		}
		if d.Allowed && (d.Rule < 0 || d.Rule >= len(conv.Rules) || d.Article != conv.Rules[d.Rule].Article) {
			t.Fatalf("allowed by rule %d", d.Rule)
		}
		_ = d.PushAt(now)
		caps := c.Capabilities(conv, service, now, r.PublishedToday)
		if len(caps.Reasons) > 0 && len(caps.Categories) > 0 {
			t.Fatal("capabilities with reasons")
		}
		_ = c.ValidateConvention(conv)
		_ = c.CheckActivation(conv, c.ActivationContext{Admins: count, TerritorySchools: r.Schools, Now: now})
		if conv.Limits.QuietHours != nil {
			_ = conv.Limits.QuietHours.NextPush(now)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
	})
}
