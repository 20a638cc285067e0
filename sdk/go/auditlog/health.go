package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// Healthz checks that the service process is alive.
//
// OpenAPI: healthz
func (c *Client) Healthz(ctx context.Context) error {
	return c.call(ctx, request{op: "healthz", method: http.MethodGet, path: "/healthz", noRetry: true}, nil)
}

// Readiness is the answer of the readiness probe: whether every dependency answers, and how fast.
type Readiness struct {
	Ready  bool                      `json:"-"`
	Status string                    `json:"status"` // "ok" or "unavailable"
	Checks map[string]ReadinessCheck `json:"checks"`
}

// ReadinessCheck is one dependency's probe.
type ReadinessCheck struct {
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Readyz asks whether the service's dependencies are reachable. A service that is not ready is
// an answer, not an error: Ready is false and Checks says which dependency failed.
//
// OpenAPI: readyz
func (c *Client) Readyz(ctx context.Context) (*Readiness, error) {
	var out Readiness
	err := c.call(ctx, request{op: "readyz", method: http.MethodGet, path: "/readyz", noRetry: true}, &out)
	if err == nil {
		out.Ready = true
		return &out, nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusServiceUnavailable && apiErr.body != nil {
		if json.Unmarshal(apiErr.body, &out) == nil && out.Status != "" {
			return &out, nil
		}
	}
	return nil, err
}

// OpenAPIDocument returns the service's OpenAPI document as JSON.
//
// OpenAPI: openapi
func (c *Client) OpenAPIDocument(ctx context.Context) (json.RawMessage, error) {
	resp, err := c.send(ctx, request{op: "openapi", method: http.MethodGet, path: "/openapi.json"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &TransportError{Op: "openapi", Method: http.MethodGet, Path: "/openapi.json", Err: err}
	}
	return raw, nil
}

// Metrics returns the service's Prometheus metrics in the text exposition format.
//
// OpenAPI: metrics
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.send(ctx, request{op: "metrics", method: http.MethodGet, path: "/metrics"})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", &TransportError{Op: "metrics", Method: http.MethodGet, Path: "/metrics", Err: err}
	}
	return string(raw), nil
}
