package cas

import (
	"errors"
	"fmt"
	"strings"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/frenchid"
)

// maxUserID bounds the user id kept from an answer.
const maxUserID = 256

// errShape is the cause of a well-formed answer that is not a CAS
// validation answer of the expected shape.
var errShape = errors.New("not a CAS validation answer")

// readAnswer reads a validation answer: the identity on
// authenticationSuccess, a *RefusedError on authenticationFailure, an
// error wrapping ErrMalformedResponse otherwise. Only what Identity holds
// is taken from the document; the document itself is dropped by the
// caller.
func readAnswer(data []byte, m Mapping) (connect.Identity, error) {
	root, err := parseTree(data)
	if err != nil {
		return connect.Identity{}, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	if root.name.Space != casNS || root.name.Local != "serviceResponse" {
		return connect.Identity{}, fmt.Errorf("%w: %w: the root is not cas:serviceResponse", ErrMalformedResponse, errShape)
	}
	if len(root.children) != 1 {
		return connect.Identity{}, fmt.Errorf("%w: %w: cas:serviceResponse must hold exactly one element", ErrMalformedResponse, errShape)
	}
	answer := root.children[0]
	if answer.name.Space != casNS {
		return connect.Identity{}, fmt.Errorf("%w: %w: an element outside the CAS namespace", ErrMalformedResponse, errShape)
	}
	switch answer.name.Local {
	case "authenticationFailure":
		code, _ := answer.attr("code")
		return connect.Identity{}, &RefusedError{Code: failureCode(code)}
	case "authenticationSuccess":
	default:
		return connect.Identity{}, fmt.Errorf("%w: %w: neither authenticationSuccess nor authenticationFailure", ErrMalformedResponse, errShape)
	}
	var id connect.Identity
	if m.Preset == PresetEntcoreGeneric {
		id, err = entcoreGeneric(answer)
	} else {
		id, err = custom(answer, m)
	}
	if err != nil {
		return connect.Identity{}, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	if id.UserID == "" || len(id.UserID) > maxUserID || strings.ContainsFunc(id.UserID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return connect.Identity{}, fmt.Errorf("%w: %w: no usable user id", ErrMalformedResponse, errShape)
	}
	return id, nil
}

// failureCode keeps a failure code only when it looks like one (upper-case
// letters and "_"), so that nothing else of the answer travels in errors
// and logs.
func failureCode(code string) string {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 || strings.ContainsFunc(code, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r == '_') }) {
		return "UNKNOWN"
	}
	return code
}

// entcoreGeneric reads the shape GenericRegisteredService emits:
//
//	<cas:authenticationSuccess>
//	  <cas:user>{externalId}</cas:user>
//	  <cas:attributes>
//	    … <cas:userAttributes>
//	        <cas:login/> <cas:lastName/> <cas:fistName/> <cas:displayName/>
//	        <cas:birthDate/> <cas:email/> <cas:profile>Relative</cas:profile>
//	        <cas:schools>
//	          <cas:school name="…" UAI="…" main="…" type="…">
//	            <cas:classes externalId="{structure id}"><cas:classe>CM1</cas:classe></cas:classes>
//	          </cas:school>
//
// (one version writes the UAI into the school's externalId attribute and
// the structure id on each classe). Only cas:user, profile, the school UAIs
// and the class names are read; the rest is never copied out of the tree.
func entcoreGeneric(success *node) (connect.Identity, error) {
	var id connect.Identity
	// GenericRegisteredService adds its cas:user (the external id) after
	// the one the CAS library writes for the principal (absent there: the
	// Generic type sets none); when both are present the last is the
	// external id.
	users := success.all(casNS, "user")
	if len(users) == 0 {
		return id, fmt.Errorf("%w: no cas:user", errShape)
	}
	id.UserID = users[len(users)-1].text
	attrs := success.child(casNS, "attributes")
	if attrs == nil {
		return id, nil // a bare CAS answer: an id, no profile, no school
	}
	ua := attrs.child(casNS, "userAttributes")
	if ua == nil {
		return id, nil
	}
	if p := ua.child(casNS, "profile"); p != nil {
		id.Profile = entcoreProfile(p.text)
	}
	schools := ua.child(casNS, "schools")
	if schools == nil {
		return id, nil
	}
	for _, s := range schools.all(casNS, "school") {
		uai, ok := s.attr("UAI")
		if !ok {
			uai, _ = s.attr("externalId")
		}
		var classes []string
		for _, cs := range s.all(casNS, "classes") {
			for _, c := range cs.all(casNS, "classe") {
				classes = append(classes, c.text)
			}
		}
		id.Children = addSchool(id.Children, uai, classes)
	}
	return id, nil
}

