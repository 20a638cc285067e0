package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxBatchSize is the most events the service takes in one batch.
const MaxBatchSize = 1000

// OverflowPolicy is what Log does when the Logger's buffer is full.
type OverflowPolicy int

const (
	// OverflowBlock makes Log wait until there is room (the default): no event is lost, and a
	// slow service slows the caller down.
	OverflowBlock OverflowPolicy = iota
	// OverflowDrop makes Log discard the event and count it (LoggerStats.Dropped): the caller
	// never waits.
	OverflowDrop
	// OverflowError makes Log return ErrBufferFull: the caller decides.
	OverflowError
)

var (
	// ErrBufferFull is returned by Log under OverflowError when the buffer is full.
	ErrBufferFull = errors.New("auditlog: logger buffer is full")
	// ErrLoggerClosed is returned by Log and Flush after Close.
	ErrLoggerClosed = errors.New("auditlog: logger is closed")
)

// LoggerOptions configures a Logger; zero fields take the defaults.
type LoggerOptions struct {
	// BatchSize is the most events per request, 1 to 1000 (default 1000). A batch is sent when
	// it is full or when its oldest event has waited FlushInterval.
	BatchSize int
	// FlushInterval is the longest an event waits in the buffer (default 1 s).
	FlushInterval time.Duration
	// BufferSize is how many events may wait to be sent (default 10000). Memory is bounded by
	// BufferSize plus (Concurrency + 1) × BatchSize events.
	BufferSize int
	// Overflow is what Log does when BufferSize events are waiting (default OverflowBlock).
	Overflow OverflowPolicy
	// Concurrency is how many batches are sent at once (default 2).
	Concurrency int
	// OnRefused is told about every event that was not stored: refused by the service (Errors
	// says why), or in a batch that failed as a whole after the client's retries (Err says why;
	// the event may or may not have been stored, and logging it again is safe since its AuditID
	// is set). It may be called from several goroutines at once and should return quickly.
	// Refusals are also counted in Stats and reported by Flush and Close.
	OnRefused func(Refusal)
}

// Refusal is an event the Logger could not store.
type Refusal struct {
	Event  Event         // as sent, with its AuditID
	Errors []ErrorDetail // the service's reasons, fields named within the event ("timestamp")
	Err    error         // set when the request failed rather than the event
}

// LoggerStats counts what a Logger did with the events given to Log.
type LoggerStats struct {
	Logged     int64 // taken by Log
	Accepted   int64 // stored
	Duplicates int64 // already stored under the same audit_id (a retry of an earlier write)
	Refused    int64 // refused by the service (reported to OnRefused)
	Failed     int64 // in a batch that failed as a whole (reported to OnRefused)
	Dropped    int64 // discarded by Log under OverflowDrop
}

// DeliveryError is returned by Flush and Close when events were refused or failed since the
// previous Flush; OnRefused has had each of them.
type DeliveryError struct {
	Refused int64
	Failed  int64
	Last    error // the last refusal or failure
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("auditlog: logger: %d events refused and %d failed (last: %v)", e.Refused, e.Failed, e.Last)
}

// Unwrap gives the last refusal or failure (an *APIError when the service answered).
func (e *DeliveryError) Unwrap() error { return e.Last }

// Logger sends events in batches in the background; make one with Client.NewLogger, call Log on
// the hot path, and Close it before the program ends:
//
//	logger := client.NewLogger(auditlog.LoggerOptions{OnRefused: func(r auditlog.Refusal) { ... }})
//	defer logger.Close(context.Background())
//	logger.Log(auditlog.Event{...})
type Logger struct {
	c    *Client
	opts LoggerOptions

	mu     sync.RWMutex // closed and sends on in; Close takes it for writing
	closed bool
	in     chan logItem

	batches chan logBatch
	ctx     context.Context // of the requests; cancelled when Close runs out of time
	cancel  context.CancelFunc
	done    chan struct{} // closed once every batch is delivered or reported

	pmu       sync.Mutex // the progress below
	completed map[uint64]bool
	through   uint64        // every batch up to this sequence number is finished
	changed   chan struct{} // closed (and replaced) when through advances
	reported  [2]int64      // Refused and Failed as last returned by Flush or Close
	lastErr   error

	logged, accepted, duplicates, refused, failed, dropped int64 // atomic
}

type logItem struct {
	event Event
	flush chan uint64 // a flush marker: answered with the sequence of the last batch before it
}

type logBatch struct {
	seq    uint64
	events []Event
}

