package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// The directory: an ENT tells Liaison which parents it has and which
// schools, levels and classes their children are in (a batch, or a CSV
// file of one child per line), and erases a parent (RGPD). Only an ENT
// principal may, and only for itself and the schools it serves.

// Directory sync limits.
const (
	MaxParentsPerBatch   = 10000
	maxChildrenPerParent = 20
	maxBatchErrors       = 1000
	MaxENTUserIDLen      = 128
	maxClassLen          = 32
)

// ChildInput is a child of a synced parent.
type ChildInput struct {
	UAI   string            `json:"uai"`
	Level conventions.Level `json:"level"`
	Class string            `json:"class"`
	// Enrolment: what the ENT knows of the child's enrolments (nil:
	// nothing).
	Enrolment *EnrolmentInput `json:"enrolment,omitempty"`
}

// EnrolmentInput is what an ENT knows of a child's enrolments, per
// service: true enrolled, false known not enrolled, absent unknown; and
// the transport line when known (which means enrolled in transport). A
// sync replaces what the previous one said.
type EnrolmentInput struct {
	Cantine       *bool  `json:"cantine,omitempty"`
	Transport     *bool  `json:"transport,omitempty"`
	GarderieMatin *bool  `json:"garderie_matin,omitempty"`
	GarderieSoir  *bool  `json:"garderie_soir,omitempty"`
	Etudes        *bool  `json:"etudes,omitempty"`
	Mercredi      *bool  `json:"mercredi,omitempty"`
	Line          string `json:"line,omitempty"`
}

// byService is where in stands for each service's state.
func (in *EnrolmentInput) byService() map[string]**bool {
	return map[string]**bool{
		store.ServiceCantine: &in.Cantine, store.ServiceTransport: &in.Transport,
		store.ServiceGarderieMatin: &in.GarderieMatin, store.ServiceGarderieSoir: &in.GarderieSoir,
		store.ServiceEtudes: &in.Etudes, store.ServiceMercredi: &in.Mercredi,
	}
}

// EnrolmentInputOf is e as an input would give it: per service, true
// enrolled, false not, nil unknown; its line.
func EnrolmentInputOf(e store.Enrolment) EnrolmentInput {
	in := EnrolmentInput{Line: e.Line}
	for service, f := range in.byService() {
		if st := e.State(service); st != store.EnrolUnknown {
			b := st == store.EnrolYes
			*f = &b
		}
	}
	return in
}

// enrolment is the store's form of an input (nil: all unknown).
func (in *EnrolmentInput) enrolment() store.Enrolment {
	var e store.Enrolment
	if in == nil {
		return e
	}
	for service, v := range in.byService() {
		if *v != nil {
			st := store.EnrolNo
			if **v {
				st = store.EnrolYes
			}
			e.Set(service, st)
		}
	}
	e.Line = in.Line
	return e.Normalized()
}

// enrolmentDetails checks an enrolment input: a valid line, and none for
// a child known not to take transport.
func enrolmentDetails(f string, in *EnrolmentInput) []Detail {
	if in == nil || in.Line == "" {
		return nil
	}
	if !ValidLine(in.Line) {
		return []Detail{NewDetail(f+".line", "field.line",
			"Nom de ligne invalide : lettres, chiffres, espaces et tirets, 16 caractères au plus (ex. S12).",
			"Invalid line name: letters, digits, spaces and hyphens, at most 16 characters (e.g. S12).")}
	}
	if in.Transport != nil && !*in.Transport {
		return []Detail{NewDetail(f+".line", "parents.line_without_transport",
			"Une ligne est donnée pour un enfant qui ne prend pas le transport scolaire.",
			"A line is given for a child who does not take school transport.")}
	}
	return nil
}

// ParentInput is one parent of a directory batch.
type ParentInput struct {
	ENTUserID string       `json:"ent_user_id"`
	Children  []ChildInput `json:"children"`
}

// SyncParentsRequest is a directory batch (PUT /v1/ent/parents). Its
// items are validated one by one (checkParents), every bad one reported
// with its index: no validator tags.
type SyncParentsRequest struct {
	Parents []ParentInput `json:"parents"`
}

