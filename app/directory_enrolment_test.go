package app

import (
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/liaison-ent/liaison/internal/store"
)

// A directory CSV file from a French spreadsheet (';', Windows-1252)
// whose header names enrolment columns after the national directory
// feed's flags: each child's enrolments are stored, an empty cell is
// unknown, the transport column may hold the line.
func TestImportParentsCSVEnrolments(t *testing.T) {
	w := newDirWorld(t)
	text := "ent_user_id;uai;level;class;ENTEleveRestaurantScolaire;ENTEleveTransport;ENTEleveGarderieSoir;ENTEleveEtudesSurveillees;mercredi\r\n" +
		"p1;0801001D;maternelle;MS;Oui;S12;;;\r\n" +
		"p2;0801001D;maternelle;MS;non;N;o;;\r\n" +
		"p3;0801001D;maternelle;MS\r\n" +
		"p4;0801001D;maternelle;Étoile;1;0;;0;1\r\n"
	data, err := charmap.Windows1252.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.a.ImportParents(w.ctx, asENT(w.entA), ImportParentsRequest{CSV: data})
	if err != nil || res != (SyncResult{Created: 4, Total: 4}) {
		t.Fatalf("import: %+v %v", res, err)
	}
	yes, no := store.EnrolYes, store.EnrolNo
	for user, want := range map[string]store.Enrolment{
		"p1": {Cantine: yes, Transport: yes, Line: "S12"},
		"p2": {Cantine: no, Transport: no, GarderieSoir: yes},
		"p3": {},
		"p4": {Cantine: yes, Transport: no, Etudes: no, Mercredi: yes},
	} {
		p, err := w.st.GetParent(w.ctx, w.entA.ENT.ID, user)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Children[0].Enrolment; got != want {
			t.Errorf("%s: enrolment %+v, want %+v", user, got, want)
		}
	}
	p, _ := w.st.GetParent(w.ctx, w.entA.ENT.ID, "p4")
	if p.Children[0].Class != "ÉTOILE" && p.Children[0].Class != "Étoile" {
		t.Errorf("p4's class %q: Windows-1252 not decoded", p.Children[0].Class)
	}

	// A value that is neither oui nor non, a header column unknown:
	// refused with the line, nothing written.
	_, err = w.a.ImportParents(w.ctx, asENT(w.entA), ImportParentsRequest{CSV: []byte("ent_user_id;uai;level;cantine\np1;0801001D;maternelle;peut-être\n")})
	e := wantErr(t, err, CodeParentsCSVInvalid)
	if len(e.Details) != 1 || e.Details[0].Line != 2 || e.Details[0].Code != "csv.enrolment" {
		t.Fatalf("bad value: %+v", e.Details)
	}
	_, err = w.a.ImportParents(w.ctx, asENT(w.entA), ImportParentsRequest{CSV: []byte("ent_user_id;uai;level;piscine;cantine\np1;0801001D;maternelle;;oui\n")})
	e = wantErr(t, err, CodeParentsCSVInvalid)
	if len(e.Details) != 1 || e.Details[0].Line != 1 || e.Details[0].Code != "csv.header" {
		t.Fatalf("unknown column: %+v", e.Details)
	}
	p, _ = w.st.GetParent(w.ctx, w.entA.ENT.ID, "p1")
	if p.Children[0].Enrolment.Line != "S12" {
		t.Fatalf("a refused file changed p1: %+v", p.Children[0])
	}
}
