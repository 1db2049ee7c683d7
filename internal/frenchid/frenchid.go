// Package frenchid validates the French public identifiers Liaison relies
// on: UAI (school), INSEE commune code and SIREN.
package frenchid

import "strings"

const uaiLetters = "ABCDEFGHJKLMNPRSTUVWXYZ"

// NormalizeUAI upper-cases and trims a UAI.
func NormalizeUAI(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// UAIValid reports whether s is a UAI: 7 digits and the check letter
// "ABCDEFGHJKLMNPRSTUVWXYZ"[first7 % 23], e.g. 0750655E. Corsican UAIs
// (620, 720 départements) are written with digits too.
func UAIValid(s string) bool {
	if len(s) != 8 {
		return false
	}
	n := 0
	for i := 0; i < 7; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return s[7] == uaiLetters[n%23]
}

// UAICheckLetter returns the check letter for the 7 digits of a UAI, or 0
// if digits is not 7 digits.
func UAICheckLetter(digits string) byte {
	if len(digits) != 7 {
		return 0
	}
	n := 0
	for i := 0; i < 7; i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return uaiLetters[n%23]
}

// INSEEValid reports whether s is a commune INSEE code: 5 characters, the
// département part two digits (01–95 except 20) or 2A/2B for Corsica, or
// 97x/98x for overseas, then digits.
func INSEEValid(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 2; i < 5; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	switch dep := s[:2]; {
	case dep == "2A" || dep == "2B":
		return true
	case dep[0] < '0' || dep[0] > '9' || dep[1] < '0' || dep[1] > '9':
		return false
	case dep == "00" || dep == "20" || dep == "96" || dep == "99":
		return false
	case dep == "97":
		return s[2] >= '1' && s[2] <= '6' // 971–976
	case dep == "98":
		return s[2] >= '4' && s[2] <= '8' // 984–988
	}
	return true
}

// SIRENValid reports whether s is 9 digits passing the Luhn checksum.
func SIRENValid(s string) bool {
	if len(s) != 9 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 { // every second digit from the left, i.e. from the right starting at the 2nd
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// DepartementValid reports whether s is a département code: 01–95 (not
// 20), 2A, 2B, or 971–976.
func DepartementValid(s string) bool {
	switch len(s) {
	case 2:
		return INSEEValid(s + "001")
	case 3:
		return s[:2] == "97" && s[2] >= '1' && s[2] <= '6'
	}
	return false
}

// DepartementOf returns the département code of a commune INSEE code: the
// first two characters, or three for the overseas départements (97x).
func DepartementOf(insee string) string {
	if len(insee) < 3 {
		return ""
	}
	if insee[:2] == "97" || insee[:2] == "98" {
		return insee[:3]
	}
	return insee[:2]
}