// ImportParentsRequest is a directory batch as a CSV file
// (ent_user_id,uai,level,class; one child per line; header optional; ','
// or ';'; UTF-8 or Windows-1252).
type ImportParentsRequest struct {
	CSV []byte
}

// SyncResult is what a sync changed.
type SyncResult struct {
	Created int
	Updated int
	Total   int
}

// EraseParentRequest names the parent an ENT erases.
type EraseParentRequest struct {
	ENTUserID string
}

// ValidENTUserID reports whether id can be a synced parent's id: 1 to 128
// printable ASCII characters, no space (what a sync accepts).
func ValidENTUserID(id string) bool {
	return len(id) <= MaxENTUserIDLen && Identifier(id)
}

// entOf is the calling ENT; anyone else is refused.
func entOf(p *Principal) (*store.ENT, error) {
	if p == nil || p.ENT == nil {
		return nil, Err(CodeAuthForbidden)
	}
	return p.ENT, nil
}

// SyncParents is an idempotent, all-or-nothing batch upsert of the
// calling ENT's parents: if any item is invalid nothing is written and
// every bad item is reported with its index.
func (a *App) SyncParents(ctx context.Context, p *Principal, req SyncParentsRequest) (SyncResult, error) {
	ent, err := entOf(p)
	if err != nil {
		return SyncResult{}, err
	}
	return a.writeParents(ctx, p, ent, req.Parents, nil)
}

// ImportParents is SyncParents from a CSV file: errors are reported by
// line (parents.csv_invalid), the file's syntax errors with the batch's.
func (a *App) ImportParents(ctx context.Context, p *Principal, req ImportParentsRequest) (SyncResult, error) {
	ent, err := entOf(p)
	if err != nil {
		return SyncResult{}, err
	}
	parents, lines, parseErrs := ParseParentsCSV(req.CSV)
	return a.writeParents(ctx, p, ent, parents, lines, parseErrs...)
}

// EraseParent erases one of the calling ENT's parents and everything
// attached to them (RGPD). An id no parent can have is not found.
func (a *App) EraseParent(ctx context.Context, p *Principal, req EraseParentRequest) error {
	ent, err := entOf(p)
	if err != nil {
		return err
	}
	if !ValidENTUserID(req.ENTUserID) {
		return Err(CodeResourceNotFound)
	}
	au := a.Audit(p, "parents.erase", ent.ID, "Effacement d'un parent à la demande de l'ENT (RGPD)", "")
	if err := a.store.DeleteParent(ctx, ent.ID, req.ENTUserID, au); err != nil {
		return err
	}
	a.DirectoryChanged()
	// Their read states went with them: a parent synced again under the
	// same ID starts with none.
	a.ReadStatesChanged(ent.ID, req.ENTUserID)
	return nil
}

// writeParents validates a batch and writes it in one go. lines, when not
// nil, maps parent i, child j to its CSV line for error reports; csvErrs
// are the CSV syntax errors found before, reported together.
func (a *App) writeParents(ctx context.Context, p *Principal, ent *store.ENT, in []ParentInput, lines [][]int, csvErrs ...Detail) (SyncResult, error) {
	parents, err := a.checkParents(ent, in, lines, csvErrs...)
	if err != nil {
		return SyncResult{}, err
	}
	au := a.Audit(p, "parents.sync", ent.ID,
		fmt.Sprintf("Synchronisation de %d parent(s) par l'ENT « %s »", len(parents), ent.Name), "")
	return a.storeParents(ctx, ent, parents, au)
}

// storeParents writes checked parents with their audit entry and moves
// the directory generation (caches follow).
func (a *App) storeParents(ctx context.Context, ent *store.ENT, parents []store.Parent, au store.AuditEntry) (SyncResult, error) {
	res, err := a.store.UpsertParents(ctx, ent.ID, parents, a.Now(), au)
	if err != nil {
		return SyncResult{}, err
	}
	a.DirectoryChanged()
	return SyncResult{Created: res.Created, Updated: res.Updated, Total: len(parents)}, nil
}

