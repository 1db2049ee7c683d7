package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// A parent declares their children's enrolments ("mon enfant mange à la
// cantine", "prend la ligne S12"), for notices that target the families
// enrolled in a service. What the ENT knows wins; the parent's
// declaration fills what it leaves unknown (store.Enrolment.Merge).

// ChildEnrolmentInput is the declaration for one of the parent's
// children, named by school, level and class as GET /v1/me gives them.
type ChildEnrolmentInput struct {
	UAI       string            `json:"uai"`
	Level     conventions.Level `json:"level"`
	Class     string            `json:"class,omitempty"`
	Enrolment EnrolmentInput    `json:"enrolment"`
}

// EnrolmentsRequest replaces the parent's declarations (a child left out
// has none).
type EnrolmentsRequest struct {
	Children []ChildEnrolmentInput `json:"children" validate:"max=20"`
}

// ChildEnrolments is one child and what is known of their enrolments:
// from the ENT, from the parent, and both together.
type ChildEnrolments struct {
	Child    store.Child
	ENT      store.Enrolment // what the ENT says (it wins)
	Declared store.Enrolment // what the parent declared
	Known    store.Enrolment // both together: what notices are matched on
}

// Enrolments are the signed-in parent's children and their enrolments.
func (a *App) Enrolments(ctx context.Context, p *Principal) ([]ChildEnrolments, error) {
	id, err := signedInParent(p)
	if err != nil {
		return nil, err
	}
	par, err := a.syncedParent(ctx, id)
	if err != nil {
		return nil, err
	}
	return childEnrolments(par.Children), nil
}

// syncedParent is the signed-in parent's record, feed.not_synced while
// their ENT has not sent it.
func (a *App) syncedParent(ctx context.Context, id *ParentIdentity) (store.Parent, error) {
	par, err := a.store.GetParent(ctx, id.ENT.ID, id.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Parent{}, Err(CodeFeedNotSynced)
	}
	return par, err
}

func childEnrolments(children []store.Child) []ChildEnrolments {
	out := make([]ChildEnrolments, len(children))
	for i, c := range children {
		out[i] = ChildEnrolments{Child: c, ENT: c.Enrolment, Declared: c.Declared, Known: c.Enrolled()}
	}
	return out
}

// SetEnrolments stores the signed-in parent's declarations: each about
// one of their children (parents.unknown_child otherwise), with a valid
// line. Nothing is written when one is refused.
func (a *App) SetEnrolments(ctx context.Context, p *Principal, req EnrolmentsRequest) ([]ChildEnrolments, error) {
	id, err := signedInParent(p)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(&req); err != nil {
		return nil, err
	}
	par, err := a.syncedParent(ctx, id)
	if err != nil {
		return nil, err
	}
	var ds []Detail
	decls := make([]store.ChildEnrolment, 0, len(req.Children))
	for i, ci := range req.Children {
		f := fmt.Sprintf("children[%d]", i)
		d := store.ChildEnrolment{UAI: ci.UAI, Level: ci.Level, Class: ci.Class}
		known := false
		for _, c := range par.Children {
			known = known || d.Is(c)
		}
		if !known {
			ds = append(ds, NewDetail(f, "parents.unknown_child",
				"Cet enfant ne figure pas parmi les vôtres : choisissez-le dans la liste de vos enfants.",
				"This child is not one of yours: choose them from the list of your children."))
			continue
		}
		ds = append(ds, enrolmentDetails(f+".enrolment", &ci.Enrolment)...)
		d.Enrolment = ci.Enrolment.enrolment()
		decls = append(decls, d)
	}
	if len(ds) > 0 {
		return nil, Err(CodeRequestValidationFailed, ds...)
	}
	if err := a.store.SetDeclaredEnrolments(ctx, id.ENT.ID, id.UserID, decls); err != nil {
		return nil, err
	}
	a.parentChanged(id.ENT.ID, id.UserID)
	a.DirectoryChanged()
	par.Children = store.WithDeclarations(par.Children, decls)
	return childEnrolments(par.Children), nil
}

// EnrolmentsNote tells parents what their declarations are for.
var EnrolmentsNote = Bilingual{
	FR: "Indiquez les services où votre enfant est inscrit : les informations réservées aux familles d'un service (cantine, ligne de car…) vous parviennent alors seulement si elles vous concernent. Sans réponse, vous recevez tout. Ce que l'ENT indique prime sur votre déclaration.",
	EN: "Tell us which services your child is enrolled in: notices meant for the families of a service (canteen, bus line…) then reach you only when they concern you. Without an answer, you get everything. What the ENT says takes precedence over your declaration.",
}
