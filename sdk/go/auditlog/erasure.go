package auditlog

import (
	"context"
	"net/http"
	"time"
)

// ErasureRequest asks to erase one data subject of a tenant: the fields the tenant's policy
// encrypts read as "[erased]" afterwards, and every proof stays valid.
type ErasureRequest struct {
	TenantID string `json:"tenant_id"`
	UserID   string `json:"user_id"` // the data subject, as events name it
}

// Erasure is a tracked erasure. The service keeps the subject's hash, not the user_id.
type Erasure struct {
	ErasureID    string     `json:"erasure_id"`
	TenantID     string     `json:"tenant_id"`
	SubjectID    string     `json:"subject_id"`
	Status       string     `json:"status"` // "received" or "done"
	ReceivedAt   time.Time  `json:"received_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	RequestedBy  string     `json:"requested_by"`
	KeyDestroyed bool       `json:"key_destroyed"` // false when the subject never had a key
	// CachesClearWithinSeconds is how long other instances may still show decrypted values.
	CachesClearWithinSeconds float64 `json:"caches_clear_within_seconds"`
}

// EraseSubject erases a data subject (role system_admin).
//
// OpenAPI: eraseSubject
func (c *Client) EraseSubject(ctx context.Context, req ErasureRequest) (*Erasure, error) {
	body, err := jsonBody(req)
	if err != nil {
		return nil, err
	}
	var out Erasure
	r := request{op: "eraseSubject", method: http.MethodPost, path: "/api/v1/admin/erasures", body: body, notIdempotent: true}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListErasures lists the tracked erasures, of one tenant when opts names it (role system_admin).
//
// OpenAPI: listErasures
func (c *Client) ListErasures(ctx context.Context, opts *TenantOptions) ([]Erasure, error) {
	var out struct {
		Erasures []Erasure `json:"erasures"`
	}
	if err := c.call(ctx, request{op: "listErasures", method: http.MethodGet, path: "/api/v1/admin/erasures", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return out.Erasures, nil
}
