package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// BackChannelLogoutEvent is the event a back-channel logout token carries
// (OpenID Connect Back-Channel Logout 1.0, section 2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Logout is what a verified logout token ends: the provider's session id
// (sid) and/or the user (sub, the ENT user id); at least one is set.
// JTI (the token's unique id, "" when it has none), IssuedAt (zero when
// it has no iat) and Expiry let the caller act on a token once and only
// on the sessions started before it.
type Logout struct {
	SID      string
	Subject  string
	JTI      string
	IssuedAt time.Time
	Expiry   time.Time
}

// VerifyLogout verifies a back-channel logout token: signed by the
// provider's keys, iss the provider, aud this client, not expired, the
// back-channel logout event, a sid or a sub, and no nonce.
//
// entcore (auth/.../DefaultOpendIdConnectService.java generateLogoutPayload)
// writes the event under "event", not the specification's "events", and
// sends sub only; both spellings are accepted, the event itself is required.
func (c *Client) VerifyLogout(ctx context.Context, raw string) (Logout, error) {
	tok, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		c.log.Warn("oidc logout token refused", "reason", "jwt", "err", err)
		return Logout{}, fmt.Errorf("%w: %v", ErrLogoutToken, err)
	}
	var cl struct {
		Events map[string]json.RawMessage `json:"events"`
		Event  map[string]json.RawMessage `json:"event"`
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		Nonce  *json.RawMessage           `json:"nonce"`
	}
	if err := tok.Claims(&cl); err != nil {
		return Logout{}, fmt.Errorf("%w: malformed claims", ErrLogoutToken)
	}
	_, inEvents := cl.Events[BackChannelLogoutEvent]
	_, inEvent := cl.Event[BackChannelLogoutEvent]
	switch {
	case !inEvents && !inEvent:
		c.log.Warn("oidc logout token refused", "reason", "no_event")
		return Logout{}, fmt.Errorf("%w: no back-channel logout event", ErrLogoutToken)
	case cl.Nonce != nil:
		c.log.Warn("oidc logout token refused", "reason", "nonce")
		return Logout{}, fmt.Errorf("%w: a logout token carries no nonce", ErrLogoutToken)
	case cl.SID == "" && tok.Subject == "":
		c.log.Warn("oidc logout token refused", "reason", "no_sid_or_sub")
		return Logout{}, fmt.Errorf("%w: neither sid nor sub", ErrLogoutToken)
	}
	return Logout{SID: cl.SID, Subject: tok.Subject, JTI: cl.JTI, IssuedAt: tok.IssuedAt, Expiry: tok.Expiry}, nil
}
