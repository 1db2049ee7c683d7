package sqlite

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// parents.feed_children (migration 17) is a parent's children in their
// order as the feed reads them — school, level, class and what the ENT
// knows of their enrolments — in one column of the parent's row, so that
// the first feed request of a parent's day reads one row where it read
// children and child_enrolments too (issues 16 and 17). children and
// child_enrolments stay what the audience queries read; UpsertParents,
// the one writer of both, writes feed_children with them, and erasing the
// parent erases the row. What parents declare (parent_declarations) is
// not in it: FeedParent reads it beside.
//
// The text is, per child, the fields uai, level and class, six states
// (cantine, transport, garderie_matin, garderie_soir, etudes, mercredi:
// '0' unknown, 'y' enrolled, 'n' not) and the field line; a field is its
// length in bytes in decimal, ':' and its bytes, so any text reads back
// as written. No child: ''.

// feedChildStates are the codes of EnrolUnknown, EnrolYes and EnrolNo.
const feedChildStates = "0yn"

func feedChildState(st store.EnrolState) byte {
	switch st {
	case store.EnrolYes:
		return 'y'
	case store.EnrolNo:
		return 'n'
	}
	return '0'
}

func appendFeedField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// appendFeedChild appends a child as feed_children holds it: c.Enrolment
// as given (the caller normalises it as child_enrolments stores it).
func appendFeedChild(b []byte, c store.Child) []byte {
	b = appendFeedField(b, c.UAI)
	b = appendFeedField(b, string(c.Level))
	b = appendFeedField(b, c.Class)
	e := c.Enrolment
	for _, st := range []store.EnrolState{e.Cantine, e.Transport, e.GarderieMatin, e.GarderieSoir, e.Etudes, e.Mercredi} {
		b = append(b, feedChildState(st))
	}
	return appendFeedField(b, e.Line)
}

var errFeedChildren = errors.New("store: malformed parents.feed_children")

// decodeFeedChildren reads feed_children; the children's strings share
// the memory of s.
func decodeFeedChildren(s string) ([]store.Child, error) {
	if s == "" {
		return nil, nil
	}
	field := func() (string, bool) {
		n, rest, ok := strings.Cut(s, ":")
		if !ok || n == "" || len(n) > 9 {
			return "", false
		}
		size := 0
		for i := 0; i < len(n); i++ {
			if n[i] < '0' || n[i] > '9' {
				return "", false
			}
			size = size*10 + int(n[i]-'0')
		}
		if size > len(rest) {
			return "", false
		}
		s = rest[size:]
		return rest[:size], true
	}
	var out []store.Child
	for s != "" {
		var c store.Child
		var ok bool
		if c.UAI, ok = field(); !ok {
			return nil, errFeedChildren
		}
		level, ok := field()
		if !ok {
			return nil, errFeedChildren
		}
		c.Level = conventions.Level(level)
		if c.Class, ok = field(); !ok {
			return nil, errFeedChildren
		}
		if len(s) < 6 {
			return nil, errFeedChildren
		}
		for i, f := range []*store.EnrolState{&c.Enrolment.Cantine, &c.Enrolment.Transport, &c.Enrolment.GarderieMatin,
			&c.Enrolment.GarderieSoir, &c.Enrolment.Etudes, &c.Enrolment.Mercredi} {
			switch strings.IndexByte(feedChildStates, s[i]) {
			case 0:
			case 1:
				*f = store.EnrolYes
			case 2:
				*f = store.EnrolNo
			default:
				return nil, errFeedChildren
			}
		}
		s = s[6:]
		if c.Enrolment.Line, ok = field(); !ok {
			return nil, errFeedChildren
		}
		out = append(out, c)
	}
	return out, nil
}

// liaison_feed_child(uai, level, class, enrolment) is a child as
// feed_children holds it, enrolment being child_enrolments' JSON (” or
// NULL: nothing known), for migration 17.
func init() {
	text := func(v driver.Value) (string, error) {
		switch v := v.(type) {
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		case nil:
			return "", nil
		}
		return "", fmt.Errorf("liaison_feed_child: not a text value (%T)", v)
	}
	err := sqlite.RegisterDeterministicScalarFunction("liaison_feed_child", 4, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var vals [4]string
		for i, a := range args {
			v, err := text(a)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		c := store.Child{UAI: vals[0], Level: conventions.Level(vals[1]), Class: vals[2]}
		if vals[3] != "" {
			var err error
			if c.Enrolment, err = decodeEnrolment(vals[3]); err != nil {
				return nil, fmt.Errorf("liaison_feed_child: %w", err)
			}
		}
		return string(appendFeedChild(nil, c)), nil
	})
	if err != nil {
		panic(fmt.Sprintf("store: unable to register liaison_feed_child: %v", err))
	}
}
