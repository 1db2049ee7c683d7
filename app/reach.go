package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/ttlcache"
)

// Text is the reach figures' name for a Bilingual sentence.
type Text = Bilingual

// Family counts ("reaches N families") are asked for by every check and
// publication, and counting distinct parents over a large directory costs
// tens of milliseconds. They are cached per audience for a few seconds;
// a directory change made through this process empties the cache at once
// (other processes' changes show within the TTL). What is cached is what
// the small-group rule needs (familyCount).
const familyCacheTTL = 10 * time.Second

type familyCache struct {
	counts ttlcache.Cache[string, familyCount]
}

func audienceKey(a store.Audience) string {
	norm := func(xs []string) string {
		c := slices.Clone(xs)
		slices.Sort(c)
		return strings.Join(c, ",")
	}
	return norm(a.Schools) + "|" + norm(conventions.Strings(a.Levels)) + "|" + norm(frenchid.NormalizeClasses(a.Classes)) +
		"|" + norm(a.Enrolments) + "|" + norm(store.NormalizeLines(a.Lines))
}

// The small-group rule: no figure about 1 to minGroup-1 families leaves
// the service, by any route or by difference. smallGroups decides it, in
// this one place, for every route that gives a figure about families —
// /reach, /stats, /check, publication, correction and replay — and the
// back-office shows only what those routes give.
//
//  1. A count from 1 to 4 is withheld ("moins de 5").
//  2. So is a count whose complement in its whole (the group's families
//     minus those who read, say) is from 1 to 4 ("au moins N"), and any
//     count whose whole is withheld.
//  3. The families of an audience, or of a /reach group, are decided over
//     cells: a class of one level of a school (store.FamilyCell), the
//     finest group an audience can name. When a cell has 1 to 4
//     families, the count is withheld — another audience without that
//     class would give it by difference — and nothing else is said about
//     the group; the label gives the families of the other classes
//     ("au moins N").
//  4. A total that /reach also gives per group (read, acknowledged) is
//     withheld when one group's figure is: the total minus the others
//     would give it.
//  5. Counts that add up to a whole (what became of the pushes) are all
//     withheld when one of them is, for the same reason.
//  6. Every figure given is rounded down to a multiple of 5, its label
//     giving the range ("20 à 24"). Rules 1 to 5 compare exact counts;
//     this one closes what they cannot see: a family with children in
//     two classes counts once in their union but once in each, so three
//     exact figures (A, B, A∪B) would give the families in both by
//     difference. With every figure a multiple of 5, any sum or
//     difference of figures is one too, never 1 to 4.
//  7. What became of the pushes (/stats) is counted in devices, and a
//     family may have up to store.MaxPushSubscriptions of them: 6 muted
//     pushes can be one family's choice. Those figures follow rules 1,
//     2, 5 and 6 in devices, with 50 in place of 5 (minDevices: 5
//     families × 10 devices), so a device figure given always stands for
//     5 families at least — below 50 it is withheld, and every one is a
//     multiple of 50, so no difference of them is about fewer.

// minGroup is the smallest group of families a figure is given for:
// below it, a count could point at a family ("moins de 5").
const minGroup = 5

// minDevices is rule 7's threshold and step for figures counted in
// devices: the devices 5 families may have, so that a figure of devices
// given can never be about fewer than 5 families.
const minDevices = minGroup * store.MaxPushSubscriptions

// Figure is a count about families as it may leave the service: Value is
// nil when the group is too small (or when giving it would let one
// compute a small one).
type Figure struct {
	Value *int // nil: withheld
	// Label says it in words, in French and in English: the range a
	// rounded count stands for ("20 à 24"), or why it is withheld.
	Label Text
	// exact is the count Value was rounded from: rules 1 to 5 compare
	// exact counts (a complement of a rounded whole would be wrong). It
	// never leaves the service.
	exact int
}