// NewLogger starts a batching Logger on c.
//
// OpenAPI: ingestBatch
func (c *Client) NewLogger(opts LoggerOptions) *Logger {
	if opts.BatchSize <= 0 || opts.BatchSize > MaxBatchSize {
		opts.BatchSize = MaxBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 10000
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Logger{
		c:         c,
		opts:      opts,
		in:        make(chan logItem, opts.BufferSize),
		batches:   make(chan logBatch),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		completed: map[uint64]bool{},
		changed:   make(chan struct{}),
	}
	var workers sync.WaitGroup
	for i := 0; i < opts.Concurrency; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for b := range l.batches {
				l.deliver(b.events)
				l.finished(b.seq)
			}
		}()
	}
	go l.dispatch()
	go func() {
		workers.Wait()
		close(l.done)
	}()
	return l
}

// Log queues one event and returns at once (under OverflowBlock, once there is room). An event
// without AuditID gets one now, and one without Timestamp gets the current time.
func (l *Logger) Log(event Event) error {
	item := logItem{event: event.prepared(time.Now())}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrLoggerClosed
	}
	switch l.opts.Overflow {
	case OverflowDrop:
		select {
		case l.in <- item:
		default:
			atomic.AddInt64(&l.dropped, 1)
			return nil
		}
	case OverflowError:
		select {
		case l.in <- item:
		default:
			return ErrBufferFull
		}
	default:
		l.in <- item
	}
	atomic.AddInt64(&l.logged, 1)
	return nil
}

// Flush sends every event logged before it and waits until each is stored or reported to
// OnRefused. It returns a *DeliveryError if events were refused or failed since the previous
// Flush, ctx's error if it ran out first.
func (l *Logger) Flush(ctx context.Context) error {
	reply := make(chan uint64, 1)
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrLoggerClosed
	}
	select {
	case l.in <- logItem{flush: reply}:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	var target uint64
	select {
	case target = <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		l.pmu.Lock()
		through, changed := l.through, l.changed
		l.pmu.Unlock()
		if through >= target {
			return l.deliveryError()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops taking events, sends every buffered one and waits for them. If ctx ends first, the
// requests in flight are cancelled and every event not yet stored is reported to OnRefused (as
// failed) before Close returns ctx's error. Close returns a *DeliveryError if events were
// refused or failed since the previous Flush. Closing twice returns ErrLoggerClosed.
func (l *Logger) Close(ctx context.Context) error {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			l.cancel()
		case <-stop:
		}
	}()
	l.mu.Lock() // waits for blocked Logs, which the dispatcher keeps draining
	if l.closed {
		l.mu.Unlock()
		return ErrLoggerClosed
	}
	l.closed = true
	close(l.in)
	l.mu.Unlock()
	<-l.done // bounded: once ctx ends, every request fails at once
	l.cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("auditlog: logger closed before everything was sent: %w", err)
	}
	return l.deliveryError()
}

// Stats returns the counters so far.
func (l *Logger) Stats() LoggerStats {
	return LoggerStats{
		Logged:     atomic.LoadInt64(&l.logged),
		Accepted:   atomic.LoadInt64(&l.accepted),
		Duplicates: atomic.LoadInt64(&l.duplicates),
		Refused:    atomic.LoadInt64(&l.refused),
		Failed:     atomic.LoadInt64(&l.failed),
		Dropped:    atomic.LoadInt64(&l.dropped),
	}
}

// dispatch cuts the stream of logged events into batches: when BatchSize events wait, when the
// oldest has waited FlushInterval, at a flush marker and at the end.
func (l *Logger) dispatch() {
	var (
		seq     uint64
		pending []Event
		timer   *time.Timer
		timeout <-chan time.Time
	)
	send := func() {
		if timer != nil {
			timer.Stop()
			timer, timeout = nil, nil
		}
		if len(pending) == 0 {
			return
		}
		seq++
		l.batches <- logBatch{seq: seq, events: pending}
		pending = nil
	}
	for {
		select {
		case item, ok := <-l.in:
			if !ok {
				send()
				close(l.batches)
				return
			}
			if item.flush != nil {
				send()
				item.flush <- seq
				continue
			}
			if pending == nil {
				pending = make([]Event, 0, l.opts.BatchSize)
				timer = time.NewTimer(l.opts.FlushInterval)
				timeout = timer.C
			}
			pending = append(pending, item.event)
			if len(pending) >= l.opts.BatchSize {
				send()
			}
		case <-timeout:
			timer, timeout = nil, nil
			send()
		}
	}
}

