package auditlog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// shownStream is a stream as the service answers it.
var shownStream = map[string]interface{}{
	"stream_id": "s1", "tenant_id": "acme", "name": "siem", "format": "json",
	"destination": map[string]interface{}{"type": "webhook", "url": "https://siem.example/in", "secret_set": true},
	"filter":      map[string]interface{}{"event_types": []string{"user.login"}, "include_self_audit": false},
	"batch_size":  500, "batch_wait_seconds": 1.0, "failing_after_seconds": 86400.0,
	"created_at": "2026-11-26T12:00:00.123456+00:00", "created_by": "root",
	"status": map[string]interface{}{"state": "failing", "delivered_leaf_index": 41, "next_leaf_index": 42,
		"lag_events": 3, "lag_seconds": 0.5, "last_delivery_at": "2026-11-26T12:01:00+00:00",
		"last_error": "503 unavailable", "consecutive_failures": 2, "failing_since": "2026-11-26T12:02:00Z",
		"paused_reason": nil},
}

func TestStreamAnswersAreTyped(t *testing.T) {
	var rec recorder
	c := NewClient(rec.serve(t, 200, shownStream).URL)
	s, err := c.GetStream(context.Background(), "a/b")
	if err != nil || rec.method != "GET" || rec.path != "/api/v1/admin/streams/a%2Fb" {
		t.Fatalf("%v %+v", err, rec)
	}
	st := s.Status
	if s.StreamID != "s1" || !s.Destination.SecretSet || s.Destination.Secret != "" || s.Filter.EventTypes[0] != "user.login" ||
		s.CreatedAt.Nanosecond() != 123456000 || st.State != "failing" || *st.DeliveredLeafIndex != 41 ||
		st.NextLeafIndex != 42 || *st.LagEvents != 3 || *st.LagSeconds != 0.5 || st.LastDeliveryAt.Minute() != 1 ||
		st.ConsecutiveFailures != 2 || !st.FailingSince.Equal(time.Date(2026, 11, 26, 12, 2, 0, 0, time.UTC)) {
		t.Fatalf("%+v", s)
	}
}

func TestStreamRequests(t *testing.T) {
	ctx := context.Background()
	zero := 0.0
	var rec recorder
	c := NewClient(rec.serve(t, 201, shownStream).URL)
	_, err := c.CreateStream(ctx, StreamRequest{TenantID: "acme", Name: "siem",
		Destination: StreamDestination{Type: "webhook", URL: "https://siem.example/in", Secret: "whsec_x"},
		Filter:      &StreamFilter{EventTypes: []string{"user.login"}}, Start: StartAtLeaf(5), BatchWaitSeconds: &zero})
	if err != nil || rec.method != "POST" || rec.path != "/api/v1/admin/streams" || rec.body != `{"tenant_id":"acme","name":"siem",`+
		`"destination":{"type":"webhook","url":"https://siem.example/in","secret":"whsec_x"},"filter":{"event_types":["user.login"]},`+
		`"start":{"leaf_index":5},"batch_wait_seconds":0}` {
		t.Fatalf("%v %+v", err, rec)
	}
	for start, want := range map[*StreamStart]string{StartNow(): `"now"`, StartBeginning(): `"beginning"`} {
		if _, err := c.CreateStream(ctx, StreamRequest{TenantID: "a", Name: "n", Destination: StreamDestination{Type: "gcs", Bucket: "b"}, Start: start}); err != nil ||
			rec.body != `{"tenant_id":"a","name":"n","destination":{"type":"gcs","bucket":"b"},"start":`+want+`}` {
			t.Fatalf("%v %s", err, rec.body)
		}
	}

	// A destination read back (secret_set) is sent as it may be: without what only the answer says.
	shown, _ := c.GetStream(ctx, "s1")
	if _, err := c.UpdateStream(ctx, "s1", StreamPatch{Name: "renamed", Destination: &shown.Destination, BatchSize: 50}); err != nil ||
		rec.method != "PATCH" || rec.path != "/api/v1/admin/streams/s1" ||
		rec.body != `{"name":"renamed","destination":{"type":"webhook","url":"https://siem.example/in"},"batch_size":50}` {
		t.Fatalf("%v %+v", err, rec)
	}

	calls := map[string]func() (*Stream, error){
		"DELETE /api/v1/admin/streams/s1":      func() (*Stream, error) { return c.DeleteStream(ctx, "s1") },
		"POST /api/v1/admin/streams/s1/pause":  func() (*Stream, error) { return c.PauseStream(ctx, "s1") },
		"POST /api/v1/admin/streams/s1/resume": func() (*Stream, error) { return c.ResumeStream(ctx, "s1") },
	}
	for want, call := range calls {
		if s, err := call(); err != nil || rec.method+" "+rec.path != want || rec.body != "" || s.StreamID != "s1" {
			t.Fatalf("%s: %v %+v", want, err, rec)
		}
	}

	leaf := uint64(7)
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for body, replay := range map[string]StreamReplay{`{"from_leaf_index":7}`: {FromLeafIndex: &leaf},
		`{"from_time":"2026-11-26T12:00:00Z"}`: {FromTime: &from}} {
		if _, err := c.ReplayStream(ctx, "s1", replay); err != nil || rec.path != "/api/v1/admin/streams/s1/replay" || rec.body != body {
			t.Fatalf("%v %+v", err, rec)
		}
	}
	before := atomic.LoadInt32(&rec.calls)
	for _, replay := range []StreamReplay{{}, {FromLeafIndex: &leaf, FromTime: &from}} {
		if _, err := c.ReplayStream(ctx, "s1", replay); !errors.Is(err, errReplayStart) {
			t.Fatalf("%+v: %v", replay, err)
		}
	}
	if atomic.LoadInt32(&rec.calls) != before {
		t.Fatal("a replay without exactly one start was sent")
	}
}