// shown gives a count rounded down to a multiple of minGroup, with the
// range it stands for in its label ("20 à 24"): every figure that leaves
// the service is a multiple of 5, so no sum or difference of figures —
// of overlapping audiences, of a whole and its parts — can come out
// between 1 and 4 (rule 6). Zero is given as it is.
func (r smallGroups) shown(n int) Figure {
	if n <= 0 {
		return Figure{Value: &n, Label: Text{fmt.Sprint(n), fmt.Sprint(n)}, exact: n}
	}
	low := r.roundDown(n)
	return Figure{Value: &low, exact: n, Label: Text{fmt.Sprintf("%d à %d", low, low+r.min()-1), fmt.Sprintf("%d to %d", low, low+r.min()-1)}}
}

func withheld(fr, en string) Figure { return Figure{Label: Text{fr, en}} }

func isSmall(n int) bool { return smallGroups{}.isSmall(n) }

func roundDown(n int) int { return smallGroups{}.roundDown(n) }

// familyCount is what rule 3 needs about an audience or a group.
type familyCount struct {
	Families int  // distinct families with a child in it
	Small    bool // one of its cells has 1 to minGroup-1 families
	Large    int  // distinct families with a child in a cell of minGroup or more
}

// smallGroups decides the figures: of families, or with devices set, of
// devices (rule 7).
type smallGroups struct{ devices bool }

// min is the smallest figure given, and the step figures are rounded to.
func (r smallGroups) min() int {
	if r.devices {
		return minDevices
	}
	return minGroup
}

// isSmall reports a count that may not be given: 1 to min()-1.
func (r smallGroups) isSmall(n int) bool { return n > 0 && n < r.min() }

// roundDown is n rounded down to a multiple of min() (rules 6, 7).
func (r smallGroups) roundDown(n int) int { return n - n%r.min() }

func (r smallGroups) fewer() Figure {
	if r.devices {
		return withheld("moins de 50 appareils (ils pourraient être ceux de moins de 5 familles)",
			"fewer than 50 devices (they could be those of fewer than 5 families)")
	}
	return withheld("moins de 5", "fewer than 5")
}

func (r smallGroups) hidden() Figure {
	if r.devices {
		return withheld("non communiqué (moins de 50 appareils en tout)", "not given (fewer than 50 devices in all)")
	}
	return withheld("non communiqué (groupe de moins de 5 familles)", "not given (group of fewer than 5 families)")
}

func (r smallGroups) atLeast(n int) Figure {
	n = r.roundDown(n)
	return withheld(fmt.Sprintf("au moins %d", n), fmt.Sprintf("at least %d", n))
}

// families decides the families of an audience or group (rules 1 and 3).
func (r smallGroups) families(c familyCount) Figure {
	switch {
	case c.Small && c.Large >= minGroup:
		return withheld(fmt.Sprintf("au moins %d (les classes de moins de 5 familles ne sont pas comptées)", roundDown(c.Large)),
			fmt.Sprintf("at least %d (classes of fewer than 5 families are not counted)", roundDown(c.Large)))
	case isSmall(c.Families):
		return r.fewer()
	case c.Small:
		return withheld("non communiqué (classes de moins de 5 familles)", "not given (classes of fewer than 5 families)")
	}
	return r.shown(c.Families)
}

// part decides a count n within wholes given alongside it (rules 1, 2).
func (r smallGroups) part(n int, wholes ...Figure) Figure {
	for _, w := range wholes {
		if w.Value == nil {
			return r.hidden()
		}
	}
	if r.isSmall(n) {
		return r.fewer()
	}
	for _, w := range wholes {
		if r.isSmall(w.exact - n) {
			// The label may say only what the whole's given (rounded)
			// value already says: from the exact whole, « au moins 10 »
			// next to « 10 à 14 » would give the whole exactly (14).
			// n ≥ whole − 4 ≥ its rounded value − 4 > rounded − 5.
			if lo := *w.Value - r.min(); lo > 0 {
				return r.atLeast(lo)
			}
			return r.derivable()
		}
	}
	return r.shown(n)
}

// derivable withholds a figure that would let one compute a small one.
func (r smallGroups) derivable() Figure {
	if r.devices {
		return withheld("non communiqué (il permettrait de calculer un chiffre de moins de 50 appareils)",
			"not given (it would let one compute a figure below 50 devices)")
	}
	return withheld("non communiqué (il permettrait de calculer un chiffre de moins de 5)",
		"not given (it would let one compute a figure below 5)")
}

