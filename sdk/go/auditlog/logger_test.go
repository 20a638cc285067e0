package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// batchServer is a fake batch endpoint that stores what it accepts; decide, when set, may answer
// instead (returning true).
type batchServer struct {
	*httptest.Server
	mu       sync.Mutex
	sizes    []int
	stored   map[string]int // audit_id -> times stored
	received []string       // every audit_id received, retries included
	decide   func(w http.ResponseWriter, events []Event) bool
}

func newBatchServer(t *testing.T, decide func(w http.ResponseWriter, events []Event) bool) *batchServer {
	s := &batchServer{stored: map[string]int{}, decide: decide}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/audit/events/batch" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		var body struct {
			Events []Event `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, 400, "invalid_argument", "bad json")
			return
		}
		s.mu.Lock()
		for _, e := range body.Events {
			s.received = append(s.received, e.AuditID)
		}
		s.mu.Unlock()
		if s.decide != nil && s.decide(w, body.Events) {
			return
		}
		res := BatchResult{}
		s.mu.Lock()
		s.sizes = append(s.sizes, len(body.Events))
		for i, e := range body.Events {
			status := "accepted"
			if s.stored[e.AuditID] > 0 {
				status = "duplicate"
				res.Duplicates++
			} else {
				res.Accepted++
			}
			s.stored[e.AuditID]++
			res.Results = append(res.Results, BatchItemResult{Index: i, Status: status, AuditID: e.AuditID})
		}
		s.mu.Unlock()
		writeJSON(w, 202, res)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *batchServer) storedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoggerSendsFullBatchesWithoutBeingAsked(t *testing.T) {
	srv := newBatchServer(t, nil)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{FlushInterval: time.Hour})
	for i := 0; i < 2500; i++ {
		if err := logger.Log(sampleEvent()); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "two full batches", 5*time.Second, func() bool { return srv.storedCount() == 2000 })
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sizes := append([]int(nil), srv.sizes...)
	sort.Ints(sizes)
	if fmt.Sprint(sizes) != "[500 1000 1000]" || srv.storedCount() != 2500 {
		t.Fatalf("batch sizes %v, stored %d", sizes, srv.storedCount())
	}
	if st := logger.Stats(); st.Logged != 2500 || st.Accepted != 2500 || st.Refused+st.Failed+st.Dropped+st.Duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoggerSendsByTime(t *testing.T) {
	srv := newBatchServer(t, nil)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{FlushInterval: 50 * time.Millisecond})
	defer logger.Close(context.Background())
	started := time.Now()
	for i := 0; i < 3; i++ {
		_ = logger.Log(sampleEvent())
	}
	waitUntil(t, "a timed flush", 2*time.Second, func() bool { return srv.storedCount() == 3 })
	if took := time.Since(started); took < 50*time.Millisecond {
		t.Fatalf("sent after %v, before the interval", took)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if fmt.Sprint(srv.sizes) != "[3]" {
		t.Fatalf("batches %v", srv.sizes)
	}
}

func TestLoggerFlushWaitsForDelivery(t *testing.T) {
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		time.Sleep(150 * time.Millisecond)
		return false
	})
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{FlushInterval: time.Hour, BatchSize: 4})
	defer logger.Close(context.Background())
	for i := 0; i < 10; i++ {
		_ = logger.Log(sampleEvent())
	}
	if err := logger.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := srv.storedCount(); n != 10 {
		t.Fatalf("Flush returned with %d of 10 stored", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_ = logger.Log(sampleEvent())
	if err := logger.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a Flush that runs out of time says so: %v", err)
	}
}

func TestLoggerReportsEachRefusal(t *testing.T) {
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		res := BatchResult{}
		for i, e := range events {
			if e.UserID == "bad" {
				res.Rejected++
				res.Results = append(res.Results, BatchItemResult{Index: i, Status: "rejected",
					Errors: []ErrorDetail{{Field: fmt.Sprintf("events[%d].user_id", i), Problem: "is not allowed"}}})
				continue
			}
			res.Accepted++
			res.Results = append(res.Results, BatchItemResult{Index: i, Status: "accepted", AuditID: e.AuditID})
		}
		writeJSON(w, 202, res)
		return true
	})
	var mu sync.Mutex
	var refusals []Refusal
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{OnRefused: func(r Refusal) {
		mu.Lock()
		refusals = append(refusals, r)
		mu.Unlock()
	}})
	defer logger.Close(context.Background())
	bad := sampleEvent()
	bad.UserID = "bad"
	bad.AuditID = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
	_ = logger.Log(sampleEvent())
	_ = logger.Log(bad)
	_ = logger.Log(sampleEvent())
	err := logger.Flush(context.Background())
	var de *DeliveryError
	if !errors.As(err, &de) || de.Refused != 1 || de.Failed != 0 {
		t.Fatalf("Flush: %v", err)
	}
	if len(refusals) != 1 || refusals[0].Event.AuditID != bad.AuditID || refusals[0].Err != nil ||
		len(refusals[0].Errors) != 1 || refusals[0].Errors[0].Field != "user_id" {
		t.Fatalf("refusals %+v", refusals)
	}
	if st := logger.Stats(); st.Accepted != 2 || st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := logger.Flush(context.Background()); err != nil {
		t.Fatalf("a refusal is reported once: %v", err)
	}
}

func TestLoggerMapsABatchWithNoValidEvent(t *testing.T) {
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		writeError(w, 400, "invalid_argument", "no event in the batch is valid",
			ErrorDetail{Field: "events[0].timestamp", Problem: "is too old"},
			ErrorDetail{Field: "events[1].action", Problem: "is required"},
			ErrorDetail{Field: "events[1].user_id", Problem: "is required"})
		return true
	})
	var mu sync.Mutex
	got := map[string][]ErrorDetail{}
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 2, OnRefused: func(r Refusal) {
		mu.Lock()
		got[r.Event.ResourceID] = r.Errors
		mu.Unlock()
	}})
	for _, id := range []string{"first", "second"} {
		e := sampleEvent()
		e.ResourceID = id
		_ = logger.Log(e)
	}
	err := logger.Close(context.Background())
	var de *DeliveryError
	if !errors.As(err, &de) || de.Refused != 2 {
		t.Fatalf("Close: %v", err)
	}
	if fmt.Sprint(got["first"]) != "[{timestamp is too old}]" ||
		fmt.Sprint(got["second"]) != "[{action is required} {user_id is required}]" {
		t.Fatalf("refusals %v", got)
	}
}

func TestLoggerSplitsBatchesTooLargeForTheService(t *testing.T) {
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		if len(events) > 2 {
			writeError(w, 413, "payload_too_large", "the body is larger than 8388608 bytes")
			return true
		}
		return false
	})
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 7, FlushInterval: time.Hour})
	for i := 0; i < 7; i++ {
		_ = logger.Log(sampleEvent())
	}
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.storedCount() != 7 || logger.Stats().Accepted != 7 {
		t.Fatalf("stored %d, stats %+v", srv.storedCount(), logger.Stats())
	}
}

func TestLoggerReportsFailedBatches(t *testing.T) {
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		writeError(w, 500, "internal", "broken")
		return true
	})
	var failures int32
	logger := NewClient(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond})).
		NewLogger(LoggerOptions{OnRefused: func(r Refusal) {
			if IsServerError(r.Err) && r.Event.AuditID != "" {
				atomic.AddInt32(&failures, 1)
			}
		}})
	for i := 0; i < 3; i++ {
		_ = logger.Log(sampleEvent())
	}
	err := logger.Flush(context.Background())
	var de *DeliveryError
	if !errors.As(err, &de) || de.Failed != 3 || !IsServerError(err) {
		t.Fatalf("Flush: %v", err)
	}
	if failures != 3 || len(srv.received) != 6 {
		t.Fatalf("failures reported %d, events received %d (two attempts of three)", failures, len(srv.received))
	}
	_ = logger.Close(context.Background())
}

func TestLoggerRetriesWithTheSameIDs(t *testing.T) {
	var calls int32
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		if atomic.AddInt32(&calls, 1) == 1 {
			writeError(w, 503, "unavailable", "try again")
			return true
		}
		return false
	})
	logger := NewClient(srv.URL, fastRetry).NewLogger(LoggerOptions{})
	for i := 0; i < 50; i++ {
		_ = logger.Log(sampleEvent())
	}
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(srv.received) != 100 || srv.storedCount() != 50 {
		t.Fatalf("received %d, stored %d", len(srv.received), srv.storedCount())
	}
	for i := 0; i < 50; i++ {
		if srv.received[i] != srv.received[50+i] {
			t.Fatalf("the retry sent %s where the first attempt sent %s", srv.received[50+i], srv.received[i])
		}
	}
}

// blockedServer holds every batch until release is closed.
func blockedServer(t *testing.T) (*batchServer, chan struct{}) {
	release := make(chan struct{})
	srv := newBatchServer(t, func(w http.ResponseWriter, events []Event) bool {
		<-release
		return false
	})
	return srv, release
}

func TestLoggerOverflowDropCounts(t *testing.T) {
	srv, release := blockedServer(t)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 1, BufferSize: 2, Concurrency: 1, Overflow: OverflowDrop})
	for i := 0; i < 20; i++ {
		if err := logger.Log(sampleEvent()); err != nil {
			t.Fatal(err)
		}
	}
	st := logger.Stats()
	// At most one batch at the server, one in the dispatcher and two buffered.
	if st.Dropped < 16 || st.Logged+st.Dropped != 20 {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if int64(srv.storedCount()) != st.Logged {
		t.Fatalf("stored %d of %d logged", srv.storedCount(), st.Logged)
	}
}

func TestLoggerOverflowErrorReturnsErrBufferFull(t *testing.T) {
	srv, release := blockedServer(t)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 1, BufferSize: 2, Concurrency: 1, Overflow: OverflowError})
	logged := 0
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		if err = logger.Log(sampleEvent()); err == nil {
			logged++
		}
	}
	if !errors.Is(err, ErrBufferFull) || logged > 4 {
		t.Fatalf("after %d logged: %v", logged, err)
	}
	close(release)
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.storedCount() != logged || logger.Stats().Dropped != 0 {
		t.Fatalf("stored %d of %d", srv.storedCount(), logged)
	}
}

func TestLoggerOverflowBlockWaitsForRoom(t *testing.T) {
	srv, release := blockedServer(t)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 1, BufferSize: 2, Concurrency: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 10; i++ {
			_ = logger.Log(sampleEvent())
		}
	}()
	select {
	case <-done:
		t.Fatal("Log did not block with the buffer full")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Log stayed blocked after the service came back")
	}
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.storedCount() != 10 {
		t.Fatalf("stored %d of 10", srv.storedCount())
	}
}

func TestLoggerCloseOutOfTimeReportsWhatWasNotSent(t *testing.T) {
	srv, release := blockedServer(t)
	defer close(release)
	var failed int32
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 2, OnRefused: func(r Refusal) {
		if r.Err != nil {
			atomic.AddInt32(&failed, 1)
		}
	}})
	for i := 0; i < 5; i++ {
		_ = logger.Log(sampleEvent())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started := time.Now()
	err := logger.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 2*time.Second {
		t.Fatalf("Close: %v after %v", err, time.Since(started))
	}
	if failed != 5 || logger.Stats().Failed != 5 {
		t.Fatalf("%d of 5 unsent events reported", failed)
	}
	if err := logger.Log(sampleEvent()); !errors.Is(err, ErrLoggerClosed) {
		t.Fatalf("Log after Close: %v", err)
	}
	if err := logger.Flush(context.Background()); !errors.Is(err, ErrLoggerClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
}

func TestLoggerRefusesAnUnencodableEventAlone(t *testing.T) {
	srv := newBatchServer(t, nil)
	var refused []Refusal
	var mu sync.Mutex
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{OnRefused: func(r Refusal) {
		mu.Lock()
		refused = append(refused, r)
		mu.Unlock()
	}})
	bad := sampleEvent()
	bad.Metadata = map[string]interface{}{"f": func() {}}
	_ = logger.Log(sampleEvent())
	_ = logger.Log(bad)
	_ = logger.Log(sampleEvent())
	err := logger.Close(context.Background())
	if err == nil || srv.storedCount() != 2 || len(refused) != 1 || refused[0].Err == nil {
		t.Fatalf("err %v stored %d refused %+v", err, srv.storedCount(), refused)
	}
}

func TestLoggerUnderConcurrentLogAndFlush(t *testing.T) {
	srv := newBatchServer(t, nil)
	logger := NewClient(srv.URL).NewLogger(LoggerOptions{BatchSize: 100, BufferSize: 500, Concurrency: 4, FlushInterval: 10 * time.Millisecond})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				_ = logger.Log(sampleEvent())
				if i%100 == 0 {
					_ = logger.Flush(context.Background())
				}
			}
		}(g)
	}
	wg.Wait()
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for id, n := range srv.stored {
		if n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
	if len(srv.stored) != 10000 || logger.Stats().Accepted != 10000 {
		t.Fatalf("stored %d, stats %+v", len(srv.stored), logger.Stats())
	}
}
