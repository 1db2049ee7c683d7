package connect

import "testing"

func TestLevelOfClass(t *testing.T) {
	for class, want := range map[string]string{
		"PS": "maternelle", "ms": "maternelle", "GS B": "maternelle", "TPS-PS": "maternelle",
		"CP": "elementaire", "ce2": "elementaire", "CE2-CM1": "elementaire", "CM2 A": "elementaire",
		"Les Loupiots": "", "": "", "6e B": "", "CPE": "",
	} {
		if got := LevelOfClass(class); got != want {
			t.Errorf("LevelOfClass(%q) = %q, want %q", class, got, want)
		}
	}
}
