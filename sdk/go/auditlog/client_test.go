package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"

// fastRetry keeps backoff waits short in tests that count attempts.
var fastRetry = WithRetry(RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})

func writeError(w http.ResponseWriter, status int, code, message string, details ...ErrorDetail) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "req-"+code)
	w.WriteHeader(status)
	if details == nil {
		details = []ErrorDetail{}
	}
	_ = json.NewEncoder(w).Encode(map[string]interface{}{"error": map[string]interface{}{
		"code": code, "message": message, "details": details, "request_id": "req-" + code}})
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sampleEvent() Event {
	return Event{EventType: "user.login", UserID: "alice", ResourceType: "session", Action: "create"}
}

func TestRetriesServerErrorsWithTheSameAuditID(t *testing.T) {
	var attempts int32
	var mu sync.Mutex
	var bodies []map[string]interface{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]interface{}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		if atomic.AddInt32(&attempts, 1) < 3 {
			writeError(w, 503, "unavailable", "the queue is down")
			return
		}
		writeJSON(w, 202, map[string]string{"audit_id": body["audit_id"].(string), "status": "accepted"})
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithToken(secret), fastRetry)
	res, err := c.IngestEvent(context.Background(), sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Fatalf("attempts = %d, want 3", attempts)
	}
	id := bodies[0]["audit_id"]
	if id == nil || id == "" || res.AuditID != id {
		t.Fatalf("audit_id %v, answer %q", id, res.AuditID)
	}
	for i, b := range bodies {
		if b["audit_id"] != id {
			t.Fatalf("attempt %d sent audit_id %v, the first sent %v", i+1, b["audit_id"], id)
		}
		if _, err := time.Parse(time.RFC3339Nano, b["timestamp"].(string)); err != nil {
			t.Fatalf("attempt %d: timestamp %v: %v", i+1, b["timestamp"], err)
		}
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	var attempts int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&attempts, 1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // the connection drops before any answer
			}
			return
		}
		writeJSON(w, 200, map[string]string{"status": "ok"})
	}))
	defer srv.Close()
	c := NewClient(srv.URL, fastRetry)
	if _, err := c.GetPublicKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2", attempts)
	}
}

func TestConnectionRefusedIsATransportErrorWithoutTheToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c := NewClient("http://"+addr, WithToken(secret), WithRetry(RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}))
	_, err = c.IngestEvent(context.Background(), sampleEvent())
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("want *TransportError, got %T %v", err, err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
		t.Fatalf("the token leaked: %v", err)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		times = append(times, time.Now())
		if len(times) == 1 {
			w.Header().Set("Retry-After", "1")
			writeError(w, 429, "resource_exhausted", "slow down")
			return
		}
		writeJSON(w, 200, EventPage{Events: []EventRecord{}})
	}))
	defer srv.Close()
	// Backoff alone would wait at most 1 ms: only Retry-After explains a wait of a second.
	c := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if _, err := c.SearchEvents(context.Background(), SearchParams{}); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 {
		t.Fatalf("attempts = %d", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < time.Second || gap > 1500*time.Millisecond {
		t.Fatalf("waited %v between attempts; Retry-After said 1 s", gap)
	}
}

func TestRetryAfterBeyondTheCapIsReturnedAtOnce(t *testing.T) {
	var attempts int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&attempts, 1)
		w.Header().Set("Retry-After", "120")
		writeError(w, 429, "resource_exhausted", "slow down")
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 5, MaxRetryAfter: 10 * time.Second}))
	started := time.Now()
	_, err := c.SearchEvents(context.Background(), SearchParams{})
	if !IsRateLimited(err) {
		t.Fatalf("want a rate limit error, got %v", err)
	}
	var apiErr *APIError
	errors.As(err, &apiErr)
	if apiErr.RetryAfter != 120*time.Second || attempts != 1 || time.Since(started) > time.Second {
		t.Fatalf("RetryAfter %v, attempts %d, took %v", apiErr.RetryAfter, attempts, time.Since(started))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for value, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0":                             0,
		"-4":                            0,
		"soon":                          0,
		"Thu, 26 Nov 2026 12:00:07 GMT": 7 * time.Second,
		"Thu, 26 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(value, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", value, got, want)
		}
	}
}

