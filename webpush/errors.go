package webpush

import "errors"

// Stable error codes carried by *ValidationError. They are part of the API
// contract (the HTTP layer returns them to clients): never rename them.
const (
	CodeEndpointInvalid    = "push.endpoint_invalid"
	CodeEndpointNotHTTPS   = "push.endpoint_not_https"
	CodeEndpointUserinfo   = "push.endpoint_userinfo"
	CodeEndpointIPLiteral  = "push.endpoint_ip_literal"
	CodeEndpointNotAllowed = "push.endpoint_not_allowed"
	CodeBadP256dh          = "push.bad_p256dh"
	CodeBadAuth            = "push.bad_auth"
	CodeBadSubject         = "push.bad_subject"
	CodeBadVAPIDKey        = "push.bad_vapid_key"
	CodeBadTopic           = "push.bad_topic"
	CodeBadUrgency         = "push.bad_urgency"
	CodeBadAllowlist       = "push.bad_allowlist"
)

// ValidationError is returned by the validation functions of this package.
// Code is stable and machine-readable; Msg is an English sentence for logs
// and developers.
type ValidationError struct {
	Code string
	Msg  string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Msg }

// Is makes errors.Is(err, &ValidationError{Code: c}) match on the code alone.
func (e *ValidationError) Is(target error) bool {
	t, ok := target.(*ValidationError)
	return ok && t.Code == e.Code && (t.Msg == "" || t.Msg == e.Msg)
}

func verr(code, msg string) error { return &ValidationError{Code: code, Msg: msg} }

// ErrorCode returns the stable code of a *ValidationError in err's chain, or
// "" when there is none.
func ErrorCode(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Code
	}
	return ""
}

// ErrPayloadTooLarge is returned when a payload cannot be made to fit the
// size bound (BuildPayload, Shrink) or is handed to Send larger than
// MaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("webpush: payload too large")