// total decides a total whose per-group figures are groups (rule 4).
func (r smallGroups) total(n int, groups []Figure, wholes ...Figure) Figure {
	if slices.ContainsFunc(groups, func(f Figure) bool { return f.Value == nil }) {
		return withheld("non communiqué (un groupe compte moins de 5 familles)", "not given (a group has fewer than 5 families)")
	}
	return r.part(n, wholes...)
}

// partition decides counts that add up to whole (rule 5).
func (r smallGroups) partition(whole Figure, parts ...int) []Figure {
	out := make([]Figure, len(parts))
	hide := false
	for i, n := range parts {
		out[i] = r.part(n, whole)
		hide = hide || out[i].Value == nil
	}
	if hide {
		for i := range out {
			if out[i].Value != nil {
				out[i] = r.derivable()
			}
		}
	}
	return out
}

// group decides the figures of one /reach group.
func (r smallGroups) group(g store.ReachGroup, c familyCount) ReachGroup {
	out := ReachGroup{UAI: g.UAI, Level: g.Level, Families: r.families(c)}
	if out.Families.Value == nil {
		out.Read, out.Acknowledged, out.NotReached = r.hidden(), r.hidden(), r.hidden()
		return out
	}
	rn := r.partition(out.Families, g.Read, g.Families-g.Read)
	out.Read, out.NotReached = rn[0], rn[1]
	out.Acknowledged = r.acknowledged(g.Acked, out.Families, out.Read)
	return out
}

// acknowledged decides a count of acknowledgements: within the families,
// and within those who read when that figure is given.
func (r smallGroups) acknowledged(n int, families, read Figure) Figure {
	if read.Value != nil {
		return r.part(n, families, read)
	}
	return r.part(n, families)
}

// countAudience counts the families of an audience for rule 3.
func (a *App) countAudience(ctx context.Context, aud store.Audience) (familyCount, error) {
	return a.families.counts.Fetch(audienceKey(aud), a.DirectoryGen(), func() (familyCount, error) {
		var out familyCount
		cells, err := a.store.AudienceCells(ctx, aud)
		if err != nil {
			return out, err
		}
		if out.Families, err = a.store.CountFamilies(ctx, aud); err != nil {
			return out, err
		}
		out.Small, out.Large, err = a.largeCells(ctx, aud, cells, out.Families)
		return out, err
	})
}

// largeCells reports whether cells has a small one, and counts the
// families of the others (all families when none is small).
//
// With enrolment targeting (aud.Enrolments), a cell is the families of a
// class the audience's enrolments take; those it leaves out of the class
// are a group too — the whole class's figure minus this one would give
// them — so a class that it splits into a part of 1 to 4 families counts
// as small as well (rule 3 over the finer cells).
func (a *App) largeCells(ctx context.Context, aud store.Audience, cells []store.FamilyCell, all int) (bool, int, error) {
	whole := map[string]int{}
	if len(aud.Enrolments) > 0 {
		unfiltered, err := a.store.AudienceCells(ctx, store.Audience{Schools: aud.Schools, Levels: aud.Levels, Classes: aud.Classes})
		if err != nil {
			return false, 0, err
		}
		for _, c := range unfiltered {
			whole[c.CellKey()] = c.Families
		}
	}
	small := func(c store.FamilyCell) bool {
		return c.Families < minGroup || (len(aud.Enrolments) > 0 && isSmall(whole[c.CellKey()]-c.Families))
	}
	large := slices.DeleteFunc(slices.Clone(cells), small)
	if len(large) == len(cells) {
		return false, all, nil
	}
	n, err := a.store.CountFamiliesIn(ctx, aud, large)
	return true, n, err
}

// ReachGroup is one school and level of a notice's audience.
type ReachGroup struct {
	UAI          string
	School       string
	Level        conventions.Level
	Families     Figure
	Read         Figure
	Acknowledged Figure
	NotReached   Figure
	// ClassUnknown is given for a notice to classes only: the families
	// with a child of this school and level whose class the ENT did not
	// release (a class-targeted notice does not reach that child; a
	// paper copy may). Nil otherwise.
	ClassUnknown *Figure
}