func TestBackoffGrowsWithFullJitter(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	wantCeilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	b := newBackoff()
	for i, want := range wantCeilings {
		attempt := i + 1
		if got := p.ceiling(attempt); got != want*time.Millisecond {
			t.Fatalf("ceiling(%d) = %v, want %v", attempt, got, want*time.Millisecond)
		}
		seen := map[time.Duration]bool{}
		for j := 0; j < 200; j++ {
			d := b.delay(p, attempt)
			if d < 0 || d > p.ceiling(attempt) {
				t.Fatalf("delay %v outside [0, %v]", d, p.ceiling(attempt))
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Fatalf("attempt %d: only %d distinct delays in 200: not jittered", attempt, len(seen))
		}
	}
}

func TestClientErrorsAreNotRetriedAndMapToAPIError(t *testing.T) {
	var attempts int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&attempts, 1)
		writeError(w, 400, "invalid_argument", "the event is not valid",
			ErrorDetail{Field: "timestamp", Problem: "is required"})
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithToken(secret), fastRetry)
	_, err := c.IngestEvent(context.Background(), sampleEvent())
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *APIError, got %T", err)
	}
	if attempts != 1 {
		t.Fatalf("a 400 was tried %d times", attempts)
	}
	if apiErr.StatusCode != 400 || apiErr.Code != "invalid_argument" || apiErr.Message != "the event is not valid" ||
		apiErr.RequestID != "req-invalid_argument" || !apiErr.HasField("timestamp") || apiErr.Op != "ingestEvent" {
		t.Fatalf("mapped wrong: %#v", apiErr)
	}
	if !IsInvalid(err) || IsNotFound(err) || apiErr.Temporary() {
		t.Fatal("helpers disagree with the status")
	}
	for _, want := range []string{"400", "invalid_argument", "timestamp is required", "req-invalid_argument", "/api/v1/audit/events"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err.Error(), want)
		}
	}
}

func TestStatusHelpers(t *testing.T) {
	cases := []struct {
		status int
		code   string
		check  func(error) bool
	}{
		{401, "unauthenticated", IsUnauthenticated},
		{403, "permission_denied", IsPermissionDenied},
		{404, "not_found", IsNotFound},
		{413, "payload_too_large", IsTooLarge},
		{409, "not_sequenced", IsNotSequenced},
		{500, "internal", IsServerError},
		{429, "resource_exhausted", IsRateLimited},
	}
	for _, tc := range cases {
		tc := tc
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, tc.status, tc.code, "no")
		}))
		c := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 1}))
		_, err := c.GetEvent(context.Background(), "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", nil)
		srv.Close()
		if !tc.check(err) {
			t.Errorf("%d: helper false for %v", tc.status, err)
		}
		if tc.status != 404 && IsNotFound(err) {
			t.Errorf("%d: IsNotFound true", tc.status)
		}
	}
	if IsNotFound(errors.New("plain")) || IsNotFound(nil) {
		t.Error("helpers must be false for other errors")
	}
}

func TestAnswerFromAProxyKeepsAnExcerpt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html>upstream connect error</html>")
	}))
	defer srv.Close()
	c := NewClient(srv.URL, fastRetry)
	_, err := c.SearchEvents(context.Background(), SearchParams{})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "upstream connect error") {
		t.Fatalf("got %v", err)
	}
	if !IsServerError(err) {
		t.Fatal("502 is a server error")
	}
}

func TestTheTokenNeverShows(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		writeError(w, 401, "unauthenticated", "the token has expired", ErrorDetail{Field: "Authorization", Problem: "the token has expired"})
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithToken(secret))
	_, err := c.SearchEvents(context.Background(), SearchParams{})
	if !IsUnauthenticated(err) {
		t.Fatalf("got %v", err)
	}
	var apiErr *APIError
	errors.As(err, &apiErr)
	for _, text := range []string{
		err.Error(), fmt.Sprintf("%v|%+v|%#v|%s", err, err, apiErr, apiErr),
		fmt.Sprintf("%v|%+v|%#v|%s", c, c, c, c), c.String(),
		fmt.Sprintf("%v|%+v|%#v", StaticToken(secret), StaticToken(secret), StaticToken(secret)),
	} {
		if strings.Contains(text, secret) || strings.Contains(text, "c2VjcmV0") {
			t.Fatalf("the token shows in %q", text)
		}
	}
	if !strings.Contains(c.String(), srv.URL) {
		t.Fatalf("String() should still say where the client points: %s", c)
	}
}

