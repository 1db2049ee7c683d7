package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// The directory from the sign-in (just in time): a parent who signs in
// through their ENT's connector (CAS, OpenID Connect) brings what the ENT
// releases of their children's schools; SignInParent keeps of it what a
// directory sync would and writes it through the sync's own checks and
// write (checkParents, storeParents). A parent known through the sync API
// and through sign-in is one parent: same ENT, same ENT user id.

// SignInParent refreshes, from a parent's sign-in through ENT ent's
// connector, that parent's children in the directory, and returns the
// parent's identity for the session.
//
//   - Only children in schools the ENT serves (ent.Schools) are kept.
//   - The level comes from the school's registry entry (maternelle,
//     élémentaire, collège, lycée); for a primaire school (or one the
//     registry does not know) from the class name (connect.LevelOfClass),
//     else from what the connector said. When nothing says it, the child
//     is recorded under both maternelle and élémentaire: the parent then
//     receives the notices of either level of that school rather than
//     none.
//   - The class is kept when known and acceptable to a sync (else it is
//     unknown: class-targeted notices do not reach that child).
//   - A known class is never lost to a connector that releases less: a
//     child released without a class, in a school and level where the
//     directory already knows the parent's child's class (a sync, an
//     earlier sign-in), keeps the directory's class(es) instead; the
//     directory's unknown-class entries of a school are replaced by what
//     the sign-in names there (keepKnownClasses).
//   - Identical entries are merged; at most 20 are kept, as in a sync.
//
// The write is idempotent: when the directory already holds exactly these
// children nothing is written; otherwise they replace the parent's
// children (locale and muted categories kept), audited as a directory
// change ("parents.sync", by "parent:{ent}") and the directory generation
// moves so caches follow. When the ENT releases no child in a school it
// serves, the directory is left as it is (a sync may know the parent).
// An Identity carries no name nor e-mail: none can be stored; a user id
// that is an e-mail address is refused (CodeAuthInvalidToken).
func (a *App) SignInParent(ctx context.Context, ent store.ENT, id connect.Identity) (*ParentIdentity, error) {
	if ent.Revoked() {
		return nil, Err(CodeResourceNotFound)
	}
	if !id.IsParent() {
		return nil, Err(CodeAuthForbidden)
	}
	// An e-mail address is personal data, never an opaque ENT id (a custom
	// mapping naming an attribute that holds one): refused, not stored.
	if !ValidENTUserID(id.UserID) || strings.Contains(id.UserID, "@") {
		return nil, Err(CodeAuthInvalidToken)
	}
	pi := &ParentIdentity{ENT: &ent, UserID: id.UserID}
	children, err := a.signInChildren(ctx, ent, id.Children)
	if err != nil {
		return nil, err
	}
	if len(children) == 0 {
		a.log.Info("parent sign-in: no child in a school the ENT serves; directory unchanged",
			slog.String("ent", ent.ID), slog.Int("released", len(id.Children)))
		return pi, nil
	}
	cur, err := a.store.GetParent(ctx, ent.ID, id.UserID)
	found := err == nil
	switch {
	case found:
		children = keepKnownClasses(children, cur.Children)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	parents, err := a.checkParents(&ent, []ParentInput{{ENTUserID: id.UserID, Children: children}}, nil)
	if err != nil {
		return nil, err
	}
	if found && sameChildren(cur.Children, parents[0].Children) {
		return pi, nil
	}
	if found {
		keepEnrolments(parents[0].Children, cur.Children)
	}
	au := a.Audit(&Principal{Parent: pi}, "parents.sync", ent.ID,
		fmt.Sprintf("Mise à jour d'un parent à sa connexion par l'ENT « %s » (%d enfant(s) ou école(s))", ent.Name, len(children)), "")
	if _, err := a.storeParents(ctx, &ent, parents, au); err != nil {
		return nil, err
	}
	return pi, nil
}

// signInChildren is what the directory keeps of the released children:
// see SignInParent.
func (a *App) signInChildren(ctx context.Context, ent store.ENT, in []connect.Child) ([]ChildInput, error) {
	served := make(map[string]bool, len(ent.Schools))
	for _, u := range ent.Schools {
		served[frenchid.NormalizeUAI(u)] = true
	}
	levels := map[string]conventions.Level{} // UAI → the registry's level ("" unknown)
	var out []ChildInput
	add := func(c ChildInput) {
		if !slices.Contains(out, c) && len(out) < maxChildrenPerParent {
			out = append(out, c)
		}
	}
	for _, ch := range in {
		uai := frenchid.NormalizeUAI(ch.UAI)
		if !frenchid.UAIValid(uai) || !served[uai] {
			continue
		}
		schoolLevel, ok := levels[uai]
		if !ok {
			s, err := a.store.GetSchool(ctx, uai)
			switch {
			case err == nil:
				schoolLevel = s.Level
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
			levels[uai] = schoolLevel
		}
		class := frenchid.NormalizeClass(strings.TrimSpace(ch.Class))
		if len(class) > maxClassLen || !PlainText(class, false) {
			class = ""
		}
		var level conventions.Level
		switch schoolLevel {
		case conventions.LevelMaternelle, conventions.LevelElementaire, conventions.LevelCollege, conventions.LevelLycee:
			level = schoolLevel
		default: // primaire, or not in the registry
			level = connect.LevelOfClass(class)
			if level == "" && ch.Level.Valid() {
				level = ch.Level
			}
		}
		if level == "" {
			add(ChildInput{UAI: uai, Level: conventions.LevelMaternelle, Class: class})
			add(ChildInput{UAI: uai, Level: conventions.LevelElementaire, Class: class})
			continue
		}
		add(ChildInput{UAI: uai, Level: level, Class: class})
	}
	return out, nil
}

// keepKnownClasses merges a sign-in's children with the directory's: an
// unknown-class child of the sign-in gives way to the directory's
// children of known class in the same school and level; everything else
// is the sign-in's (so its classed children replace the directory's
// unknown-class entries of their school).
func keepKnownClasses(in []ChildInput, cur []store.Child) []ChildInput {
	out := make([]ChildInput, 0, len(in))
	add := func(c ChildInput) {
		if !slices.Contains(out, c) && len(out) < maxChildrenPerParent {
			out = append(out, c)
		}
	}
	for _, c := range in {
		if c.Class != "" {
			add(c)
			continue
		}
		known := false
		for _, k := range cur {
			if k.Class != "" && k.UAI == c.UAI && k.Level == c.Level {
				add(ChildInput{UAI: k.UAI, Level: k.Level, Class: k.Class})
				known = true
			}
		}
		if !known {
			add(c)
		}
	}
	return out
}

// keepEnrolments gives the children of a sign-in (which releases no
// enrolment) what the directory knew of the same child's enrolments
// (same school, level and class).
func keepEnrolments(in, cur []store.Child) {
	for i, c := range in {
		for _, k := range cur {
			if k.UAI == c.UAI && k.Level == c.Level && frenchid.SameClass(k.Class, c.Class) {
				in[i].Enrolment = k.Enrolment
				break
			}
		}
	}
}

// sameChildren reports whether two lists hold the same children, in any
// order (classes compared as the store keeps them).
func sameChildren(a, b []store.Child) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(c store.Child) string {
		return c.UAI + "\x00" + string(c.Level) + "\x00" + frenchid.NormalizeClass(c.Class)
	}
	ka := make([]string, len(a))
	kb := make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
