package conventions_test

import (
	"encoding/json"
	"slices"
	"testing"

	c "github.com/liaison-ent/liaison/conventions"
)

// A level is one type: Valid says a child level (Levels), IsSchoolLevel a
// school's (SchoolLevels: the child levels and primaire); anything else —
// a class, another spelling — is neither. In JSON a level is its plain
// code, as every format written before the type had it.
func TestLevelType(t *testing.T) {
	for _, l := range c.SchoolLevels {
		if !l.IsSchoolLevel() {
			t.Errorf("%q is not a school level", l)
		}
		if l.Valid() != slices.Contains(c.Levels, l) {
			t.Errorf("%q: Valid %v", l, l.Valid())
		}
	}
	if c.LevelPrimaire.Valid() || !c.LevelPrimaire.IsSchoolLevel() {
		t.Error("primaire is a school level only")
	}
	for _, l := range []c.Level{"", "CP", "Maternelle", "maternelle ", "élémentaire", "6e"} {
		if l.Valid() || l.IsSchoolLevel() {
			t.Errorf("%q taken as a level", l)
		}
	}
	b, err := json.Marshal(struct {
		Level  c.Level   `json:"level"`
		Levels []c.Level `json:"levels"`
	}{c.LevelCollege, []c.Level{c.LevelMaternelle, c.LevelElementaire}})
	if err != nil || string(b) != `{"level":"college","levels":["maternelle","elementaire"]}` {
		t.Fatalf("JSON %s, %v", b, err)
	}
}
