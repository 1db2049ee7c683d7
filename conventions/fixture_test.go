package conventions_test

import (
	"slices"
	"time"

	"github.com/liaison-ent/liaison/conventions"
)

// exampleJSON is the JSON of docs/examples/convention-exemple.md, verbatim.
const exampleJSON = `{
  "collectivite": "commune:80702",
  "schools": ["0801001D", "0801002E"],
  "valid_from": "2026-09-01",
  "valid_until": "2029-08-31",
  "signatories": [
    {"role": "maire", "name": "…", "signed_at": "2026-08-28"},
    {"role": "ien", "name": "…", "signed_at": "2026-08-28"},
    {"role": "operateur", "name": "…", "signed_at": "2026-08-28"}
  ],
  "limits": {"max_per_school_per_day": 3, "max_validity_days": 31,
             "quiet_hours": {"from": "20:00", "to": "07:30"}},
  "rules": [
    {"article": "3.1", "services": ["restauration"], "categories": ["cantine"],
     "max_priority": "normal", "push": true},
    {"article": "3.2", "services": ["enfance_jeunesse"], "categories": ["periscolaire", "etudes"],
     "max_priority": "normal", "push": true, "ack_allowed": true},
    {"article": "3.3", "services": ["technique"], "categories": ["batiment"],
     "max_priority": "urgent", "push": true, "critical_when_urgent": true},
    {"article": "3.4", "services": ["elus"], "categories": ["alerte"],
     "max_priority": "urgent", "push": true, "critical": true, "ack_allowed": true,
     "max_validity_days": 7, "quota_exempt": true},
    {"article": "3.5", "services": ["culture"], "categories": ["culture"],
     "schools": ["0801002E"], "levels": ["elementaire"], "classes": ["CE2", "CM1", "CM2"],
     "max_priority": "normal", "push": false}
  ]
}`

// saintFuscien returns the example convention as stored: number 12,
// version 2, active.
func saintFuscien() conventions.Convention {
	c := parsedExample
	c.Schools = slices.Clone(c.Schools)
	c.Rules = slices.Clone(c.Rules)
	c.Signatories = slices.Clone(c.Signatories)
	return c
}

var parsedExample = func() conventions.Convention {
	c, err := conventions.ParseDocument([]byte(exampleJSON))
	if err != nil {
		panic(err)
	}
	c.ID = "conv-80702-12"
	c.Number = 12
	c.Version = 2
	c.Status = conventions.StatusActive
	c.Schools[0].Level = conventions.LevelMaternelle
	c.Schools[1].Level = conventions.LevelElementaire
	return c
}()

// paris builds a Europe/Paris wall-clock time.
func paris(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, conventions.Paris())
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