func TestTokenSourceIsAskedOnEveryAttempt(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if len(seen) == 1 {
			writeError(w, 503, "unavailable", "later")
			return
		}
		writeJSON(w, 200, EventPage{})
	}))
	defer srv.Close()
	var n int32
	source := TokenFunc(func(ctx context.Context) (string, error) {
		return fmt.Sprintf("token-%d", atomic.AddInt32(&n, 1)), nil
	})
	c := NewClient(srv.URL, WithTokenSource(source), fastRetry)
	if _, err := c.SearchEvents(context.Background(), SearchParams{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "Bearer token-1,Bearer token-2" {
		t.Fatalf("Authorization headers: %v", seen)
	}

	failing := NewClient(srv.URL, WithTokenSource(TokenFunc(func(ctx context.Context) (string, error) {
		return "", errors.New("the identity provider is down")
	})), fastRetry)
	before := len(seen)
	_, err := failing.SearchEvents(context.Background(), SearchParams{})
	if err == nil || !strings.Contains(err.Error(), "identity provider is down") || len(seen) != before {
		t.Fatalf("a failing token source must fail the call without a request: %v", err)
	}
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		writeJSON(w, 200, EventPage{})
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/prefix/", WithUserAgent("billing/2.3"))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, err := c.SearchEvents(context.Background(), SearchParams{
		Filter: Filter{StartTime: start, UserID: []string{"alice", "bob"}, Metadata: map[string]string{"region": "eu", "a.b": "x y"},
			IncludeSelfAudit: true},
		PageSize: 50, PageToken: "tok+/=",
	})
	if err != nil {
		t.Fatal(err)
	}
	q := got.URL.Query()
	if got.URL.Path != "/prefix/api/v1/audit/events" || q.Get("start_time") != "2026-11-01T00:00:00Z" ||
		strings.Join(q["user_id"], ",") != "alice,bob" || q.Get("metadata.region") != "eu" || q.Get("metadata.a.b") != "x y" ||
		q.Get("page_size") != "50" || q.Get("page_token") != "tok+/=" || q.Get("include_self_audit") != "true" {
		t.Fatalf("request: %s", got.URL)
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "billing/2.3 auditlog-go/") {
		t.Fatalf("User-Agent %q", ua)
	}
	if got.Header.Get("Authorization") != "" {
		t.Fatal("no token configured, none must be sent")
	}

	if _, err := c.GetEvent(context.Background(), "a/b c", &GetOptions{TenantID: "other"}); err != nil {
		t.Fatal(err)
	}
	if got.URL.EscapedPath() != "/prefix/api/v1/audit/events/a%2Fb%20c" || got.URL.Query().Get("tenant_id") != "other" {
		t.Fatalf("get: %s", got.URL)
	}
}

