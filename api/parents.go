package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
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
	Created int `json:"created"`
	Updated int `json:"updated"`
	Total   int `json:"total"`
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
		return app.Err(app.CodeRequestUnsupportedMediaType, app.NewDetail("", "csv.content_type",
			"Envoyez le fichier avec l'en-tête Content-Type: text/csv.", "Send the file with Content-Type: text/csv."))
	}
	if len(c.Body()) > s.cfg.SyncBodyLimit {
		return app.Err(app.CodeRequestBodyTooLarge)
	}
	parents, lines, parseErrs := parseParentsCSV(c.Body())
	return s.writeParents(c, parents, lines, parseErrs...)
}

// writeParents validates a batch and writes it in one go. lines, when not
// nil, maps parent i, child j to its CSV line for error reports; csvErrs
// are the CSV syntax errors found before, reported together.
func (s *Server) writeParents(c *fiber.Ctx, in []parentInput, lines [][]int, csvErrs ...app.Detail) error {
	ent := principal(c).ENT
	if len(in) == 0 && len(csvErrs) == 0 {
		return app.Err(app.CodeRequestValidationFailed, app.NewDetail("parents", "field.min",
			"Le lot doit contenir au moins un parent.", "The batch must contain at least one parent."))
	}
	if len(in) > maxParentsPerBatch {
		return app.Err(app.CodeParentsBatchTooLarge)
	}
	served := make(map[string]bool, len(ent.Schools))
	for _, u := range ent.Schools {
		served[u] = true
	}
	now := s.utcNow()
	parents := make([]store.Parent, 0, len(in))
	seen := make(map[string]int, len(in))
	ds := csvErrs
	report := func(i, j int, d app.Detail) {
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
			d = app.WithIndex(d, i)
		}
		ds = append(ds, d)
	}
	for i, p := range in {
		for _, d := range checkParent(p, served) {
			report(i, d.child, d.Detail)
		}
		if first, dup := seen[p.ENTUserID]; dup {
			report(i, -1, app.NewDetail("ent_user_id", "parents.duplicate",
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
			slices.SortStableFunc(ds, func(a, b app.Detail) int { return a.Line - b.Line })
		}
		code := app.CodeParentsBatchInvalid
		if lines != nil {
			code = app.CodeParentsCSVInvalid
		}
		return app.Err(code, ds...)
	}
	a := s.auditEntry(c, "parents.sync", ent.ID,
		fmt.Sprintf("Synchronisation de %d parent(s) par l'ENT « %s »", len(parents), ent.Name), "")
	res, err := s.store.UpsertParents(c.UserContext(), ent.ID, parents, now, a)
	if err != nil {
		return err
	}
	s.directoryChanged()
	return c.JSON(syncResult{Created: res.Created, Updated: res.Updated, Total: len(parents)})
}

type childDetail struct {
	app.Detail
	child int // index of the child concerned, -1 for the parent itself
}

// checkParent validates one parent of a batch against the ENT's schools.
func checkParent(p parentInput, served map[string]bool) []childDetail {
	var out []childDetail
	add := func(j int, d app.Detail) { out = append(out, childDetail{d, j}) }
	if p.ENTUserID == "" || len(p.ENTUserID) > maxUserIDLen || !app.Identifier(p.ENTUserID) {
		add(-1, app.NewDetail("ent_user_id", "field.ident",
			"Identifiant ENT du parent manquant ou invalide (1 à 128 caractères imprimables, sans espace).",
			"Missing or invalid parent ENT id (1 to 128 printable characters, no spaces)."))
	}
	if len(p.Children) == 0 {
		add(-1, app.NewDetail("children", "field.min",
			"Au moins un enfant est attendu ; pour retirer un parent, utilisez la suppression.",
			"At least one child is expected; to remove a parent, delete it."))
	}
	if len(p.Children) > maxChildrenPerParent {
		add(-1, app.NewDetail("children", "field.max", "Au plus 20 enfants par parent.", "At most 20 children per parent."))
		return out
	}
	for j, ch := range p.Children {
		f := fmt.Sprintf("children[%d]", j)
		uai := frenchid.NormalizeUAI(ch.UAI)
		switch {
		case !frenchid.UAIValid(uai):
			add(j, app.NewDetail(f+".uai", "field.uai",
				fmt.Sprintf("Code UAI « %s » invalide.", ch.UAI), fmt.Sprintf("Invalid UAI %q.", ch.UAI)))
		case !served[uai]:
			add(j, app.NewDetail(f+".uai", "parents.school_not_served",
				fmt.Sprintf("L'école %s n'est pas desservie par cet ENT.", uai),
				fmt.Sprintf("School %s is not served by this ENT.", uai)))
		}
		if !slices.Contains(conventions.Levels, ch.Level) {
			levels := strings.Join(conventions.Levels, ", ")
			add(j, app.NewDetail(f+".level", "field.oneof", "Niveau attendu parmi : "+levels+".", "Expected level: "+levels+"."))
		}
		if len(ch.Class) > maxClassLen || !app.PlainText(ch.Class, false) {
			add(j, app.NewDetail(f+".class", "field.max", "Classe invalide (32 caractères au plus).", "Invalid class (at most 32 characters)."))
		}
	}
	return out
}

// csvText is the text of an uploaded CSV file: without its UTF-8 BOM, and
// read as Windows-1252 (Excel's default "CSV" in a French locale) when it
// is not valid UTF-8. UTF-16 ("Unicode text") is refused with a line that
// says what to send instead.
func csvText(data []byte) ([]byte, *app.Detail) {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		d := app.NewDetail("", "csv.encoding",
			"Fichier enregistré en UTF-16 (« Texte Unicode ») : enregistrez-le au format « CSV UTF-8 » ou « CSV (séparateur : point-virgule) ».",
			"File saved as UTF-16 (\"Unicode text\"): save it as \"CSV UTF-8\" or \"CSV (semicolon delimited)\".")
		d.Line = 1
		return nil, &d
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		// Windows-1252 maps every byte: the decoding cannot fail.
		if text, err := charmap.Windows1252.NewDecoder().Bytes(data); err == nil {
			data = text
		}
	}
	return data, nil
}