func (l *Logger) finished(seq uint64) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	l.completed[seq] = true
	advanced := false
	for l.completed[l.through+1] {
		delete(l.completed, l.through+1)
		l.through++
		advanced = true
	}
	if advanced {
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *Logger) deliveryError() error {
	refused, failed := atomic.LoadInt64(&l.refused), atomic.LoadInt64(&l.failed)
	l.pmu.Lock()
	defer l.pmu.Unlock()
	dr, df := refused-l.reported[0], failed-l.reported[1]
	l.reported = [2]int64{refused, failed}
	if dr == 0 && df == 0 {
		return nil
	}
	return &DeliveryError{Refused: dr, Failed: df, Last: l.lastErr}
}

// deliver sends one batch and accounts for every event in it.
func (l *Logger) deliver(events []Event) {
	events = l.dropUnencodable(events)
	if len(events) == 0 {
		return
	}
	result, err := l.c.ingestPrepared(l.ctx, events)
	if err == nil {
		for _, r := range result.Results {
			if r.Index < 0 || r.Index >= len(events) {
				continue
			}
			switch r.Status {
			case "accepted":
				atomic.AddInt64(&l.accepted, 1)
			case "duplicate":
				atomic.AddInt64(&l.duplicates, 1)
			default:
				l.refuse(events[r.Index], stripIndex(r.Errors, r.Index), nil)
			}
		}
		if len(result.Results) != len(events) {
			err = fmt.Errorf("auditlog: the batch answer has %d results for %d events", len(result.Results), len(events))
			seen := make(map[int]bool, len(result.Results))
			for _, r := range result.Results {
				seen[r.Index] = true
			}
			for i, e := range events {
				if !seen[i] {
					l.fail(e, err)
				}
			}
		}
		return
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.StatusCode == 413 && len(events) > 1 { // over the body limit: halve and resend
			half := len(events) / 2
			l.deliver(events[:half])
			l.deliver(events[half:])
			return
		}
		if apiErr.StatusCode == 400 && l.refuseByDetails(events, apiErr) {
			return
		}
	}
	for _, e := range events {
		l.fail(e, err)
	}
}

// refuseByDetails handles the 400 of a batch in which no event is valid: each event gets the
// details that name it ("events[3].timestamp"). False when the details do not name every event
// (a 400 about the request itself).
func (l *Logger) refuseByDetails(events []Event, apiErr *APIError) bool {
	per := make([][]ErrorDetail, len(events))
	for _, d := range apiErr.Details {
		i, ok := eventIndex(d.Field)
		if !ok || i >= len(events) {
			return false
		}
		per[i] = append(per[i], d)
	}
	for i := range per {
		if len(per[i]) == 0 {
			return false
		}
	}
	for i, e := range events {
		l.refuse(e, stripIndex(per[i], i), nil)
	}
	return true
}

// eventIndex reads i from "events[i]" or "events[i].field".
func eventIndex(field string) (int, bool) {
	rest := strings.TrimPrefix(field, "events[")
	if rest == field {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:end])
	return i, err == nil && i >= 0
}

// stripIndex names fields within the event: "events[3].timestamp" becomes "timestamp".
func stripIndex(details []ErrorDetail, index int) []ErrorDetail {
	prefix := "events[" + strconv.Itoa(index) + "]"
	out := make([]ErrorDetail, len(details))
	for i, d := range details {
		d.Field = strings.TrimPrefix(strings.TrimPrefix(d.Field, prefix), ".")
		out[i] = d
	}
	return out
}

// dropUnencodable keeps one event that cannot be turned into JSON (a channel in its metadata,
// say) from failing its whole batch.
func (l *Logger) dropUnencodable(events []Event) []Event {
	if _, err := json.Marshal(events); err == nil {
		return events
	}
	kept := events[:0:0]
	for _, e := range events {
		if _, err := json.Marshal(e); err != nil {
			l.refuse(e, nil, fmt.Errorf("auditlog: the event cannot be encoded as JSON: %w", err))
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

func (l *Logger) refuse(e Event, details []ErrorDetail, err error) {
	if err != nil {
		l.fail(e, err)
		return
	}
	atomic.AddInt64(&l.refused, 1)
	parts := make([]string, len(details))
	for i, d := range details {
		parts[i] = d.Field + " " + d.Problem
	}
	l.remember(fmt.Errorf("auditlog: event %s refused: %s", e.AuditID, strings.Join(parts, "; ")))
	if l.opts.OnRefused != nil {
		l.opts.OnRefused(Refusal{Event: e, Errors: details})
	}
}

func (l *Logger) fail(e Event, err error) {
	atomic.AddInt64(&l.failed, 1)
	l.remember(err)
	if l.opts.OnRefused != nil {
		l.opts.OnRefused(Refusal{Event: e, Err: err})
	}
}

func (l *Logger) remember(err error) {
	l.pmu.Lock()
	l.lastErr = err
	l.pmu.Unlock()
}
