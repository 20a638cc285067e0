package auditlog

import (
	"context"
	"net/http"
	"net/url"
)

// RetentionReport is what a retention run deleted (or, dry, would delete).
type RetentionReport struct {
	DryRun      bool           `json:"dry_run"`
	AsOf        string         `json:"as_of"` // the UTC date the run measured retention from
	Deleted     int            `json:"deleted"`
	WouldDelete int            `json:"would_delete"`
	PerTenant   map[string]int `json:"per_tenant"`
}

// RunRetention deletes the events past their retention period (role system_admin). With dryRun
// it only counts them.
//
// OpenAPI: runRetention
func (c *Client) RunRetention(ctx context.Context, dryRun bool) (*RetentionReport, error) {
	q := url.Values{}
	if dryRun {
		q.Set("dry_run", "true")
	}
	var out RetentionReport
	if err := c.call(ctx, request{op: "runRetention", method: http.MethodPost, path: "/api/v1/audit/retention/run", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PreviewRetention counts what a retention run would delete now and what legal holds keep, for
// the tenant named (empty: the caller's own; platform administrators: every tenant). Role
// system_admin; nothing is deleted.
//
// OpenAPI: previewRetention
func (c *Client) PreviewRetention(ctx context.Context, tenantID string) (*RetentionReport, error) {
	q := url.Values{}
	if tenantID != "" {
		q.Set("tenant_id", tenantID)
	}
	var out RetentionReport
	if err := c.call(ctx, request{op: "previewRetention", method: http.MethodGet, path: "/api/v1/admin/retention/preview", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TenantPolicy is a tenant's policy: retention default, rate limits, IP allowlist, PII rules.
// PutTenantPolicy replaces the whole policy; zero fields take the service's defaults.
type TenantPolicy struct {
	DefaultRetentionDays int        `json:"default_retention_days,omitempty"`
	RateLimit            *RateLimit `json:"rate_limit,omitempty"`
	// IPAllowlist holds the IPv4/IPv6 CIDRs callers must come from; empty allows any address.
	IPAllowlist []string  `json:"ip_allowlist,omitempty"`
	PIIRules    []PIIRule `json:"pii_rules,omitempty"`
}

// RateLimit is the tenant's token buckets: writes count events, reads count requests.
type RateLimit struct {
	TenantEventsPerSecond float64 `json:"tenant_events_per_second,omitempty"`
	TenantEventBurst      int     `json:"tenant_event_burst,omitempty"`
	CallerEventsPerSecond float64 `json:"caller_events_per_second,omitempty"`
	CallerEventBurst      int     `json:"caller_event_burst,omitempty"`
	CallerReadsPerSecond  float64 `json:"caller_reads_per_second,omitempty"`
	CallerReadBurst       int     `json:"caller_read_burst,omitempty"`
}

// PIIRule says what happens to one personal field before anything is stored: Field is a
// top-level field or a dotted path inside request_data, response_data or metadata; Action is
// "mask", "hash" or "drop" (and whatever else the service's document lists).
type PIIRule struct {
	Field  string `json:"field"`
	Action string `json:"action"`
}

// GetTenantPolicy returns a tenant's policy (role system_admin).
//
// OpenAPI: getTenantPolicy
func (c *Client) GetTenantPolicy(ctx context.Context, tenantID string) (*TenantPolicy, error) {
	var out TenantPolicy
	path := "/api/v1/admin/tenants/" + url.PathEscape(tenantID) + "/policy"
	if err := c.call(ctx, request{op: "getTenantPolicy", method: http.MethodGet, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutTenantPolicy replaces a tenant's policy (role system_admin) and returns it as stored.
// Instances may keep the previous policy for up to 30 s.
//
// OpenAPI: putTenantPolicy
func (c *Client) PutTenantPolicy(ctx context.Context, tenantID string, policy TenantPolicy) (*TenantPolicy, error) {
	body, err := jsonBody(policy)
	if err != nil {
		return nil, err
	}
	var out TenantPolicy
	path := "/api/v1/admin/tenants/" + url.PathEscape(tenantID) + "/policy"
	if err := c.call(ctx, request{op: "putTenantPolicy", method: http.MethodPut, path: path, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
