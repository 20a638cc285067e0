package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Log streams deliver a tenant's events, in leaf order, to its SIEM (docs/STREAMS.md). The
// methods below administer them (role system_admin); VerifyStream (streamverify.go) checks what
// a receiver got.

// Stream formats: how each delivered event is rendered.
const (
	StreamFormatJSON = "json" // the committed record plus leaf_index and leaf_hash
	StreamFormatOCSF = "ocsf"
	StreamFormatCEF  = "cef"
)

// StreamDestination is where a stream delivers: Type ("webhook", "syslog", "pubsub", "gcs" or
// "splunk_hec") and that type's fields. Secret (webhook, "whsec_" + base64) and Token
// (splunk_hec) are sent on create and update and never shown again: a Stream's destination
// says only SecretSet or TokenSet.
type StreamDestination struct {
	Type            string `json:"type"`
	URL             string `json:"url,omitempty"`    // webhook, splunk_hec
	Secret          string `json:"secret,omitempty"` // webhook
	Host            string `json:"host,omitempty"`   // syslog
	Port            int    `json:"port,omitempty"`   // syslog; 0: 6514
	TLS             *bool  `json:"tls,omitempty"`    // syslog; nil: true
	CACert          string `json:"ca_cert,omitempty"`
	Topic           string `json:"topic,omitempty"`  // pubsub: projects/<project>/topics/<topic>
	Bucket          string `json:"bucket,omitempty"` // gcs
	Prefix          string `json:"prefix,omitempty"`
	Token           string `json:"token,omitempty"` // splunk_hec
	Index           string `json:"index,omitempty"`
	Source          string `json:"source,omitempty"`
	Acknowledgement bool   `json:"acknowledgement,omitempty"`
	SecretSet       bool   `json:"secret_set,omitempty"` // shown only
	TokenSet        bool   `json:"token_set,omitempty"`  // shown only
}

// MarshalJSON leaves out SecretSet and TokenSet, which the service shows but refuses as input,
// so that a destination read from a Stream can be sent back in a StreamPatch.
func (d StreamDestination) MarshalJSON() ([]byte, error) {
	type plain StreamDestination // without this method
	p := plain(d)
	p.SecretSet, p.TokenSet = false, false
	return json.Marshal(p)
}

// StreamFilter selects the events a stream sends in full; the other leaves of its range go as
// their hash alone, so that the receiver can still check the range is complete. Empty lists
// select every value.
type StreamFilter struct {
	EventTypes       []string          `json:"event_types,omitempty"`
	ServiceNames     []string          `json:"service_names,omitempty"`
	Statuses         []string          `json:"statuses,omitempty"` // "success", "failure", "denied"
	Metadata         map[string]string `json:"metadata,omitempty"` // metadata.<key> equals value
	IncludeSelfAudit bool              `json:"include_self_audit,omitempty"`
}

// StreamStart is where a new stream's delivery begins: StartNow, StartBeginning or StartAtLeaf.
type StreamStart struct {
	named     string // "now" or "beginning"; empty: leafIndex
	leafIndex uint64
}

// StartNow starts a stream at the next leaf (the service's default).
func StartNow() *StreamStart { return &StreamStart{named: "now"} }

// StartBeginning starts a stream at leaf 0: the tenant's whole log.
func StartBeginning() *StreamStart { return &StreamStart{named: "beginning"} }

// StartAtLeaf starts a stream at the given leaf index.
func StartAtLeaf(index uint64) *StreamStart { return &StreamStart{leafIndex: index} }

// MarshalJSON writes "now", "beginning" or {"leaf_index": N}, as the service reads it.
func (s StreamStart) MarshalJSON() ([]byte, error) {
	if s.named != "" {
		return json.Marshal(s.named)
	}
	return json.Marshal(map[string]uint64{"leaf_index": s.leafIndex})
}

