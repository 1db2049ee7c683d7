package sqlite

import (
	"encoding/json"
	"strings"

	"github.com/liaison-ent/liaison/internal/store"
)

// decodeEnrolment reads a store.Enrolment stored as JSON (enrolmentColumns,
// SetDeclaredEnrolments: json.Marshal's output). What json.Marshal writes
// of it — the known fields in order, states 1 and -1, a line of plain
// ASCII — is read without encoding/json (the feed reads one per child);
// anything else goes to json.Unmarshal, so the result is always
// json.Unmarshal's.
func decodeEnrolment(doc string) (store.Enrolment, error) {
	if e, ok := parseEnrolment(doc); ok {
		return e, nil
	}
	var e store.Enrolment
	err := json.Unmarshal([]byte(doc), &e)
	return e, err
}

// parseEnrolment is decodeEnrolment's fast path: ok is false for anything
// but an object of the known keys, spelled as json.Marshal spells them,
// with the values 1 and -1 (the line: a string of printable ASCII, no
// quote or backslash), without spaces.
func parseEnrolment(s string) (e store.Enrolment, ok bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return e, false
	}
	s = s[1 : len(s)-1]
	for s != "" {
		if s[0] != '"' {
			return e, false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return e, false
		}
		key := s[1 : 1+end]
		s = s[2+end:]
		if s == "" || s[0] != ':' {
			return e, false
		}
		s = s[1:]
		if key == "line" {
			if s == "" || s[0] != '"' {
				return e, false
			}
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return e, false
			}
			line := s[1 : 1+end]
			for i := 0; i < len(line); i++ {
				if line[i] < 0x20 || line[i] > 0x7e || line[i] == '\\' {
					return e, false
				}
			}
			e.Line = line
			s = s[2+end:]
		} else {
			var st store.EnrolState
			switch {
			case strings.HasPrefix(s, "1"):
				st, s = store.EnrolYes, s[1:]
			case strings.HasPrefix(s, "-1"):
				st, s = store.EnrolNo, s[2:]
			default:
				return e, false
			}
			// The keys are the services' names (store.Enrolment's JSON).
			if !e.Set(key, st) {
				return e, false
			}
		}
		if s == "" {
			break
		}
		if s[0] != ',' || len(s) == 1 {
			return e, false
		}
		s = s[1:]
	}
	return e, true
}
