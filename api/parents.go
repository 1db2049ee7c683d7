package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// Directory sync limits.
const (
	maxParentsPerBatch   = 10000
	maxChildrenPerParent = 20
	maxBatchErrors       = 1000
	maxUserIDLen         = 128
	maxClassLen          = 32
)

// childLevels are the levels a child can be in.
var childLevels = map[string]bool{
	store.LevelMaternelle: true, store.LevelElementaire: true, store.LevelCollege: true, store.LevelLycee: true,
}

type childInput struct {
	UAI   string `json:"uai"`
	Level string `json:"level"`
	Class string `json:"class"`
}

type parentInput struct {
	ENTUserID string       `json:"ent_user_id"`
	Children  []childInput `json:"children"`
}

type syncParentsRequest struct {
	Parents []parentInput `json:"parents"`
}

type syncResult struct {
	store.UpsertResult
	Total int `json:"total"`
}

// syncParents is PUT /v1/ent/parents: an idempotent, all-or-nothing batch
// upsert. If any item is invalid nothing is written and every bad item is
// reported with its index.
func (s *Server) syncParents(c *fiber.Ctx) error {
	var req syncParentsRequest
	if err := readJSON(c, s.cfg.SyncBodyLimit, &req); err != nil {
		return err
	}
	return s.writeParents(c, req.Parents, nil)
}

// importParents is POST /v1/ent/parents/import: the same from CSV
// (ent_user_id,uai,level,class; one child per line; header optional).
func (s *Server) importParents(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != "text/csv" && mt != "application/csv") {
		return apiErr("request.unsupported_media_type", detail("", "csv.content_type",
			"Envoyez le fichier avec l'en-tête Content-Type: text/csv.", "Send the file with Content-Type: text/csv."))
	}
	if len(c.Body()) > s.cfg.SyncBodyLimit {
		return apiErr("request.body_too_large")
	}
	parents, lines, parseErrs := parseParentsCSV(c.Body())
	return s.writeParents(c, parents, lines, parseErrs...)
}

// writeParents validates a batch and writes it in one go. lines, when not
// nil, maps parent i, child j to its CSV line for error reports; csvErrs
// are the CSV syntax errors found before, reported together.
func (s *Server) writeParents(c *fiber.Ctx, in []parentInput, lines [][]int, csvErrs ...Detail) error {
	ent := principal(c).ENT
	if len(in) == 0 && len(csvErrs) == 0 {
		return apiErr("request.validation_failed", detail("parents", "field.min",
			"Le lot doit contenir au moins un parent.", "The batch must contain at least one parent."))
	}
	if len(in) > maxParentsPerBatch {
		return apiErr("parents.batch_too_large")
	}
	served := make(map[string]bool, len(ent.Schools))
	for _, u := range ent.Schools {
		served[u] = true
	}
	now := s.utcNow()
	parents := make([]store.Parent, 0, len(in))
	seen := make(map[string]int, len(in))
	ds := csvErrs
	report := func(i, j int, d Detail) {
		if len(ds) >= maxBatchErrors {
			return
		}
		if lines != nil {
			d.Field = ""
			if j < 0 {
				j = 0
			}
			d.Line = lines[i][j]
		} else {
			d = withIndex(d, i)
		}
		ds = append(ds, d)
	}
	for i, p := range in {
		for _, d := range checkParent(p, served) {
			report(i, d.child, d.Detail)
		}
		if first, dup := seen[p.ENTUserID]; dup {
			report(i, -1, detail("ent_user_id", "parents.duplicate",
				fmt.Sprintf("Ce parent figure déjà plus haut dans le lot (élément %d).", first),
				fmt.Sprintf("This parent already appears earlier in the batch (item %d).", first)))
		}
		seen[p.ENTUserID] = i
		children := make([]store.Child, len(p.Children))
		for j, ch := range p.Children {
			children[j] = store.Child{UAI: frenchid.NormalizeUAI(ch.UAI), Level: ch.Level, Class: strings.TrimSpace(ch.Class)}
		}
		parents = append(parents, store.Parent{ENTID: ent.ID, ENTUserID: p.ENTUserID, Children: children, UpdatedAt: now})
	}
	if len(ds) > 0 {
		if lines != nil {
			slices.SortStableFunc(ds, func(a, b Detail) int { return a.Line - b.Line })
		}
		code := "parents.batch_invalid"
		if lines != nil {
			code = "parents.csv_invalid"
		}
		return apiErr(code, ds...)
	}
	a := s.auditEntry(c, "parents.sync", ent.ID,
		fmt.Sprintf("Synchronisation de %d parent(s) par l'ENT « %s »", len(parents), ent.Name), "")
	res, err := s.store.UpsertParents(c.UserContext(), ent.ID, parents, now, a)
	if err != nil {
		return err
	}
	s.directoryChanged()
	return c.JSON(syncResult{UpsertResult: res, Total: len(parents)})
}

type childDetail struct {
	Detail
	child int // index of the child concerned, -1 for the parent itself
}

