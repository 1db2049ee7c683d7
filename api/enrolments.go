package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// enrolmentView is what is known of a child's enrolments: per service,
// true enrolled, false not, absent unknown; the transport line if known
// (the shape of app.EnrolmentInput, which converts).
type enrolmentView app.EnrolmentInput

func viewEnrolment(e store.Enrolment) enrolmentView {
	return enrolmentView(app.EnrolmentInputOf(e))
}

// childEnrolmentsView is one child of GET/PUT /v1/me/enrolments.
type childEnrolmentsView struct {
	UAI   string `json:"uai"`
	Level string `json:"level"`
	Class string `json:"class,omitempty"`
	// ENT: what the ENT knows (it wins); Declared: what the parent
	// declared; Enrolment: both together, what notices are matched on.
	ENT       enrolmentView `json:"ent"`
	Declared  enrolmentView `json:"declared"`
	Enrolment enrolmentView `json:"enrolment"`
}

type serviceLabel struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// enrolmentsView is GET/PUT /v1/me/enrolments.
type enrolmentsView struct {
	Children []childEnrolmentsView `json:"children"`
	Services []serviceLabel        `json:"services"`
	Note     string                `json:"note"`
}

func viewEnrolments(cs []app.ChildEnrolments, lang string) enrolmentsView {
	v := enrolmentsView{Children: make([]childEnrolmentsView, len(cs)),
		Note: app.Pick(lang, app.EnrolmentsNote.FR, app.EnrolmentsNote.EN)}
	for i, c := range cs {
		v.Children[i] = childEnrolmentsView{UAI: c.Child.UAI, Level: string(c.Child.Level), Class: c.Child.Class,
			ENT: viewEnrolment(c.ENT), Declared: viewEnrolment(c.Declared), Enrolment: viewEnrolment(c.Known)}
	}
	for _, s := range conventions.EnrolmentServices {
		v.Services = append(v.Services, serviceLabel{Code: s, Label: conventions.EnrolmentLabel(s, lang)})
	}
	return v
}

// getEnrolments is GET /v1/me/enrolments.
func (s *Server) getEnrolments(c *fiber.Ctx) error {
	cs, err := s.app.Enrolments(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.JSON(viewEnrolments(cs, Lang(c)))
}

// putEnrolments is PUT /v1/me/enrolments: the parent's declarations.
func (s *Server) putEnrolments(c *fiber.Ctx) error {
	cs, err := decoded(c, s.cfg.BodyLimit, nil, s.app.SetEnrolments)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(viewEnrolments(cs, Lang(c)))
}
