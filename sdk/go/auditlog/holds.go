package auditlog

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// LegalHoldRequest places a hold: the tenant's events it selects are kept past their retention
// until it is released or expires. Empty selectors select every event of the tenant.
type LegalHoldRequest struct {
	TenantID     string              `json:"tenant_id"`
	Reason       string              `json:"reason"` // why, e.g. the case or matter
	UserID       string              `json:"user_id,omitempty"`
	ResourceType string              `json:"resource_type,omitempty"`
	ResourceID   string              `json:"resource_id,omitempty"`
	Filters      map[string][]string `json:"filters,omitempty"` // e.g. {"event_type": ["payment.refund"]}
	ExpiresAt    *time.Time          `json:"expires_at,omitempty"`
}

// LegalHold is a hold as the service keeps it.
type LegalHold struct {
	HoldID       string              `json:"hold_id"`
	TenantID     string              `json:"tenant_id"`
	Reason       string              `json:"reason"`
	UserID       string              `json:"user_id"`
	ResourceType string              `json:"resource_type"`
	ResourceID   string              `json:"resource_id"`
	Filters      map[string][]string `json:"filters"`
	ExpiresAt    *time.Time          `json:"expires_at"`
	CreatedAt    time.Time           `json:"created_at"`
	CreatedBy    string              `json:"created_by"`
	ReleasedAt   *time.Time          `json:"released_at"`
	ReleasedBy   string              `json:"released_by"`
}

// PlaceLegalHold places a hold (role system_admin). It is not retried after an ambiguous
// failure (the hold might exist): list the holds before placing it again.
//
// OpenAPI: placeLegalHold
func (c *Client) PlaceLegalHold(ctx context.Context, hold LegalHoldRequest) (*LegalHold, error) {
	body, err := jsonBody(hold)
	if err != nil {
		return nil, err
	}
	var out LegalHold
	r := request{op: "placeLegalHold", method: http.MethodPost, path: "/api/v1/admin/legal-holds", body: body, notIdempotent: true}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListLegalHolds lists the holds, of one tenant when opts names it (role system_admin).
//
// OpenAPI: listLegalHolds
func (c *Client) ListLegalHolds(ctx context.Context, opts *TenantOptions) ([]LegalHold, error) {
	var out struct {
		Holds []LegalHold `json:"holds"`
	}
	if err := c.call(ctx, request{op: "listLegalHolds", method: http.MethodGet, path: "/api/v1/admin/legal-holds", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return out.Holds, nil
}

// ReleaseLegalHold releases a hold (role system_admin) and returns it, released.
//
// OpenAPI: releaseLegalHold
func (c *Client) ReleaseLegalHold(ctx context.Context, holdID string) (*LegalHold, error) {
	var out LegalHold
	path := "/api/v1/admin/legal-holds/" + url.PathEscape(holdID)
	if err := c.call(ctx, request{op: "releaseLegalHold", method: http.MethodDelete, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