// entcoreProfile is the profile entcore names; anything else is no
// profile (never the raw value, which is not Liaison's to keep).
func entcoreProfile(v string) connect.Profile {
	switch p := connect.Profile(strings.TrimSpace(v)); p {
	case connect.ProfileRelative, connect.ProfileStudent, connect.ProfileTeacher, connect.ProfilePersonnel:
		return p
	}
	return ""
}

// defaultParentValues are the profile values that say "parent" in the
// ENTs met: entcore's Relative, the AAF/SDET category PERSRELELEVE, the
// national profile National_2, and plain words.
var defaultParentValues = []string{"Relative", "PERSRELELEVE", "National_2", "parent", "responsable"}

// custom reads flat attributes named by m (CAS 3.0 style): every element
// in the CAS namespace under cas:attributes (or, as CAS 2.0 extensions
// write them, directly under cas:authenticationSuccess) with no child
// element is a value of the attribute of its name.
func custom(success *node, m Mapping) (connect.Identity, error) {
	values := map[string][]string{}
	wanted := map[string]bool{m.UserID: true, m.Profile: true, m.UAI: true, m.Class: true, m.ChildID: true, m.ChildSchool: true, m.ChildClass: true}
	delete(wanted, "")
	collect := func(n *node) {
		for _, c := range n.children {
			if c.name.Space == casNS && len(c.children) == 0 && wanted[c.name.Local] {
				values[c.name.Local] = append(values[c.name.Local], c.text)
			}
		}
	}
	collect(success)
	if a := success.child(casNS, "attributes"); a != nil {
		collect(a)
	}

	var id connect.Identity
	if m.UserID == "" {
		u := success.child(casNS, "user")
		if u == nil {
			return id, fmt.Errorf("%w: no cas:user", errShape)
		}
		id.UserID = u.text
	} else if v := values[m.UserID]; len(v) == 1 {
		id.UserID = v[0]
	} else {
		return id, fmt.Errorf("%w: the user id attribute is missing or repeated", errShape)
	}

	parents := m.ParentValues
	if len(parents) == 0 {
		parents = defaultParentValues
	}
	for _, p := range values[m.Profile] {
		if matchAny(p, parents) {
			id.Profile = connect.ProfileRelative
			break
		}
		if e := entcoreProfile(p); e != "" && id.Profile == "" {
			id.Profile = e
		}
	}

	if m.ChildSchool != "" && len(values[m.ChildSchool]) > 0 {
		ids, schools, classes := values[m.ChildID], values[m.ChildSchool], values[m.ChildClass]
		if len(ids) != len(schools) || (m.ChildClass != "" && len(classes) != len(schools)) {
			return id, fmt.Errorf("%w: the child attributes do not pair (as many ids, schools and classes)", errShape)
		}
		seen := map[string]bool{}
		for i, s := range schools {
			if seen[ids[i]] {
				continue
			}
			seen[ids[i]] = true
			class := ""
			if m.ChildClass != "" {
				class = classes[i]
			}
			id.Children = addChild(id.Children, s, class, true)
		}
		return id, nil
	}

	uais := values[m.UAI]
	var classes []string
	if m.Class != "" {
		classes = values[m.Class]
	}
	if len(uais) == 1 {
		id.Children = addSchool(id.Children, uais[0], classes)
		return id, nil
	}
	for _, u := range uais {
		var own []string
		for _, c := range classes {
			if school, name, ok := strings.Cut(c, "$"); ok && frenchid.NormalizeUAI(school) == frenchid.NormalizeUAI(u) {
				own = append(own, name)
			}
		}
		id.Children = addSchool(id.Children, u, own)
	}
	return id, nil
}

func matchAny(v string, set []string) bool {
	v = strings.TrimSpace(v)
	for _, s := range set {
		if strings.EqualFold(v, strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// addSchool adds one Child per class of a school, or one for the school
// when no class is known.
func addSchool(children []connect.Child, uai string, classes []string) []connect.Child {
	n := len(children)
	for _, c := range classes {
		children = addChild(children, uai, c, false)
	}
	if len(children) == n {
		children = addChild(children, uai, "", false)
	}
	return children
}

// addChild appends (uai, class) with its level, normalised; an entry with
// no UAI is dropped, and so is a repeated one unless each entry is a
// distinct child (perChild).
func addChild(children []connect.Child, uai, class string, perChild bool) []connect.Child {
	uai = frenchid.NormalizeUAI(uai)
	if uai == "" || len(uai) > 16 {
		return children
	}
	class = frenchid.NormalizeClass(class)
	if len(class) > 64 {
		class = ""
	}
	c := connect.Child{UAI: uai, Level: connect.LevelOfClass(class), Class: class}
	if !perChild {
		for _, have := range children {
			if have == c {
				return children
			}
		}
	}
	return append(children, c)
}