// StreamRequest creates a stream. Zero optional fields take the service's defaults (format
// json, no filter, start now, 500 events per batch, 1 s wait, failing after a day).
type StreamRequest struct {
	TenantID            string            `json:"tenant_id"`
	Name                string            `json:"name"`
	Destination         StreamDestination `json:"destination"`
	Format              string            `json:"format,omitempty"`
	Filter              *StreamFilter     `json:"filter,omitempty"`
	Start               *StreamStart      `json:"start,omitempty"`
	BatchSize           int               `json:"batch_size,omitempty"`
	BatchWaitSeconds    *float64          `json:"batch_wait_seconds,omitempty"` // 0 is a valid wait
	FailingAfterSeconds float64           `json:"failing_after_seconds,omitempty"`
}

// StreamPatch changes a stream: only the fields set are sent. A new destination of another type
// needs its own secret; the tenant and the position do not change (ReplayStream moves that).
type StreamPatch struct {
	Name                string             `json:"name,omitempty"`
	Destination         *StreamDestination `json:"destination,omitempty"`
	Format              string             `json:"format,omitempty"`
	Filter              *StreamFilter      `json:"filter,omitempty"`
	BatchSize           int                `json:"batch_size,omitempty"`
	BatchWaitSeconds    *float64           `json:"batch_wait_seconds,omitempty"`
	FailingAfterSeconds float64            `json:"failing_after_seconds,omitempty"`
}