// Reach is how far a notice went, per school and level of its audience.
type Reach struct {
	Notice   store.Notice
	MinGroup int
	Groups   []ReachGroup
	// NotReached lists the groups with families who have not read the
	// notice yet: where to hand out paper. A group whose figure « not
	// reached » is withheld is always listed.
	NotReached []ReachGroup
	Note       Text
}

// reachNote explains the figures of a Reach.
var reachNote = Text{
	"Aucun chiffre n'est donné pour un groupe de moins de 5 familles, ni pour une école et un niveau dont une classe compte moins de 5 familles. Les chiffres sont arrondis à 5 près (« 20 à 24 »), pour qu'aucune différence entre deux chiffres ne désigne moins de 5 familles. Les chiffres des notifications comptent des appareils (jusqu'à 10 par famille) : ils sont donnés à partir de 50 et arrondis à 50 près. Une famille ayant des enfants dans deux groupes compte dans chacun. « Non atteintes » : familles qui n'ont pas encore ouvert l'information ; pensez à leur remettre un exemplaire papier.",
	"No figure is given for a group of fewer than 5 families, nor for a school level one of whose classes has fewer than 5 families. Figures are rounded down to a multiple of 5 (\"20 to 24\"), so that no difference between two figures points at fewer than 5 families. Notification figures count devices (up to 10 a family): they are given from 50, rounded down to 50. A family with children in two groups counts in each. \"Not reached\": families who have not opened the notice yet; consider handing them a paper copy.",
}

// reachGroups computes the reach groups of a notice for an audience;
// raw are the store's counts, in the same order.
func (a *App) reachGroups(ctx context.Context, noticeID string, aud store.Audience, r smallGroups) (raw []store.ReachGroup, out []ReachGroup, err error) {
	raw, err = a.store.NoticeReach(ctx, noticeID, aud)
	if err != nil {
		return nil, nil, err
	}
	cells, err := a.store.AudienceCells(ctx, aud)
	if err != nil {
		return nil, nil, err
	}
	out = make([]ReachGroup, len(raw))
	for i, g := range raw {
		c := familyCount{Families: g.Families}
		own := slices.DeleteFunc(slices.Clone(cells), func(c store.FamilyCell) bool { return c.UAI != g.UAI || c.Level != g.Level })
		if c.Small, c.Large, err = a.largeCells(ctx, aud, own, g.Families); err != nil {
			return nil, nil, err
		}
		out[i] = r.group(g, c)
	}
	return raw, out, nil
}

// NoticeReach is the reach of a notice, for the agents and admins of the
// notice's collectivité and the viewers of its schools (who see their
// schools only).
func (a *App) NoticeReach(ctx context.Context, p *Principal, id string) (Reach, error) {
	if !p.Is(store.RoleAgent, store.RoleAdmin, store.RoleViewer) {
		return Reach{}, Err(CodeAuthForbidden)
	}
	n, err := a.Notice(ctx, p, id)
	if err != nil {
		return Reach{}, err
	}
	aud := n.Audience
	if p.Is(store.RoleViewer) {
		aud.Schools = slices.DeleteFunc(slices.Clone(aud.Schools), func(u string) bool { return !slices.Contains(p.Account.Schools, u) })
	}
	raw, groups, err := a.reachGroups(ctx, n.ID, aud, smallGroups{})
	if err != nil {
		return Reach{}, err
	}
	unknown := map[int]bool{}
	if len(aud.Classes) > 0 {
		if raw, groups, unknown, err = a.classUnknown(ctx, aud, raw, groups, smallGroups{}); err != nil {
			return Reach{}, err
		}
	}
	out := Reach{Notice: n, MinGroup: minGroup, Groups: []ReachGroup{}, NotReached: []ReachGroup{}, Note: reachNote}
	names := map[string]string{}
	for i, rg := range groups {
		name, ok := names[rg.UAI]
		if !ok {
			sc, err := a.store.GetSchool(ctx, rg.UAI)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return Reach{}, err
			}
			name, names[rg.UAI] = sc.Name, sc.Name
		}
		rg.School = name
		out.Groups = append(out.Groups, rg)
		// A group whose figure « not reached » is withheld is always on
		// the list: whether it is must not tell whether its few families
		// all read the notice.
		if raw[i].Families > raw[i].Read || unknown[i] || rg.NotReached.Value == nil {
			out.NotReached = append(out.NotReached, rg)
		}
	}
	return out, nil
}

