package cas

import (
	"errors"
	"fmt"
)

// SAML 2.0 namespaces of a CAS logout request.
const (
	samlpNS = "urn:oasis:names:tc:SAML:2.0:protocol"
)

// MaxLogoutRequest bounds the logout request read (the value of the
// logoutRequest form field).
const MaxLogoutRequest = 16 << 10

// ErrBadLogoutRequest: the logoutRequest value is not a SAML LogoutRequest
// naming one service ticket.
var ErrBadLogoutRequest = errors.New("cas: not a CAS logout request")

// ParseLogoutRequest reads the single-logout request a CAS server POSTs to
// the service URL (form field "logoutRequest", per the CAS protocol):
//
//	<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="…" Version="2.0" IssueInstant="…">
//	  <saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">@NOT_USED@</saml:NameID>
//	  <samlp:SessionIndex>ST-…</samlp:SessionIndex>
//	</samlp:LogoutRequest>
//
// and returns the service ticket it ends (SessionIndex): the caller ends
// the session that ticket opened, and only that one. The request is not
// signed in the CAS protocol; knowing a ticket is what authorises it, so a
// ticket must never be shown to anyone but its CAS server.
func ParseLogoutRequest(value string) (ticket string, err error) {
	if value == "" || len(value) > MaxLogoutRequest {
		return "", ErrBadLogoutRequest
	}
	root, err := parseTree([]byte(value))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadLogoutRequest, err)
	}
	if root.name.Space != samlpNS || root.name.Local != "LogoutRequest" {
		return "", fmt.Errorf("%w: the root is not samlp:LogoutRequest", ErrBadLogoutRequest)
	}
	idx := root.all(samlpNS, "SessionIndex")
	if len(idx) != 1 || len(idx[0].children) != 0 {
		return "", fmt.Errorf("%w: exactly one samlp:SessionIndex is expected", ErrBadLogoutRequest)
	}
	if checkTicket(idx[0].text) != nil {
		return "", fmt.Errorf("%w: the session index is not a ticket", ErrBadLogoutRequest)
	}
	return idx[0].text, nil
}