func TestStreamListTestAndRun(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	c := NewClient(rec.serve(t, 200, map[string]interface{}{"streams": []interface{}{shownStream, shownStream}}).URL)
	if list, err := c.ListStreams(ctx, &TenantOptions{TenantID: "acme"}); err != nil || len(list) != 2 ||
		rec.path != "/api/v1/admin/streams" || rec.query != "tenant_id=acme" {
		t.Fatalf("%+v %v %+v", list, err, rec)
	}
	c = NewClient(rec.serve(t, 200, map[string]interface{}{"ok": false, "status_code": 401, "detail": "refused"}).URL)
	if res, err := c.TestStream(ctx, "s1"); err != nil || rec.method != "POST" || rec.path != "/api/v1/admin/streams/s1/test" ||
		res.OK || *res.StatusCode != 401 || res.Detail != "refused" {
		t.Fatalf("%+v %v %+v", res, err, rec)
	}
	c = NewClient(rec.serve(t, 200, map[string]interface{}{"delivered": map[string]int{"s1": 12}}).URL)
	if run, err := c.RunStreams(ctx); err != nil || rec.path != "/api/v1/audit/streams/run" || run.Delivered["s1"] != 12 {
		t.Fatalf("%+v %v %+v", run, err, rec)
	}
}

func TestCreatingAndTestingAStreamAreNotRetriedAfterA5xx(t *testing.T) {
	calls := map[string]func(*Client) error{
		"createStream": func(c *Client) error {
			_, err := c.CreateStream(context.Background(), StreamRequest{TenantID: "a", Name: "n"})
			return err
		},
		"testStream": func(c *Client) error { _, err := c.TestStream(context.Background(), "s1"); return err },
		"pauseStream (retried)": func(c *Client) error {
			_, err := c.PauseStream(context.Background(), "s1")
			return err
		},
	}
	wants := map[string]int32{"createStream": 1, "testStream": 1, "pauseStream (retried)": 4}
	for name, call := range calls {
		var n int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			atomic.AddInt32(&n, 1)
			writeError(w, 500, "internal", "boom")
		}))
		err := call(NewClient(srv.URL, fastRetry))
		srv.Close()
		if !IsServerError(err) || atomic.LoadInt32(&n) != wants[name] {
			t.Errorf("%s: %d calls, want %d (%v)", name, n, wants[name], err)
		}
	}
}
