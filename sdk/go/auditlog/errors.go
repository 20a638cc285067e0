package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorDetail names one input field at fault and what is wrong with it, e.g.
// {Field: "events[3].timestamp", Problem: "is more than 300 s in the future"}.
type ErrorDetail struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// APIError is an answer of the service other than 2xx: the error envelope
// {"error": {"code", "message", "details", "request_id"}} and the HTTP status.
//
//	var apiErr *auditlog.APIError
//	if errors.As(err, &apiErr) && apiErr.StatusCode == 400 { ... apiErr.Details ... }
type APIError struct {
	Op         string // the OpenAPI operationId of the call, e.g. "ingestEvent"
	Method     string
	Path       string
	StatusCode int
	Code       string // the service's error code, e.g. "invalid_argument", "not_found"
	Message    string
	Details    []ErrorDetail
	RequestID  string        // quote it when asking about a failed call; the server logs it
	RetryAfter time.Duration // from the Retry-After header (429, 503, 409 not_sequenced)

	body []byte // the answer as read, for the calls whose non-2xx answers carry data (readyz)
}

// Error gives the status, code, message, fields and request id; never a header of the request.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "auditlog: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Field + " " + d.Problem)
		if i == len(e.Details)-1 {
			b.WriteString(")")
		}
	}
	if e.RequestID != "" {
		b.WriteString(" [request_id " + e.RequestID + "]")
	}
	return b.String()
}

// HasField reports whether a detail names field (exactly, e.g. "timestamp" or "events[0].action").
func (e *APIError) HasField(field string) bool {
	for _, d := range e.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

// Temporary reports whether the same call may succeed later (429, 409 not_sequenced and 5xx).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 ||
		(e.StatusCode == http.StatusConflict && e.Code == "not_sequenced")
}

// TransportError is a call that got no answer (connection refused or reset, timeout, an answer
// that could not be decoded), after the retries of the policy.
type TransportError struct {
	Op     string
	Method string
	Path   string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("auditlog: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

func statusOf(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// IsInvalid reports a 400: the input was refused; the error's Details name the fields.
func IsInvalid(err error) bool { return statusOf(err) == http.StatusBadRequest }

// IsUnauthenticated reports a 401: no token, or one the service does not accept.
func IsUnauthenticated(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsPermissionDenied reports a 403: the token's roles, tenant or address do not allow the call.
func IsPermissionDenied(err error) bool { return statusOf(err) == http.StatusForbidden }

// IsNotFound reports a 404 (also the answer for another tenant's event).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsRateLimited reports a 429 that outlasted the retries; RetryAfter says when to try again.
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// IsTooLarge reports a 413: a body, batch or event over the service's limits.
func IsTooLarge(err error) bool { return statusOf(err) == http.StatusRequestEntityTooLarge }

// IsNotSequenced reports a 409 not_sequenced: the event is accepted but not yet in a signed
// checkpoint; RetryAfter says when to ask again.
func IsNotSequenced(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict && apiErr.Code == "not_sequenced"
}

// IsServerError reports a 5xx that outlasted the retries.
func IsServerError(err error) bool { return statusOf(err) >= 500 }

// readAPIError turns a non-2xx answer into an *APIError and closes its body.
func readAPIError(resp *http.Response, r request) *APIError {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{
		Op:         r.op,
		Method:     r.method,
		Path:       r.path,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-ID"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		body:       raw,
	}
	var envelope struct {
		Error *struct {
			Code      string        `json:"code"`
			Message   string        `json:"message"`
			Details   []ErrorDetail `json:"details"`
			RequestID string        `json:"request_id"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &envelope) == nil && envelope.Error != nil {
		e.Code = envelope.Error.Code
		e.Message = envelope.Error.Message
		e.Details = envelope.Error.Details
		if envelope.Error.RequestID != "" {
			e.RequestID = envelope.Error.RequestID
		}
		return e
	}
	// Not the service's envelope (a proxy or load balancer answered): keep a short excerpt.
	e.Message = http.StatusText(resp.StatusCode)
	if text := strings.TrimSpace(string(raw)); text != "" {
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		e.Message += ": " + text
	}
	return e
}

// parseRetryAfter reads delta-seconds or an HTTP-date (RFC 9110 section 10.2.3); 0 when absent
// or unreadable.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