// checkParents validates a batch against the rules of a sync (CheckParent,
// duplicates, size) and returns it as the store writes it. lines, when not
// nil, maps parent i, child j to its CSV line for error reports; csvErrs
// are the CSV syntax errors found before, reported together.
func (a *App) checkParents(ent *store.ENT, in []ParentInput, lines [][]int, csvErrs ...Detail) ([]store.Parent, error) {
	if len(in) == 0 && len(csvErrs) == 0 {
		return nil, Err(CodeRequestValidationFailed, NewDetail("parents", "field.min",
			"Le lot doit contenir au moins un parent.", "The batch must contain at least one parent."))
	}
	if len(in) > MaxParentsPerBatch {
		return nil, Err(CodeParentsBatchTooLarge)
	}
	served := make(map[string]bool, len(ent.Schools))
	for _, u := range ent.Schools {
		served[u] = true
	}
	now := a.Now()
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
			d = WithIndex(d, i)
		}
		ds = append(ds, d)
	}
	for i, pi := range in {
		for _, d := range CheckParent(pi, served) {
			report(i, d.child, d.Detail)
		}
		if first, dup := seen[pi.ENTUserID]; dup {
			report(i, -1, NewDetail("ent_user_id", "parents.duplicate",
				fmt.Sprintf("Ce parent figure déjà plus haut dans le lot (élément %d).", first),
				fmt.Sprintf("This parent already appears earlier in the batch (item %d).", first)))
		}
		seen[pi.ENTUserID] = i
		children := make([]store.Child, len(pi.Children))
		for j, ch := range pi.Children {
			children[j] = store.Child{UAI: frenchid.NormalizeUAI(ch.UAI), Level: ch.Level, Class: strings.TrimSpace(ch.Class),
				Enrolment: ch.Enrolment.enrolment()}
		}
		parents = append(parents, store.Parent{ENTID: ent.ID, ENTUserID: pi.ENTUserID, Children: children, UpdatedAt: now})
	}
	if len(ds) > 0 {
		if lines != nil {
			slices.SortStableFunc(ds, func(a, b Detail) int { return a.Line - b.Line })
		}
		code := CodeParentsBatchInvalid
		if lines != nil {
			code = CodeParentsCSVInvalid
		}
		return nil, Err(code, ds...)
	}
	return parents, nil
}

// ParentDetail is a problem of one parent of a batch.
type ParentDetail struct {
	Detail
	child int // index of the child concerned, -1 for the parent itself
}

// CheckParent validates one parent of a batch against the schools its ENT
// serves.
func CheckParent(p ParentInput, served map[string]bool) []ParentDetail {
	var out []ParentDetail
	add := func(j int, d Detail) { out = append(out, ParentDetail{d, j}) }
	if !ValidENTUserID(p.ENTUserID) {
		add(-1, NewDetail("ent_user_id", "field.ident",
			"Identifiant ENT du parent manquant ou invalide (1 à 128 caractères imprimables, sans espace).",
			"Missing or invalid parent ENT id (1 to 128 printable characters, no spaces)."))
	}
	if len(p.Children) == 0 {
		add(-1, NewDetail("children", "field.min",
			"Au moins un enfant est attendu ; pour retirer un parent, utilisez la suppression.",
			"At least one child is expected; to remove a parent, delete it."))
	}
	if len(p.Children) > maxChildrenPerParent {
		add(-1, NewDetail("children", "field.max", "Au plus 20 enfants par parent.", "At most 20 children per parent."))
		return out
	}
	for j, ch := range p.Children {
		f := fmt.Sprintf("children[%d]", j)
		uai := frenchid.NormalizeUAI(ch.UAI)
		switch {
		case !frenchid.UAIValid(uai):
			add(j, NewDetail(f+".uai", "field.uai",
				fmt.Sprintf("Code UAI « %s » invalide.", ch.UAI), fmt.Sprintf("Invalid UAI %q.", ch.UAI)))
		case !served[uai]:
			add(j, NewDetail(f+".uai", "parents.school_not_served",
				fmt.Sprintf("L'école %s n'est pas desservie par cet ENT.", uai),
				fmt.Sprintf("School %s is not served by this ENT.", uai)))
		}
		if !ch.Level.Valid() {
			levels := strings.Join(conventions.Strings(conventions.Levels), ", ")
			add(j, NewDetail(f+".level", "field.oneof", "Niveau attendu parmi : "+levels+".", "Expected level: "+levels+"."))
		}
		if len(ch.Class) > maxClassLen || !PlainText(ch.Class, false) {
			add(j, NewDetail(f+".class", "field.max", "Classe invalide (32 caractères au plus).", "Invalid class (at most 32 characters)."))
		}
		for _, d := range enrolmentDetails(f+".enrolment", ch.Enrolment) {
			add(j, d)
		}
	}
	return out
}