// StreamStatus is a stream's delivery position and health.
type StreamStatus struct {
	State               string     `json:"state"`                // "active", "paused" or "failing"
	DeliveredLeafIndex  *int64     `json:"delivered_leaf_index"` // the last leaf delivered; nil before any
	NextLeafIndex       int64      `json:"next_leaf_index"`
	LagEvents           *int64     `json:"lag_events"`
	LagSeconds          *float64   `json:"lag_seconds"`
	LastDeliveryAt      *time.Time `json:"last_delivery_at"`
	LastError           string     `json:"last_error"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	PausedReason        string     `json:"paused_reason"`
}

// Stream is a stream as the service shows it (never its secret).
type Stream struct {
	StreamID            string            `json:"stream_id"`
	TenantID            string            `json:"tenant_id"`
	Name                string            `json:"name"`
	Destination         StreamDestination `json:"destination"`
	Format              string            `json:"format"`
	Filter              StreamFilter      `json:"filter"`
	BatchSize           int               `json:"batch_size"`
	BatchWaitSeconds    float64           `json:"batch_wait_seconds"`
	FailingAfterSeconds float64           `json:"failing_after_seconds"`
	CreatedAt           time.Time         `json:"created_at"`
	CreatedBy           string            `json:"created_by"`
	Status              StreamStatus      `json:"status"`
}

// StreamReplay is where a replay starts: FromLeafIndex, or FromTime (the first leaf created at
// or after it); exactly one.
type StreamReplay struct {
	FromLeafIndex *uint64    `json:"from_leaf_index,omitempty"`
	FromTime      *time.Time `json:"from_time,omitempty"`
}

// TestDelivery is what a destination answered to a synthetic event (leaf index -1).
type TestDelivery struct {
	OK         bool   `json:"ok"`
	StatusCode *int   `json:"status_code"`
	Detail     string `json:"detail"`
}

// StreamRun is what one delivery round sent: leaves per stream id.
type StreamRun struct {
	Delivered map[string]int `json:"delivered"`
}

// errReplayStart is returned before any request when a replay names no start or two.
var errReplayStart = errors.New("auditlog: replayStream: give exactly one of FromLeafIndex and FromTime")

func streamPath(streamID, action string) string {
	path := "/api/v1/admin/streams/" + url.PathEscape(streamID)
	if action != "" {
		path += "/" + action
	}
	return path
}

// stream sends one request whose answer is a Stream.
func (c *Client) stream(ctx context.Context, r request, in interface{}) (*Stream, error) {
	if in != nil {
		body, err := jsonBody(in)
		if err != nil {
			return nil, err
		}
		r.body = body
	}
	var out Stream
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateStream creates a log stream (role system_admin). It is not retried after an ambiguous
// failure (a second stream could result): list the streams before creating it again.
//
// OpenAPI: createStream
func (c *Client) CreateStream(ctx context.Context, req StreamRequest) (*Stream, error) {
	r := request{op: "createStream", method: http.MethodPost, path: "/api/v1/admin/streams", notIdempotent: true}
	return c.stream(ctx, r, req)
}

// ListStreams lists the streams with their status, of one tenant when opts names it.
//
// OpenAPI: listStreams
func (c *Client) ListStreams(ctx context.Context, opts *TenantOptions) ([]Stream, error) {
	var out struct {
		Streams []Stream `json:"streams"`
	}
	r := request{op: "listStreams", method: http.MethodGet, path: "/api/v1/admin/streams", query: opts.values()}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Streams, nil
}

// GetStream returns a stream and its status (position, lag, last error).
//
// OpenAPI: getStream
func (c *Client) GetStream(ctx context.Context, streamID string) (*Stream, error) {
	return c.stream(ctx, request{op: "getStream", method: http.MethodGet, path: streamPath(streamID, "")}, nil)
}

// UpdateStream changes the fields patch sets and returns the stream.
//
// OpenAPI: updateStream
func (c *Client) UpdateStream(ctx context.Context, streamID string, patch StreamPatch) (*Stream, error) {
	return c.stream(ctx, request{op: "updateStream", method: http.MethodPatch, path: streamPath(streamID, "")}, patch)
}

// DeleteStream deletes a stream and returns it as it was.
//
// OpenAPI: deleteStream
func (c *Client) DeleteStream(ctx context.Context, streamID string) (*Stream, error) {
	return c.stream(ctx, request{op: "deleteStream", method: http.MethodDelete, path: streamPath(streamID, "")}, nil)
}

// PauseStream stops a stream's delivery; its position is kept.
//
// OpenAPI: pauseStream
func (c *Client) PauseStream(ctx context.Context, streamID string) (*Stream, error) {
	return c.stream(ctx, request{op: "pauseStream", method: http.MethodPost, path: streamPath(streamID, "pause")}, nil)
}

// ResumeStream delivers again now, after a pause or failures.
//
// OpenAPI: resumeStream
func (c *Client) ResumeStream(ctx context.Context, streamID string) (*Stream, error) {
	return c.stream(ctx, request{op: "resumeStream", method: http.MethodPost, path: streamPath(streamID, "resume")}, nil)
}

// ReplayStream delivers again from a leaf index or a time (exactly one of from's fields).
// Deleted payloads and erased fields are not sent in clear.
//
// OpenAPI: replayStream
func (c *Client) ReplayStream(ctx context.Context, streamID string, from StreamReplay) (*Stream, error) {
	if (from.FromLeafIndex == nil) == (from.FromTime == nil) {
		return nil, errReplayStart
	}
	return c.stream(ctx, request{op: "replayStream", method: http.MethodPost, path: streamPath(streamID, "replay")}, from)
}

// TestStream sends one synthetic event (leaf index -1) and reports the destination's answer. It
// is not retried after an ambiguous failure (the destination would get a second test event).
//
// OpenAPI: testStream
func (c *Client) TestStream(ctx context.Context, streamID string) (*TestDelivery, error) {
	var out TestDelivery
	r := request{op: "testStream", method: http.MethodPost, path: streamPath(streamID, "test"), notIdempotent: true}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RunStreams runs one delivery round of every stream's backlog (the scheduler's job on GCP; a
// background loop locally).
//
// OpenAPI: runStreams
func (c *Client) RunStreams(ctx context.Context) (*StreamRun, error) {
	var out StreamRun
	if err := c.call(ctx, request{op: "runStreams", method: http.MethodPost, path: "/api/v1/audit/streams/run"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
