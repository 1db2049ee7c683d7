package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// claims is a userinfo answer, each claim still raw: only the claims the
// mapping names are ever decoded, so names, e-mails, phone numbers and
// birth dates are never copied out of the answer.
type claims map[string]json.RawMessage

func (c *Client) userinfo(ctx context.Context, accessToken string) (claims, error) {
	u := c.provider.UserInfoEndpoint()
	if c.cfg.UserinfoVersion != "" {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("%w: userinfo endpoint: %v", ErrUserinfo, err)
		}
		q := pu.Query()
		q.Set("version", c.cfg.UserinfoVersion)
		pu.RawQuery = q.Encode()
		u = pu.String()
	}
	body, err := c.get(ctx, u, accessToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserinfo, err)
	}
	var info claims
	if err := json.Unmarshal(body, &info); err != nil || info == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrUserinfo)
	}
	return info, nil
}

// str is a string claim; "" when absent or null.
func (cl claims) str(name string) (string, error) {
	raw, ok := cl[name]
	if name == "" || !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: claim %q is not a string", ErrUserinfo, name)
	}
	return s, nil
}

// strs is a claim holding a string or a list of strings; nil when absent.
func (cl claims) strs(name string) ([]string, error) {
	raw, ok := cl[name]
	if name == "" || !ok || string(raw) == "null" {
		return nil, nil
	}
	var list []*string
	if err := json.Unmarshal(raw, &list); err == nil {
		out := make([]string, 0, len(list))
		for _, s := range list {
			if s != nil {
				out = append(out, *s)
			}
		}
		return out, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: claim %q is neither a string nor a list of strings", ErrUserinfo, name)
	}
	return []string{s}, nil
}

// profiles maps entcore's profile names, in both the session's spelling
// (v2.0) and the v1.0 adapter's (UserInfoAdapterV1_0Json), to a Profile.
var profiles = map[string]connect.Profile{
	"Relative": connect.ProfileRelative, "PERSRELELEVE": connect.ProfileRelative,
	"Teacher": connect.ProfileTeacher, "ENSEIGNANT": connect.ProfileTeacher,
	"Student": connect.ProfileStudent, "ELEVE": connect.ProfileStudent,
	"Personnel": connect.ProfilePersonnel, "PERSEDUCNAT": connect.ProfilePersonnel,
}

// identity maps the userinfo to an Identity without children, and the
// entcore internal id the children endpoint takes.
func (c *Client) identity(subject string, info claims) (connect.Identity, string, error) {
	m := c.mapping
	if sub, err := info.str("sub"); err != nil {
		return connect.Identity{}, "", err
	} else if sub != "" && sub != subject {
		return connect.Identity{}, "", fmt.Errorf("%w: userinfo sub is not the ID token's", ErrUserinfo)
	}
	userID, err := info.str(m.userID)
	if err != nil {
		return connect.Identity{}, "", err
	}
	if strings.TrimSpace(userID) == "" {
		return connect.Identity{}, "", fmt.Errorf("%w: no user id in claim %q", ErrUserinfo, m.userID)
	}
	if m.subjectIsUserID && userID != subject {
		return connect.Identity{}, "", fmt.Errorf("%w: userinfo is for another user than the ID token", ErrUserinfo)
	}
	rawProfile, err := info.str(m.profile)
	if err != nil {
		return connect.Identity{}, "", err
	}
	profile := profiles[rawProfile]
	if slices.Contains(m.parentValues, rawProfile) {
		profile = connect.ProfileRelative
	}
	internalID, err := info.str(m.internalID)
	if err != nil {
		return connect.Identity{}, "", err
	}
	return connect.Identity{UserID: userID, Profile: profile}, internalID, nil
}

// fetchedChild is one child as entcore's children endpoint lists it: the
// name of its school and its class names (its own names are not read).
type fetchedChild struct {
	structure string
	classes   []string
}

