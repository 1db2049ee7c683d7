package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// The reach and stats routes give the figures the small-group rule
// (app/reach.go) decides; these are their views.

// figure is a count that may be withheld: value is null when the group is
// too small (or when giving it would let one compute a small one); label
// says it in words either way.
type figure struct {
	Value *int   `json:"value"`
	Label string `json:"label"`
}

func figureOf(f app.Figure, lang string) figure {
	return figure{Value: f.Value, Label: f.Label.In(lang)}
}

// figurePtr is figureOf for a figure that may be absent (null).
func figurePtr(f *app.Figure, lang string) *figure {
	if f == nil {
		return nil
	}
	v := figureOf(*f, lang)
	return &v
}

// reachGroup is one school and level.
type reachGroup struct {
	UAI          string `json:"uai"`
	School       string `json:"school"`
	Level        string `json:"level"`
	Families     figure `json:"families"`
	Read         figure `json:"read"`
	Acknowledged figure `json:"acknowledged"`
	NotReached   figure `json:"not_reached"`
	// ClassUnknown: for a notice to classes only, the families of this
	// school and level whose child's class is unknown (« classe inconnue »).
	ClassUnknown *figure `json:"class_unknown,omitempty"`
}

func viewReachGroups(gs []app.ReachGroup, lang string) []reachGroup {
	out := make([]reachGroup, len(gs))
	for i, g := range gs {
		out[i] = reachGroup{UAI: g.UAI, School: g.School, Level: string(g.Level), Families: figureOf(g.Families, lang),
			Read: figureOf(g.Read, lang), Acknowledged: figureOf(g.Acknowledged, lang), NotReached: figureOf(g.NotReached, lang),
			ClassUnknown: figurePtr(g.ClassUnknown, lang)}
	}
	return out
}

// reachView is GET /v1/notices/{id}/reach.
type reachView struct {
	NoticeID string       `json:"notice_id"`
	Version  int          `json:"version"`
	Title    string       `json:"title"`
	MinGroup int          `json:"min_group"`
	Groups   []reachGroup `json:"groups"`
	// NotReached lists the groups with families who have not read the
	// notice yet: where to hand out paper.
	NotReached []reachGroup `json:"not_reached"`
	Note       string       `json:"note"`
}

// noticeReach is GET /v1/notices/{id}/reach.
func (s *Server) noticeReach(c *fiber.Ctx) error {
	r, err := s.app.NoticeReach(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	lang := Lang(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(reachView{NoticeID: r.Notice.ID, Version: r.Notice.Version, Title: r.Notice.Title, MinGroup: r.MinGroup,
		Groups: viewReachGroups(r.Groups, lang), NotReached: viewReachGroups(r.NotReached, lang), Note: r.Note.In(lang)})
}

// noticeStats is the answer of GET /v1/notices/{id}/stats.
type noticeStats struct {
	NoticeID         string `json:"notice_id"`
	FamiliesTargeted figure `json:"families_targeted"`
	// Withheld: the audience has fewer than 5 families, or a class of
	// fewer, so no other figure is given.
	Withheld           bool              `json:"withheld"`
	Message            string            `json:"message,omitempty"`
	FamiliesSubscribed *figure           `json:"families_subscribed"`
	Pushes             *pushFigures      `json:"pushes"`
	Failed             map[string]figure `json:"failed"`
	Shown              *figure           `json:"shown"`
	Clicked            *figure           `json:"clicked"`
	Read               *figure           `json:"read"`
	Acknowledged       *figure           `json:"acknowledged"`
}

type pushFigures struct {
	Targeted  figure `json:"targeted"`
	Accepted  figure `json:"accepted"`
	Deferred  figure `json:"deferred"`
	Muted     figure `json:"muted"`
	Digest    figure `json:"digest"`
	Cancelled figure `json:"cancelled"`
}

// getNoticeStats is GET /v1/notices/{id}/stats.
func (s *Server) getNoticeStats(c *fiber.Ctx) error {
	st, err := s.app.Stats(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	lang := Lang(c)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	out := noticeStats{NoticeID: st.NoticeID, FamiliesTargeted: figureOf(st.FamiliesTargeted, lang), Withheld: st.Withheld,
		Message: st.Message.In(lang), FamiliesSubscribed: figurePtr(st.FamiliesSubscribed, lang),
		Shown: figurePtr(st.Shown, lang), Clicked: figurePtr(st.Clicked, lang), Read: figurePtr(st.Read, lang),
		Acknowledged: figurePtr(st.Acknowledged, lang)}
	if st.Pushes != nil {
		out.Pushes = &pushFigures{Targeted: figureOf(st.Pushes.Targeted, lang), Accepted: figureOf(st.Pushes.Accepted, lang),
			Deferred: figureOf(st.Pushes.Deferred, lang), Muted: figureOf(st.Pushes.Muted, lang), Digest: figureOf(st.Pushes.Digest, lang),
			Cancelled: figureOf(st.Pushes.Cancelled, lang)}
	}
	if st.Failed != nil {
		out.Failed = make(map[string]figure, len(st.Failed))
		for k, f := range st.Failed {
			out.Failed[k] = figureOf(f, lang)
		}
	}
	return c.JSON(out)
}