// ClassUnknownNote explains the figure « classe inconnue » (the
// back-office shows it under the reach of a notice to classes).
var ClassUnknownNote = Text{
	"« Classe inconnue » : familles ayant un enfant de cette école et de ce niveau dont l'ENT n'a pas communiqué la classe ; une information destinée à des classes ne leur parvient pas par cet enfant (pensez à l'exemplaire papier).",
	"\"Class unknown\": families with a child in this school and level whose class the ENT did not give; a notice to classes does not reach them through that child (consider a paper copy).",
}

// classUnknown gives each group of a class-targeted notice its figure
// « classe inconnue »: the families with a child of the group's school
// and level whose class is unknown — the cell of class "" of the
// audience without its classes (store.AudienceCells), which a
// class-targeted audience never reaches. A school and level with such
// families and none reached gets a group of its own (its other figures
// 0). The figure is a cell's count, decided as every other (withheld from
// 1 to 4, rounded to 5): a whole-level notice's count, which includes
// this cell, is withheld when the cell is small (rule 3), and every
// figure being a multiple of 5, the level's count minus the classes'
// minus this one is never 1 to 4 (rule 6). unknown marks the groups that
// have such families, for the list of the groups not reached.
func (a *App) classUnknown(ctx context.Context, aud store.Audience, raw []store.ReachGroup, groups []ReachGroup, r smallGroups) ([]store.ReachGroup, []ReachGroup, map[int]bool, error) {
	cells, err := a.store.AudienceCells(ctx, store.Audience{Schools: aud.Schools, Levels: aud.Levels, Enrolments: aud.Enrolments, Lines: aud.Lines})
	if err != nil {
		return nil, nil, nil, err
	}
	type key struct {
		uai   string
		level conventions.Level
	}
	count := map[key]int{}
	for _, c := range cells {
		if c.Class == "" {
			count[key{c.UAI, c.Level}] = c.Families
		}
	}
	have := map[key]bool{}
	for _, g := range raw {
		have[key{g.UAI, g.Level}] = true
	}
	for k := range count {
		if !have[k] {
			g := store.ReachGroup{UAI: k.uai, Level: k.level}
			raw = append(raw, g)
			groups = append(groups, r.group(g, familyCount{}))
		}
	}
	order := make([]int, len(raw))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		x, y := raw[order[i]], raw[order[j]]
		if x.UAI != y.UAI {
			return x.UAI < y.UAI
		}
		return x.Level < y.Level
	})
	sortedRaw, sortedGroups, unknown := make([]store.ReachGroup, len(raw)), make([]ReachGroup, len(raw)), map[int]bool{}
	for i, j := range order {
		sortedRaw[i], sortedGroups[i] = raw[j], groups[j]
		n := count[key{raw[j].UAI, raw[j].Level}]
		f := r.shown(n)
		if isSmall(n) {
			f = r.fewer()
		}
		sortedGroups[i].ClassUnknown = &f
		unknown[i] = n > 0
	}
	return sortedRaw, sortedGroups, unknown, nil
}

// NoticeStats is the reach of a notice (all its versions together). Every
// figure is decided by smallGroups.
type NoticeStats struct {
	NoticeID         string
	FamiliesTargeted Figure
	// Withheld: the audience has fewer than minGroup families, or a class
	// of fewer, so no other figure is given (they would tell about
	// individual families); Message says so.
	Withheld           bool
	Message            Text
	FamiliesSubscribed *Figure
	Pushes             *PushFigures
	Failed             map[string]Figure
	Shown              *Figure
	Clicked            *Figure
	Read               *Figure
	Acknowledged       *Figure
}

// PushFigures is what became of a notice's pushes.
type PushFigures struct {
	Targeted  Figure
	Accepted  Figure
	Deferred  Figure
	Muted     Figure
	Digest    Figure // left out of the immediate push for the daily summary
	Cancelled Figure
}