// children calls entcore's GET /directory/user/{id}/children
// (directory/.../UserController.java listChildren, DefaultUserService:
// [{structureName, children: [{id, displayName, externalId, classesNames}]}]).
func (c *Client) children(ctx context.Context, accessToken, internalID string) ([]fetchedChild, error) {
	tmpl := c.cfg.ChildrenURL
	if tmpl == "" {
		tmpl = strings.TrimRight(c.cfg.Issuer, "/") + "/directory/user/{id}/children"
	}
	body, err := c.get(ctx, strings.ReplaceAll(tmpl, "{id}", url.PathEscape(internalID)), accessToken)
	if err != nil {
		return nil, err
	}
	// Only the fields read are declared: displayName and externalId are
	// never decoded.
	var answer []struct {
		StructureName string `json:"structureName"`
		Children      []struct {
			ClassesNames []string `json:"classesNames"`
		} `json:"children"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("children answer is not a list of structures")
	}
	out := []fetchedChild{}
	for _, s := range answer {
		for _, ch := range s.Children {
			out = append(out, fetchedChild{structure: strings.TrimSpace(s.StructureName), classes: ch.ClassesNames})
		}
	}
	return out, nil
}

// buildChildren is a parent's Children from the userinfo's schools and
// classes and, when read, the children endpoint's answer.
//
// entcore's userinfo v2.0 gives, for a parent, the union of the children's
// schools (uai[], a set) and classes (realClassesNames): which class is in
// which school is said only when there is one school. The children
// endpoint gives each child's classes but names its school, not its UAI;
// the name is matched to a UAI only when the userinfo lists exactly one
// structure and one UAI (uai[] is a set, unordered against
// structureNames). Otherwise the children endpoint cannot place a child in
// a school and the userinfo's schools are used, without classes.
func (c *Client) buildChildren(info claims, fetched []fetchedChild) ([]connect.Child, error) {
	uaisRaw, err := info.strs(c.mapping.uais)
	if err != nil {
		return nil, err
	}
	classesRaw, err := info.strs(c.mapping.classes)
	if err != nil {
		return nil, err
	}
	names, err := info.strs(c.mapping.structureNames)
	if err != nil {
		return nil, err
	}
	return placeChildren(uaisRaw, classesRaw, names, fetched, c.log), nil
}

func placeChildren(uaisRaw, classesRaw, structureNames []string, fetched []fetchedChild, log *slog.Logger) []connect.Child {
	var uais []string
	dropped := 0
	for _, u := range uaisRaw {
		u = frenchid.NormalizeUAI(u)
		if !frenchid.UAIValid(u) {
			dropped++
			continue
		}
		if !slices.Contains(uais, u) {
			uais = append(uais, u)
		}
	}
	if dropped > 0 {
		log.Warn("oidc userinfo: malformed UAIs ignored", "count", dropped)
	}
	slices.Sort(uais)
	classes := cleanClasses(classesRaw)

	if fetched != nil && len(uais) == 1 && len(structureNames) == 1 {
		name := strings.TrimSpace(structureNames[0])
		placed := true
		for _, f := range fetched {
			if f.structure != name {
				placed = false
				break
			}
		}
		if placed {
			out := make([]connect.Child, 0, len(fetched))
			for _, f := range fetched {
				out = append(out, childIn(uais[0], cleanClasses(f.classes)))
			}
			sortChildren(out)
			return out
		}
		log.Info("oidc children endpoint: a school name does not match the userinfo's; using the userinfo's schools")
	} else if fetched != nil && len(uais) > 1 {
		log.Info("oidc children endpoint: several schools, names cannot be matched to UAIs; using the userinfo's schools")
	}

	var out []connect.Child
	switch {
	case len(uais) == 1 && len(classes) > 0:
		for _, cl := range classes {
			out = append(out, connect.Child{UAI: uais[0], Level: connect.LevelOfClass(cl), Class: cl})
		}
	default:
		for _, u := range uais {
			out = append(out, connect.Child{UAI: u})
		}
	}
	sortChildren(out)
	return out
}

// childIn is one child of school uai with its classes: the class and its
// level when it has one; when it has several, no class and the level they
// share, if any.
func childIn(uai string, classes []string) connect.Child {
	switch len(classes) {
	case 0:
		return connect.Child{UAI: uai}
	case 1:
		return connect.Child{UAI: uai, Level: connect.LevelOfClass(classes[0]), Class: classes[0]}
	}
	level := connect.LevelOfClass(classes[0])
	for _, cl := range classes[1:] {
		if connect.LevelOfClass(cl) != level {
			level = ""
		}
	}
	return connect.Child{UAI: uai, Level: level}
}

func cleanClasses(raw []string) []string {
	var out []string
	for _, cl := range frenchid.NormalizeClasses(raw) {
		if cl != "" {
			out = append(out, cl)
		}
	}
	slices.Sort(out)
	return out
}

func sortChildren(cs []connect.Child) {
	slices.SortFunc(cs, func(a, b connect.Child) int {
		if a.UAI != b.UAI {
			return strings.Compare(a.UAI, b.UAI)
		}
		return strings.Compare(a.Class, b.Class)
	})
}
