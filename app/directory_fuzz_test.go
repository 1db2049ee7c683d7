package app

import "testing"

// FuzzParentsCSV: any CSV body gives parents or line-numbered errors,
// never a panic, and every parent's children have their line numbers.
func FuzzParentsCSV(f *testing.F) {
	f.Add([]byte("ent_user_id,uai,level,class\np1,0801001D,maternelle,MS\np1,0801002E,elementaire,CE2\n"))
	f.Add([]byte("\xef\xbb\xbfp1,0801001D,maternelle\n\n\"p2\",0801001D,maternelle,\"M\"\"S\"\n"))
	f.Add([]byte("a,b\n\"unterminated"))
	served := map[string]bool{"0801001D": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		parents, lines, _ := ParseParentsCSV(data)
		if len(lines) != len(parents) {
			t.Fatalf("%d parents, %d line lists", len(parents), len(lines))
		}
		for i, p := range parents {
			if len(lines[i]) != len(p.Children) {
				t.Fatalf("parent %d: %d children, %d lines", i, len(p.Children), len(lines[i]))
			}
			_ = CheckParent(p, served)
		}
	})
}