func TestBatchKeepsTheCallersSliceAndFillsIDs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Events []Event `json:"events"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		res := BatchResult{}
		for i, e := range body.Events {
			res.Results = append(res.Results, BatchItemResult{Index: i, Status: "accepted", AuditID: e.AuditID})
			res.Accepted++
		}
		writeJSON(w, 202, res)
	}))
	defer srv.Close()
	c := NewClient(srv.URL)
	events := []Event{sampleEvent(), sampleEvent()}
	events[1].AuditID = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
	res, err := c.IngestBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].AuditID != "" || !events[0].Timestamp.IsZero() {
		t.Fatal("the caller's events were modified")
	}
	if res.Accepted != 2 || res.Results[1].AuditID != events[1].AuditID || len(res.Results[0].AuditID) != 36 {
		t.Fatalf("results %+v", res.Results)
	}
}

func TestNewAuditIDIsAVersion4UUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewAuditID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || id[8] != '-' || id[23] != '-' {
			t.Fatalf("not a v4 UUID: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

func TestIteratorFollowsCursors(t *testing.T) {
	pages := map[string]EventPage{
		"":   {Events: []EventRecord{{AuditID: "1"}, {AuditID: "2"}}, NextPageToken: "p2"},
		"p2": {Events: []EventRecord{}, NextPageToken: "p3"}, // an empty page is not the end
		"p3": {Events: []EventRecord{{AuditID: "3"}}, NextPageToken: ""},
	}
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("page_token")
		asked = append(asked, tok)
		if r.URL.Query().Get("user_id") != "alice" {
			t.Errorf("the filter was not kept: %s", r.URL)
		}
		writeJSON(w, 200, pages[tok])
	}))
	defer srv.Close()
	it := NewClient(srv.URL).Events(SearchParams{Filter: Filter{UserID: []string{"alice"}}})
	var ids []string
	for it.Next(context.Background()) {
		ids = append(ids, it.Event().AuditID)
	}
	if it.Err() != nil || strings.Join(ids, ",") != "1,2,3" || strings.Join(asked, ",") != ",p2,p3" {
		t.Fatalf("ids %v, asked %q, err %v", ids, asked, it.Err())
	}
	if it.Next(context.Background()) {
		t.Fatal("Next after the end")
	}
}

func TestIteratorStopsOnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page_token") == "" {
			writeJSON(w, 200, EventPage{Events: []EventRecord{{AuditID: "1"}}, NextPageToken: "p2"})
			return
		}
		writeError(w, 400, "invalid_argument", "bad cursor", ErrorDetail{Field: "page_token", Problem: "is not valid"})
	}))
	defer srv.Close()
	it := NewClient(srv.URL).Events(SearchParams{})
	n := 0
	for it.Next(context.Background()) {
		n++
	}
	if n != 1 || !IsInvalid(it.Err()) || it.PageToken() != "p2" {
		t.Fatalf("n %d err %v token %q", n, it.Err(), it.PageToken())
	}
}

func TestContextCancelsTheBackoff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 503, "unavailable", "down")
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 10, InitialBackoff: 5 * time.Second, MaxBackoff: 5 * time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := c.SearchEvents(ctx, SearchParams{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(started))
	}
}

func TestExportStreamsWithProgress(t *testing.T) {
	ndjson := strings.Repeat(`{"audit_id":"x","user_id":"alice"}`+"\n", 5000)
	csvBody := "audit_id,request_data\n1,\"{\"\"a\"\":\"\"line\nbreak\"\"}\"\n2,\n3,x" // 3 rows, one spanning two lines, no final newline
	var attempts int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&attempts, 1) == 1 {
			writeError(w, 503, "unavailable", "retry me") // before the stream starts: retried
			return
		}
		if r.URL.Query().Get("format") == "csv" {
			_, _ = io.WriteString(w, csvBody)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; i < len(ndjson); i += 4096 {
			end := i + 4096
			if end > len(ndjson) {
				end = len(ndjson)
			}
			_, _ = io.WriteString(w, ndjson[i:end])
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, fastRetry)
	var out bytes.Buffer
	var calls int
	var last ExportProgress
	total, err := c.ExportEvents(context.Background(), &out, ExportParams{Progress: func(p ExportProgress) {
		if p.Bytes < last.Bytes || p.Records < last.Records {
			t.Errorf("progress went back: %+v after %+v", p, last)
		}
		calls++
		last = p
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != ndjson || total.Records != 5000 || total.Bytes != int64(len(ndjson)) || last != total || calls < 2 {
		t.Fatalf("total %+v last %+v calls %d len %d", total, last, calls, out.Len())
	}
	out.Reset()
	total, err = c.ExportEvents(context.Background(), &out, ExportParams{Format: ExportCSV})
	if err != nil || out.String() != csvBody || total.Records != 3 {
		t.Fatalf("csv: %+v %v", total, err)
	}
	if _, err := c.ExportEvents(context.Background(), &out, ExportParams{Format: "xml"}); err == nil {
		t.Fatal("an unknown format must be refused")
	}
}

func TestExportBrokenOffMidStreamIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		_, _ = io.WriteString(w, strings.Repeat("{}\n", 100))
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
	}))
	defer srv.Close()
	var out bytes.Buffer
	got, err := NewClient(srv.URL).ExportEvents(context.Background(), &out, ExportParams{})
	var te *TransportError
	if !errors.As(err, &te) || got.Records != 100 || !strings.Contains(err.Error(), "broke off after 300 bytes") {
		t.Fatalf("progress %+v err %v", got, err)
	}
}

func TestReadyzNotReadyIsAnAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, map[string]interface{}{"status": "unavailable", "checks": map[string]interface{}{
			"store": map[string]interface{}{"ok": false, "error": "IOException"},
			"queue": map[string]interface{}{"ok": true, "latency_ms": 0.4}}})
	}))
	defer srv.Close()
	r, err := NewClient(srv.URL).Readyz(context.Background())
	if err != nil || r.Ready || r.Checks["store"].OK || r.Checks["store"].Error != "IOException" || !r.Checks["queue"].OK {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestInvalidBaseURL(t *testing.T) {
	_, err := NewClient("127.0.0.1:8080").SearchEvents(context.Background(), SearchParams{})
	if err == nil || !strings.Contains(err.Error(), "invalid base URL") {
		t.Fatalf("got %v", err)
	}
}