// csvText is the text of an uploaded CSV file: without its UTF-8 BOM, and
// read as Windows-1252 (Excel's default "CSV" in a French locale) when it
// is not valid UTF-8. UTF-16 ("Unicode text") is refused with a line that
// says what to send instead.
func csvText(data []byte) ([]byte, *Detail) {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		d := NewDetail("", "csv.encoding",
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

// ParseParentsCSV groups CSV lines (one child each) by parent, keeping the
// line numbers for error reports (lines[i][j] is the line of parent i's
// child j). The file may come from a French spreadsheet: see csvText and
// csvDelimiter.
func ParseParentsCSV(data []byte) ([]ParentInput, [][]int, []Detail) {
	text, refused := csvText(data)
	if refused != nil {
		return nil, [][]int{}, []Detail{*refused}
	}
	delim, hint := csvDelimiter(text)
	sep := string(delim)
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var parents []ParentInput
	lines := [][]int{} // not nil, even empty: the batch is a CSV one
	index := map[string]int{}
	var ds []Detail
	bad := func(line int, code, fr, en string) {
		if len(ds) < maxBatchErrors {
			d := NewDetail("", code, fr, en)
			d.Line = line
			ds = append(ds, d)
		}
	}
	header := 1          // the record a header may be
	var cols *csvColumns // named by a header; nil: ent_user_id,uai,level[,class]
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
			c, d := parseCSVHeader(rec)
			if d != nil {
				d.Line = line
				return nil, [][]int{}, []Detail{*d}
			}
			cols = c
			continue // header
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if cols != nil {
			if len(rec) < 3 || len(rec) > cols.n {
				bad(line, "csv.columns",
					fmt.Sprintf("%d colonne(s) au lieu de 3 à %d (celles de l'en-tête, séparées par « %s »).", len(rec), cols.n, sep),
					fmt.Sprintf("%d column(s) instead of 3 to %d (those of the header, separated by %q).", len(rec), cols.n, sep))
				continue
			}
		} else if len(rec) < 3 || len(rec) > 4 {
			bad(line, "csv.columns",
				fmt.Sprintf("%d colonne(s) au lieu de 3 ou 4 (ent_user_id%[2]suai%[2]slevel%[2]sclass, séparées par « %[2]s »).", len(rec), sep),
				fmt.Sprintf("%d column(s) instead of 3 or 4 (ent_user_id%[2]suai%[2]slevel%[2]sclass, separated by %[2]q).", len(rec), sep))
			continue
		}
		var ch ChildInput
		if cols != nil {
			var d *Detail
			if ch, d = cols.child(rec); d != nil {
				bad(line, d.Code, d.fr, d.en)
				continue
			}
		} else {
			ch = ChildInput{UAI: strings.TrimSpace(rec[1]), Level: conventions.Level(strings.TrimSpace(rec[2]))}
			if len(rec) == 4 {
				ch.Class = strings.TrimSpace(rec[3])
			}
		}
		id := strings.TrimSpace(rec[0])
		i, ok := index[id]
		if !ok {
			i = len(parents)
			index[id] = i
			parents = append(parents, ParentInput{ENTUserID: id})
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
