package frenchid

import "testing"

func TestUAI(t *testing.T) {
	for _, s := range []string{"0750655E", "0801001D", "0801002E"} {
		if !UAIValid(s) {
			t.Errorf("UAIValid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "0750655", "0750655F", "0750655e", "075065AE", "07506551", "0750655EE", "0801001I"} {
		if UAIValid(s) {
			t.Errorf("UAIValid(%q) = true, want false", s)
		}
	}
	if got := UAICheckLetter("0750655"); got != 'E' {
		t.Errorf("UAICheckLetter(0750655) = %c, want E", got)
	}
	if got := UAICheckLetter("07506x5"); got != 0 {
		t.Errorf("UAICheckLetter of non-digits = %c, want 0", got)
	}
	if NormalizeUAI(" 0750655e ") != "0750655E" {
		t.Error("NormalizeUAI does not upper-case and trim")
	}
}

func TestINSEE(t *testing.T) {
	for _, s := range []string{"80021", "80702", "2A004", "2B033", "75056", "97105", "98818", "01001"} {
		if !INSEEValid(s) {
			t.Errorf("INSEEValid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "8002", "800211", "2C004", "20004", "00123", "8002A", "97705", "99123", "2a004"} {
		if INSEEValid(s) {
			t.Errorf("INSEEValid(%q) = true, want false", s)
		}
	}
}

func TestSIREN(t *testing.T) {
	for _, s := range []string{"732829320", "552100554", "200067213", "248000556"} {
		if !SIRENValid(s) {
			t.Errorf("SIRENValid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "73282932", "732829321", "7328293200", "73282932A", "552100555"} {
		if SIRENValid(s) {
			t.Errorf("SIRENValid(%q) = true, want false", s)
		}
	}
}

func FuzzValidators(f *testing.F) {
	for _, s := range []string{"0750655E", "80021", "732829320", "2A004", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if UAIValid(s) {
			if len(s) != 8 || UAICheckLetter(s[:7]) != s[7] {
				t.Fatalf("UAIValid(%q) accepted an inconsistent UAI", s)
			}
		}
		if INSEEValid(s) && len(s) != 5 {
			t.Fatalf("INSEEValid(%q) accepted a non-5-character value", s)
		}
		if SIRENValid(s) && len(s) != 9 {
			t.Fatalf("SIRENValid(%q) accepted a non-9-character value", s)
		}
	})
}

func TestDepartement(t *testing.T) {
	for _, s := range []string{"80", "01", "2A", "2B", "971", "976", "95"} {
		if !DepartementValid(s) {
			t.Errorf("DepartementValid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "20", "00", "96", "977", "8", "800", "2C"} {
		if DepartementValid(s) {
			t.Errorf("DepartementValid(%q) = true, want false", s)
		}
	}
	for in, want := range map[string]string{"80702": "80", "2A004": "2A", "97105": "971"} {
		if got := DepartementOf(in); got != want {
			t.Errorf("DepartementOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeClass(t *testing.T) {
	for in, want := range map[string]string{"CM1": "CM1", " cm1 ": "CM1", "Cm1": "CM1", "petite  section": "PETITE SECTION",
		"\tTrès petite section\n": "TRÈS PETITE SECTION", "6e b": "6E B", "": ""} {
		if got := NormalizeClass(in); got != want {
			t.Errorf("NormalizeClass(%q) = %q, want %q", in, got, want)
		}
	}
	if got := NormalizeClasses([]string{"cm1", "CM1 ", "cm2"}); len(got) != 2 || got[0] != "CM1" || got[1] != "CM2" {
		t.Errorf("NormalizeClasses = %q, want [CM1 CM2]", got)
	}
	if got := NormalizeClasses([]string{" "}); len(got) != 1 {
		t.Errorf("NormalizeClasses([\" \"]) = %q: a restricting list must stay one", got)
	}
	if NormalizeClasses(nil) != nil {
		t.Error("NormalizeClasses(nil) != nil")
	}
}