// checkParent validates one parent of a batch against the ENT's schools.
func checkParent(p parentInput, served map[string]bool) []childDetail {
	var out []childDetail
	add := func(j int, d Detail) { out = append(out, childDetail{d, j}) }
	if p.ENTUserID == "" || len(p.ENTUserID) > maxUserIDLen || !identifier(p.ENTUserID) {
		add(-1, detail("ent_user_id", "field.ident",
			"Identifiant ENT du parent manquant ou invalide (1 à 128 caractères imprimables, sans espace).",
			"Missing or invalid parent ENT id (1 to 128 printable characters, no spaces)."))
	}
	if len(p.Children) == 0 {
		add(-1, detail("children", "field.min",
			"Au moins un enfant est attendu ; pour retirer un parent, utilisez la suppression.",
			"At least one child is expected; to remove a parent, delete it."))
	}
	if len(p.Children) > maxChildrenPerParent {
		add(-1, detail("children", "field.max", "Au plus 20 enfants par parent.", "At most 20 children per parent."))
		return out
	}
	for j, ch := range p.Children {
		f := fmt.Sprintf("children[%d]", j)
		uai := frenchid.NormalizeUAI(ch.UAI)
		switch {
		case !frenchid.UAIValid(uai):
			add(j, detail(f+".uai", "field.uai",
				fmt.Sprintf("Code UAI « %s » invalide.", ch.UAI), fmt.Sprintf("Invalid UAI %q.", ch.UAI)))
		case !served[uai]:
			add(j, detail(f+".uai", "parents.school_not_served",
				fmt.Sprintf("L'école %s n'est pas desservie par cet ENT.", uai),
				fmt.Sprintf("School %s is not served by this ENT.", uai)))
		}
		if !childLevels[ch.Level] {
			add(j, detail(f+".level", "field.oneof",
				"Niveau attendu parmi : maternelle, elementaire, college, lycee.",
				"Expected level: maternelle, elementaire, college, lycee."))
		}
		if len(ch.Class) > maxClassLen || !plainText(ch.Class, false) {
			add(j, detail(f+".class", "field.max", "Classe invalide (32 caractères au plus).", "Invalid class (at most 32 characters)."))
		}
	}
	return out
}

// parseParentsCSV groups CSV lines (one child each) by parent, keeping the
// line numbers for error reports.
func parseParentsCSV(data []byte) ([]parentInput, [][]int, []Detail) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var parents []parentInput
	lines := [][]int{} // not nil, even empty: the batch is a CSV one
	index := map[string]int{}
	var ds []Detail
	bad := func(line int, code, fr, en string) {
		if len(ds) < maxBatchErrors {
			d := detail("", code, fr, en)
			d.Line = line
			ds = append(ds, d)
		}
	}
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos would panic here: a record cut by a syntax error
			// may have no field.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			bad(line, "csv.syntax", "Ligne CSV mal formée.", "Malformed CSV line.")
			break
		}
		line, _ := r.FieldPos(0)
		if n == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "ent_user_id") {
			continue // header
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) < 3 || len(rec) > 4 {
			bad(line, "csv.columns",
				fmt.Sprintf("%d colonne(s) au lieu de 3 ou 4 (ent_user_id,uai,level,class).", len(rec)),
				fmt.Sprintf("%d column(s) instead of 3 or 4 (ent_user_id,uai,level,class).", len(rec)))
			continue
		}
		ch := childInput{UAI: strings.TrimSpace(rec[1]), Level: strings.TrimSpace(rec[2])}
		if len(rec) == 4 {
			ch.Class = strings.TrimSpace(rec[3])
		}
		id := strings.TrimSpace(rec[0])
		i, ok := index[id]
		if !ok {
			i = len(parents)
			index[id] = i
			parents = append(parents, parentInput{ENTUserID: id})
			lines = append(lines, nil)
		}
		parents[i].Children = append(parents[i].Children, ch)
		lines[i] = append(lines[i], line)
	}
	if len(parents) == 0 && len(ds) == 0 {
		bad(1, "csv.empty", "Le fichier ne contient aucune ligne de données.", "The file has no data line.")
	}
	return parents, lines, ds
}

// eraseParent is DELETE /v1/ent/parents/{ent_user_id}: RGPD erasure of a
// parent and everything attached to them.
func (s *Server) eraseParent(c *fiber.Ctx) error {
	ent := principal(c).ENT
	id := strings.Clone(c.Params("ent_user_id"))
	if len(id) > maxUserIDLen || !identifier(id) {
		return apiErr("resource.not_found")
	}
	a := s.auditEntry(c, "parents.erase", ent.ID, "Effacement d'un parent à la demande de l'ENT (RGPD)", "")
	if err := s.store.DeleteParent(c.UserContext(), ent.ID, id, a); err != nil {
		return err
	}
	s.directoryChanged()
	// Their read states went with them: a parent synced again under the
	// same ID starts with none.
	s.readStatesChanged(ent.ID, id)
	return c.SendStatus(fiber.StatusNoContent)
}
