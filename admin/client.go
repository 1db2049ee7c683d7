package admin

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// The back-office calls the JSON API in-process with the signed-in
// person's own token: scoping, convention decisions, validation and error
// messages are exactly the API's. No network is involved: each call builds
// a fasthttp request context and runs the Fiber app's handler on it.

// apiError is the API's catalog error: {"error":{code,message,details}}.
type apiError struct {
	Status   int             `json:"-"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Details  []apiDetail     `json:"details"`
	Decision json.RawMessage `json:"decision,omitempty"`
}

type apiDetail struct {
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("api %d %s: %s", e.Status, e.Code, e.Message) }

// call sends one request to the API as token, in lang, from the browser at
// from (the API's rate limits count per client), with body (nil or a value
// sent as JSON), and decodes a 2xx answer into out (when not nil).
// A catalog error answer is returned as *apiError; anything else (a body
// that is not JSON) as a plain error.
func (a *Admin) call(from net.IP, token, lang, method, path string, body, out any, headers ...string) error {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost("liaison.internal")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", lang)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers { // "Name: value"
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b)
	}
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: from}, nil)
	a.apiHandler()(&rc)
	status := rc.Response.StatusCode()
	resp := rc.Response.Body()
	if status >= 200 && status < 300 {
		if out == nil || status == fasthttp.StatusNoContent || len(resp) == 0 {
			return nil
		}
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("admin: %s %s: undecodable answer: %w", method, path, err)
		}
		return nil
	}
	var env struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp, &env); err != nil || env.Error == nil {
		return fmt.Errorf("admin: %s %s: status %d without a catalog error", method, path, status)
	}
	env.Error.Status = status
	return env.Error
}