// csvDelimiter reads the field separator from the first line: ',' or ';'
// (French spreadsheets), whichever it has more of outside quotes; Excel's
// "sep=;" first line names it. hint reports that first line is a sep= one.
func csvDelimiter(text []byte) (delim rune, hint bool) {
	first, _, _ := bytes.Cut(text, []byte("\n"))
	first = bytes.TrimRight(first, "\r")
	if sep, ok := bytes.CutPrefix(first, []byte("sep=")); ok && len(sep) == 1 && (sep[0] == ',' || sep[0] == ';') {
		return rune(sep[0]), true
	}
	commas, semicolons, quoted := 0, 0, false
	for _, b := range first {
		switch {
		case b == '"':
			quoted = !quoted
		case quoted:
		case b == ',':
			commas++
		case b == ';':
			semicolons++
		}
	}
	if semicolons > commas {
		return ';', false
	}
	return ',', false
}

// csvSyntaxMessage says what is wrong with a line the CSV reader refused
// and what was expected.
func csvSyntaxMessage(err error, sep string) (fr, en string) {
	expected := fmt.Sprintf("ent_user_id%[1]suai%[1]slevel%[1]sclass", sep)
	if errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrBareQuote) {
		return fmt.Sprintf("Ligne CSV mal formée : guillemet (\") non fermé ou mal placé. Attendu : %s, un champ entre guillemets s'il contient « %s » ou un guillemet (doublé).", expected, sep),
			fmt.Sprintf("Malformed CSV line: unclosed or misplaced quote (\"). Expected: %s, a field in quotes if it contains %q or a quote (doubled).", expected, sep)
	}
	return fmt.Sprintf("Ligne CSV mal formée. Attendu : %s.", expected), fmt.Sprintf("Malformed CSV line. Expected: %s.", expected)
}

// parseParentsCSV groups CSV lines (one child each) by parent, keeping the
// line numbers for error reports. The file may come from a French
// spreadsheet: see csvText and csvDelimiter.
func parseParentsCSV(data []byte) ([]parentInput, [][]int, []app.Detail) {
	text, refused := csvText(data)
	if refused != nil {
		return nil, [][]int{}, []app.Detail{*refused}
	}
	delim, hint := csvDelimiter(text)
	sep := string(delim)
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var parents []parentInput
	lines := [][]int{} // not nil, even empty: the batch is a CSV one
	index := map[string]int{}
	var ds []app.Detail
	bad := func(line int, code, fr, en string) {
		if len(ds) < maxBatchErrors {
			d := app.NewDetail("", code, fr, en)
			d.Line = line
			ds = append(ds, d)
		}
	}
	header := 1 // the record a header may be
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
			fr, en := csvSyntaxMessage(err, sep)
			bad(line, "csv.syntax", fr, en)
			break
		}
		line, _ := r.FieldPos(0)
		if n == 1 && hint {
			header = 2
			continue // Excel's sep= line
		}
		if n == header && strings.EqualFold(strings.TrimSpace(rec[0]), "ent_user_id") {
			continue // header
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) < 3 || len(rec) > 4 {
			bad(line, "csv.columns",
				fmt.Sprintf("%d colonne(s) au lieu de 3 ou 4 (ent_user_id%[2]suai%[2]slevel%[2]sclass, séparées par « %[2]s »).", len(rec), sep),
				fmt.Sprintf("%d column(s) instead of 3 or 4 (ent_user_id%[2]suai%[2]slevel%[2]sclass, separated by %[2]q).", len(rec), sep))
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
	id, err := userIDParam(c)
	if err != nil {
		return err
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

// userIDParam is the {ent_user_id} of a route, percent-decoded: the sync
// accepts any printable ASCII id, '/', '?', '#', '%' and '+' included, so
// a client sends those escaped (a%2Fb) and Fiber hands route parameters
// over as they came. A '+' stays a '+' (it means a space only in query
// strings). An id no parent can have answers 404; a broken escape says so.
func userIDParam(c *fiber.Ctx) (string, error) {
	id, err := url.PathUnescape(c.Params("ent_user_id"))
	if err != nil {
		return "", app.Err(app.CodeResourceNotFound, app.NewDetail("ent_user_id", "path.escape",
			"Identifiant mal encodé dans l'adresse : encodez « % » en %25, « / » en %2F, « ? » en %3F et « # » en %23.",
			"Badly encoded id in the URL: encode \"%\" as %25, \"/\" as %2F, \"?\" as %3F and \"#\" as %23."))
	}
	if len(id) > maxUserIDLen || !app.Identifier(id) {
		return "", app.Err(app.CodeResourceNotFound)
	}
	return strings.Clone(id), nil
}
