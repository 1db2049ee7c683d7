package parent

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The « Inscriptions » page: the parent says, per child, which services
// the child is enrolled in (app.SetEnrolments); what the ENT knows is
// shown, not asked.

type enrolmentsData struct {
	Note     string
	Children []childEnrolmentsView
	Flash    string
	Error    string
	Details  []string
}

type childEnrolmentsView struct {
	N, Num             int
	UAI, Level, Class  string
	LevelLabel         string
	Services           []serviceChoice
	Line               string // the parent's declared line
	ENTLine            string // the ENT's line, when it knows it
	ENTTransportRefuse bool   // the ENT says no transport: no line asked
}

type serviceChoice struct {
	Code, Label string
	ENT         string // "oui"/"non" when the ENT knows (not asked), else ""
	Declared    string // "oui", "non" or ""
}

func stateWord(st store.EnrolState) string {
	switch st {
	case store.EnrolYes:
		return "oui"
	case store.EnrolNo:
		return "non"
	}
	return ""
}

func (p *Page) enrolments(r *rq) error {
	cs, err := p.core.Enrolments(r.c.UserContext(), r.pr)
	if err != nil {
		return p.appError(r, err)
	}
	flash := savedFlash(r, "Vos réponses sont enregistrées.", "Your answers are saved.")
	return p.renderEnrolments(r, fiber.StatusOK, cs, flash, nil)
}

func (p *Page) renderEnrolments(r *rq, status int, cs []app.ChildEnrolments, flash string, e *app.Error) error {
	d := enrolmentsData{Note: app.EnrolmentsNote.In(r.lang), Flash: flash}
	for i, c := range cs {
		v := childEnrolmentsView{N: i, Num: i + 1, UAI: c.Child.UAI, Level: string(c.Child.Level), Class: c.Child.Class,
			LevelLabel: conventions.LevelLabel(c.Child.Level, r.lang), Line: c.Declared.Line, ENTLine: c.ENT.Line,
			ENTTransportRefuse: c.ENT.Transport == store.EnrolNo}
		for _, s := range conventions.EnrolmentServices {
			v.Services = append(v.Services, serviceChoice{Code: s, Label: conventions.EnrolmentLabel(s, r.lang),
				ENT: stateWord(c.ENT.State(s)), Declared: stateWord(c.Declared.State(s))})
		}
		d.Children = append(d.Children, v)
	}
	if e != nil {
		d.Error, d.Details = e.Code.Message(r.lang), detailTexts(e, r.lang)
	}
	return p.render(r, status, "enrolments", r.L("Inscriptions", "Enrolments"), d)
}

// saveEnrolments stores the parent's answers; a refusal is shown on the
// form, nothing saved.
func (p *Page) saveEnrolments(r *rq) error {
	ctx := r.c.UserContext()
	cur, err := p.core.Enrolments(ctx, r.pr)
	if err != nil {
		return p.appError(r, err)
	}
	var req app.EnrolmentsRequest
	for i, c := range cur {
		in := app.ChildEnrolmentInput{UAI: c.Child.UAI, Level: c.Child.Level, Class: c.Child.Class}
		for _, s := range conventions.EnrolmentServices {
			var b *bool
			switch r.c.FormValue(fmt.Sprintf("c%d.%s", i, s)) {
			case "oui":
				t := true
				b = &t
			case "non":
				f := false
				b = &f
			}
			in.Enrolment.Set(s, b)
		}
		in.Enrolment.Line = r.c.FormValue(fmt.Sprintf("c%d.line", i))
		req.Children = append(req.Children, in)
	}
	if _, err := p.core.SetEnrolments(ctx, r.pr, req); err != nil {
		e, cause := app.AsError(err)
		if cause != app.CauseExpected {
			return p.unavailable(r, err)
		}
		return p.renderEnrolments(r, e.Code.Status(), cur, "", e)
	}
	return r.c.Redirect(r.base()+"inscriptions?ok=1", fiber.StatusSeeOther)
}