// Stats is the reach of a notice for the staff who may read it:
// operators, and the admins and agents of its collectivité.
func (a *App) Stats(ctx context.Context, p *Principal, id string) (NoticeStats, error) {
	if !p.Is(store.RoleOperator, store.RoleAdmin, store.RoleAgent) {
		return NoticeStats{}, Err(CodeAuthForbidden)
	}
	n, err := a.Notice(ctx, p, id)
	if err != nil {
		return NoticeStats{}, err
	}
	r := smallGroups{}
	out := NoticeStats{NoticeID: n.ID}
	fam, err := a.countAudience(ctx, n.Audience)
	if err != nil {
		return out, err
	}
	targeted := r.families(fam)
	out.FamiliesTargeted = targeted
	if targeted.Value == nil || *targeted.Value < minGroup {
		out.Withheld = true
		out.Message = Text{"Moins de 5 familles ciblées, ou une classe de moins de 5 familles : aucun autre chiffre n'est communiqué, pour ne rien révéler d'une famille en particulier.",
			"Fewer than 5 families targeted, or a class of fewer than 5 families: no other figure is given, so as to reveal nothing about any one family."}
		return out, nil
	}
	_, groups, err := a.reachGroups(ctx, n.ID, n.Audience, r)
	if err != nil {
		return out, err
	}
	read, acked, err := a.store.NoticeReadCounts(ctx, n.ID)
	if err != nil {
		return out, err
	}
	groupRead, groupAcked := make([]Figure, len(groups)), make([]Figure, len(groups))
	for i, g := range groups {
		groupRead[i], groupAcked[i] = g.Read, g.Acknowledged
	}
	rd := r.total(read, groupRead, targeted)
	ak := r.total(acked, groupAcked, targeted)
	if ak.Value != nil && rd.Value != nil {
		ak = r.acknowledged(acked, targeted, rd)
	}
	out.Read, out.Acknowledged = &rd, &ak

	subscribed, err := a.store.CountSubscribedFamilies(ctx, n.Audience)
	if err != nil {
		return out, err
	}
	sub := r.part(subscribed, targeted)
	out.FamiliesSubscribed = &sub

	if subscribed < minGroup {
		// The push figures count devices, up to 10 a family: with fewer
		// than 5 families subscribed, every one of them — devices pushed,
		// muted, shown, opened, which failures — would be about those few
		// families. None is given, nor which failures there were.
		h := withheld("non communiqué (moins de 5 familles abonnées)", "not given (fewer than 5 families subscribed)")
		out.Pushes = &PushFigures{Targeted: h, Accepted: h, Deferred: h, Muted: h, Digest: h, Cancelled: h}
		out.Failed = map[string]Figure{}
		out.Shown, out.Clicked = &h, &h
		return out, nil
	}
	ps, err := a.store.NoticePushStats(ctx, n.ID)
	if err != nil {
		return out, err
	}
	var reasons []string
	for name := range ps.Counts {
		if reason, ok := strings.CutPrefix(name, store.CountFailedPrefix); ok {
			reasons = append(reasons, reason)
		}
	}
	sort.Strings(reasons)
	r = smallGroups{devices: true} // rule 7: what follows counts devices
	pushed := r.part(ps.Counts[store.CountTargeted])
	parts := []int{ps.Counts[store.CountAccepted], ps.Counts[store.CountDeferred], ps.Counts[store.CountMuted], ps.Counts[store.CountCancelled],
		ps.Counts[store.CountDigest]}
	for _, reason := range reasons {
		parts = append(parts, ps.Counts[store.CountFailedPrefix+reason])
	}
	figs := r.partition(pushed, parts...)
	out.Pushes = &PushFigures{Targeted: pushed, Accepted: figs[0], Deferred: figs[1], Muted: figs[2], Cancelled: figs[3], Digest: figs[4]}
	out.Failed = map[string]Figure{}
	for i, reason := range reasons {
		out.Failed[reason] = figs[5+i]
	}
	shownF := r.part(ps.Shown, out.Pushes.Accepted)
	clicked := r.part(ps.Clicked, shownF)
	out.Shown, out.Clicked = &shownF, &clicked
	return out, nil
}
