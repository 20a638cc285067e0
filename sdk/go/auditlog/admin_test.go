package auditlog

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder answers every request with answer(status, body) and keeps the last request.
type recorder struct {
	method, path, query, body string
	calls                     int32
}

func (rec *recorder) serve(t *testing.T, status int, answer interface{}) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.method, rec.path, rec.query, rec.body = r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)
		atomic.AddInt32(&rec.calls, 1)
		writeJSON(w, status, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAdminRequests(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	c := NewClient(rec.serve(t, 200, map[string]interface{}{"dry_run": true, "as_of": "2026-11-26", "would_delete": 3, "per_tenant": map[string]int{"acme": 3}}).URL)
	report, err := c.RunRetention(ctx, true)
	if err != nil || rec.method != "POST" || rec.path != "/api/v1/audit/retention/run" || rec.query != "dry_run=true" ||
		!report.DryRun || report.WouldDelete != 3 || report.PerTenant["acme"] != 3 {
		t.Fatalf("%+v %v %+v", report, err, rec)
	}

	c = NewClient(rec.serve(t, 200, map[string]interface{}{"dry_run": true, "as_of": "2026-11-26", "would_delete": 2, "per_tenant": map[string]int{"acme": 2}}).URL)
	preview, err := c.PreviewRetention(ctx, "acme")
	if err != nil || rec.method != "GET" || rec.path != "/api/v1/admin/retention/preview" || rec.query != "tenant_id=acme" ||
		!preview.DryRun || preview.WouldDelete != 2 {
		t.Fatalf("%+v %v %+v", preview, err, rec)
	}

	c = NewClient(rec.serve(t, 200, TenantPolicy{DefaultRetentionDays: 120}).URL)
	policy, err := c.PutTenantPolicy(ctx, "a/b", TenantPolicy{DefaultRetentionDays: 120, PIIRules: []PIIRule{{Field: "ip_address", Action: "hash"}}})
	if err != nil || rec.method != "PUT" || rec.path != "/api/v1/admin/tenants/a%2Fb/policy" ||
		rec.body != `{"default_retention_days":120,"pii_rules":[{"field":"ip_address","action":"hash"}]}` || policy.DefaultRetentionDays != 120 {
		t.Fatalf("%+v %v %+v", policy, err, rec)
	}
	if _, err := c.GetTenantPolicy(ctx, "acme"); err != nil || rec.method != "GET" || rec.path != "/api/v1/admin/tenants/acme/policy" {
		t.Fatalf("%v %+v", err, rec)
	}
}

func TestLegalHoldAndErasureRequests(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClient(rec.serve(t, 201, map[string]interface{}{"hold_id": "h1", "tenant_id": "acme", "reason": "case 7",
		"created_at": "2026-11-26T12:00:00.000000Z", "created_by": "root", "expires_at": "2027-01-01T00:00:00Z",
		"filters": map[string][]string{"event_type": {"payment.refund"}}}).URL)
	hold, err := c.PlaceLegalHold(ctx, LegalHoldRequest{TenantID: "acme", Reason: "case 7", ExpiresAt: &expires,
		Filters: map[string][]string{"event_type": {"payment.refund"}}})
	if err != nil || rec.method != "POST" || rec.path != "/api/v1/admin/legal-holds" ||
		rec.body != `{"tenant_id":"acme","reason":"case 7","filters":{"event_type":["payment.refund"]},"expires_at":"2027-01-01T00:00:00Z"}` ||
		hold.HoldID != "h1" || !hold.ExpiresAt.Equal(expires) || hold.ReleasedAt != nil {
		t.Fatalf("%+v %v %+v", hold, err, rec)
	}

	c = NewClient(rec.serve(t, 200, map[string]interface{}{"holds": []map[string]string{{"hold_id": "h1"}, {"hold_id": "h2"}}}).URL)
	holds, err := c.ListLegalHolds(ctx, &TenantOptions{TenantID: "acme"})
	if err != nil || len(holds) != 2 || rec.query != "tenant_id=acme" {
		t.Fatalf("%+v %v %+v", holds, err, rec)
	}
	if _, err := c.ReleaseLegalHold(ctx, "h1"); err != nil || rec.method != "DELETE" || rec.path != "/api/v1/admin/legal-holds/h1" {
		t.Fatalf("%v %+v", err, rec)
	}

	c = NewClient(rec.serve(t, 200, map[string]interface{}{"erasure_id": "e1", "tenant_id": "acme", "subject_id": "s",
		"status": "done", "received_at": "2026-11-26T12:00:00Z", "requested_by": "root", "key_destroyed": true,
		"caches_clear_within_seconds": 30}).URL)
	erasure, err := c.EraseSubject(ctx, ErasureRequest{TenantID: "acme", UserID: "alice"})
	if err != nil || rec.path != "/api/v1/admin/erasures" || rec.body != `{"tenant_id":"acme","user_id":"alice"}` ||
		erasure.Status != "done" || !erasure.KeyDestroyed || erasure.CachesClearWithinSeconds != 30 {
		t.Fatalf("%+v %v %+v", erasure, err, rec)
	}
	c = NewClient(rec.serve(t, 200, map[string]interface{}{"erasures": []Erasure{{ErasureID: "e1"}}}).URL)
	if list, err := c.ListErasures(ctx, nil); err != nil || len(list) != 1 || rec.query != "" {
		t.Fatalf("%+v %v", list, err)
	}
}

func TestCallsThatAreNotIdempotentRetryOnlyWhenNothingWasDone(t *testing.T) {
	for status, wantCalls := range map[int]int32{500: 1, 502: 1, 503: 3, 429: 3} {
		var calls int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			atomic.AddInt32(&calls, 1)
			writeError(w, status, "x", "no")
		}))
		c := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
		_, err := c.PlaceLegalHold(context.Background(), LegalHoldRequest{TenantID: "acme", Reason: "r"})
		srv.Close()
		if n := atomic.LoadInt32(&calls); err == nil || n != wantCalls {
			t.Errorf("%d: %d calls, want %d (%v)", status, n, wantCalls, err)
		}
	}
	// And a lost answer is not retried: the hold may exist.
	var calls int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&calls, 1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
	}))
	defer srv.Close()
	_, err := NewClient(srv.URL, fastRetry).EraseSubject(context.Background(), ErasureRequest{TenantID: "a", UserID: "b"})
	if n := atomic.LoadInt32(&calls); err == nil || n != 1 {
		t.Fatalf("%d calls: %v", n, err)
	}
}

func TestExportManifestParameters(t *testing.T) {
	var rec recorder
	c := NewClient(rec.serve(t, 200, map[string]string{}).URL)
	var sink strings.Builder
	if _, err := c.ExportEvents(context.Background(), &sink, ExportParams{Proofs: true, Manifest: true}); err != nil {
		t.Fatal(err)
	}
	if rec.query != "format=json&manifest=true&proofs=true" {
		t.Fatalf("query %q", rec.query)
	}
	var v map[string]string
	if json.Unmarshal([]byte(sink.String()), &v) != nil {
		t.Fatalf("body %q", sink.String())
	}
}
