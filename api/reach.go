package api

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/internal/store"
)

// minGroup is the smallest group of families a figure is given for:
// below it, a count could point at a family ("moins de 5").
const minGroup = 5

// figure is a count that may be withheld: Value is null when the group
// is too small (or when giving it would let one compute a small one);
// Label says it in words either way.
type figure struct {
	Value *int   `json:"value"`
	Label string `json:"label"`
}

func shown(n int) figure { return figure{Value: &n, Label: fmt.Sprint(n)} }

func withheld(label string) figure { return figure{Label: label} }

// reachGroup is one school and level.
type reachGroup struct {
	UAI          string `json:"uai"`
	School       string `json:"school"`
	Level        string `json:"level"`
	Families     figure `json:"families"`
	Read         figure `json:"read"`
	Acknowledged figure `json:"acknowledged"`
	NotReached   figure `json:"not_reached"`
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

// reachFigures applies the small-group rule to one group. A group of
// fewer than minGroup families gives no figure at all. In a larger group,
// a count of read (or not read) families between 1 and minGroup-1 is
// withheld, and so is its complement, which would give it away.
func reachFigures(g store.ReachGroup, lang string) reachGroup {
	small := pick(lang, "moins de 5", "fewer than 5")
	hidden := pick(lang, "non communiqué (groupe de moins de 5 familles)", "not given (group of fewer than 5 families)")
	out := reachGroup{UAI: g.UAI, Level: g.Level}
	if g.Families < minGroup {
		out.Families, out.Read, out.Acknowledged, out.NotReached = withheld(small), withheld(hidden), withheld(hidden), withheld(hidden)
		return out
	}
	out.Families = shown(g.Families)
	isSmall := func(n int) bool { return n > 0 && n < minGroup }
	notReached := g.Families - g.Read
	atLeast := pick(lang, fmt.Sprintf("au moins %d", g.Families-minGroup+1), fmt.Sprintf("at least %d", g.Families-minGroup+1))
	switch {
	case isSmall(g.Read):
		out.Read, out.NotReached = withheld(small), withheld(atLeast)
	case isSmall(notReached):
		out.Read, out.NotReached = withheld(atLeast), withheld(small)
	default:
		out.Read, out.NotReached = shown(g.Read), shown(notReached)
	}
	if isSmall(g.Acked) {
		out.Acknowledged = withheld(small)
	} else {
		out.Acknowledged = shown(g.Acked)
	}
	return out
}

// noticeReach is GET /v1/notices/{id}/reach, for the agents and admins of
// the notice's collectivité and the viewers of its schools (who see their
// schools only).
func (s *Server) noticeReach(c *fiber.Ctx) error {
	n, err := s.loadNotice(c)
	if err != nil {
		return err
	}
	p := principal(c)
	aud := n.Audience
	if p.Is(store.RoleViewer) {
		aud.Schools = slices.DeleteFunc(slices.Clone(aud.Schools), func(u string) bool { return !slices.Contains(p.Account.Schools, u) })
	}
	ctx := c.UserContext()
	groups, err := s.store.NoticeReach(ctx, n.ID, aud)
	if err != nil {
		return err
	}
	lang := Lang(c)
	v := reachView{NoticeID: n.ID, Version: n.Version, Title: n.Title, MinGroup: minGroup, Groups: []reachGroup{}, NotReached: []reachGroup{},
		Note: pick(lang,
			"Aucun chiffre n'est donné pour un groupe de moins de 5 familles. Une famille ayant des enfants dans deux groupes compte dans chacun. « Non atteintes » : familles qui n'ont pas encore ouvert l'information ; pensez à leur remettre un exemplaire papier.",
			"No figure is given for a group of fewer than 5 families. A family with children in two groups counts in each. \"Not reached\": families who have not opened the notice yet; consider handing them a paper copy.")}
	names := map[string]string{}
	for _, g := range groups {
		rg := reachFigures(g, lang)
		name, ok := names[g.UAI]
		if !ok {
			sc, err := s.store.GetSchool(ctx, g.UAI)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			name, names[g.UAI] = sc.Name, sc.Name
		}
		rg.School = name
		v.Groups = append(v.Groups, rg)
		if g.Families > g.Read {
			v.NotReached = append(v.NotReached, rg)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}
