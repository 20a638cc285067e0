package auditlog

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Event is an audit event as a client writes it: who (UserID) did what (Action, EventType) to
// which resource (ResourceType, ResourceID), when (Timestamp). Empty optional fields are not
// sent. See the README's "Events" for every field's limits.
type Event struct {
	// AuditID is the idempotency key within the tenant. Left empty, the client sets a random UUID
	// before the first attempt, so a retried write is stored once.
	AuditID string `json:"audit_id,omitempty"`
	// Timestamp is when it happened; a zero Timestamp is set to the time of the call.
	Timestamp    time.Time `json:"timestamp"`
	EventType    string    `json:"event_type"`
	UserID       string    `json:"user_id"`
	SessionID    string    `json:"session_id,omitempty"`
	IPAddress    string    `json:"ip_address,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id,omitempty"`
	Action       string    `json:"action"`
	// Status is the outcome ("success", "failure", "denied"...); the service's default is
	// "success".
	Status        string                 `json:"status,omitempty"`
	RequestData   map[string]interface{} `json:"request_data,omitempty"`
	ResponseData  map[string]interface{} `json:"response_data,omitempty"`
	Metadata      map[string]interface{} `json:"metadata,omitempty"`
	TenantID      string                 `json:"tenant_id,omitempty"` // the token's tenant; if set it must match
	ServiceName   string                 `json:"service_name,omitempty"`
	CorrelationID string                 `json:"correlation_id,omitempty"`
	// RetentionPeriodDays is 90 to 2555; zero leaves the tenant's default.
	RetentionPeriodDays int `json:"retention_period_days,omitempty"`
}

// prepared returns e with the fields the client fills in: an audit_id and a timestamp.
func (e Event) prepared(now time.Time) Event {
	if e.AuditID == "" {
		e.AuditID = NewAuditID()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now
	}
	return e
}

// EventRecord is an event as readers get it back. Absent optional values are empty strings
// and nil maps. Numbers inside RequestData, ResponseData and Metadata are json.Number, so that
// large integers (ids) read back exactly as stored.
type EventRecord struct {
	AuditID             string                 `json:"audit_id"`
	Timestamp           time.Time              `json:"timestamp"`
	EventType           string                 `json:"event_type"`
	UserID              string                 `json:"user_id"`
	SessionID           string                 `json:"session_id"`
	IPAddress           string                 `json:"ip_address"`
	UserAgent           string                 `json:"user_agent"`
	ResourceType        string                 `json:"resource_type"`
	ResourceID          string                 `json:"resource_id"`
	Action              string                 `json:"action"`
	Status              string                 `json:"status"`
	RequestData         map[string]interface{} `json:"request_data"`
	ResponseData        map[string]interface{} `json:"response_data"`
	Metadata            map[string]interface{} `json:"metadata"`
	TenantID            string                 `json:"tenant_id"`
	ServiceName         string                 `json:"service_name"`
	CorrelationID       string                 `json:"correlation_id"`
	RetentionPeriodDays int                    `json:"retention_period_days"`
	CreatedAt           time.Time              `json:"created_at"` // when the service accepted it
	PartitionDate       string                 `json:"partition_date"`
}

// IngestResult answers one event written: 202 means durable.
type IngestResult struct {
	AuditID string `json:"audit_id"`
	// Status is "accepted", or "duplicate" when the tenant already had this audit_id (stored once).
	Status string `json:"status"`
	// LeafHash is the receipt: the event's leaf in the tenant's integrity log, from servers that
	// keep one (docs/INTEGRITY.md); empty otherwise and for duplicates.
	LeafHash string `json:"leaf_hash,omitempty"`
}

// BatchItemResult is the outcome of one event of a batch, by its position.
type BatchItemResult struct {
	Index    int           `json:"index"`
	Status   string        `json:"status"` // "accepted", "duplicate" or "rejected"
	AuditID  string        `json:"audit_id,omitempty"`
	Errors   []ErrorDetail `json:"errors,omitempty"` // why it was rejected
	LeafHash string        `json:"leaf_hash,omitempty"`
}

// BatchResult answers a batch: one result per event, and the counts.
type BatchResult struct {
	Results    []BatchItemResult `json:"results"`
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   int               `json:"rejected"`
}

// IngestEvent writes one event; the answer means it is durable.
//
// OpenAPI: ingestEvent
func (c *Client) IngestEvent(ctx context.Context, event Event) (*IngestResult, error) {
	body, err := jsonBody(event.prepared(time.Now()))
	if err != nil {
		return nil, err
	}
	var out IngestResult
	err = c.call(ctx, request{op: "ingestEvent", method: http.MethodPost, path: "/api/v1/audit/events", body: body}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// IngestBatch writes up to 1000 events in one request. Events may be refused one by one: look at
// each result's Status (the service answers 400 only when none is valid). Events without an
// AuditID get one before sending; the caller's slice is not modified.
//
// OpenAPI: ingestBatch
func (c *Client) IngestBatch(ctx context.Context, events []Event) (*BatchResult, error) {
	now := time.Now()
	prepared := make([]Event, len(events))
	for i, e := range events {
		prepared[i] = e.prepared(now)
	}
	return c.ingestPrepared(ctx, prepared)
}

func (c *Client) ingestPrepared(ctx context.Context, events []Event) (*BatchResult, error) {
	body, err := jsonBody(struct {
		Events []Event `json:"events"`
	}{events})
	if err != nil {
		return nil, err
	}
	var out BatchResult
	err = c.call(ctx, request{op: "ingestBatch", method: http.MethodPost, path: "/api/v1/audit/events/batch", body: body}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Filter selects events, for searches and exports. Each list matches any of its values; empty
// fields do not filter.
type Filter struct {
	StartTime time.Time // inclusive; zero: EndTime minus 30 days
	EndTime   time.Time // exclusive; zero: now
	// TenantID reads other tenants (roles audit_admin and system_admin only).
	TenantID      []string
	UserID        []string
	EventType     []string
	ResourceType  []string
	ResourceID    []string
	Action        []string
	Status        []string
	ServiceName   []string
	CorrelationID []string
	SessionID     []string
	// Metadata matches events whose metadata has that value at that (dotted) key, as text.
	Metadata map[string]string
	// IncludeSelfAudit adds the service's own records of reads and refusals (audit_admin and
	// system_admin only).
	IncludeSelfAudit bool
}

func (f Filter) values() url.Values {
	q := url.Values{}
	if !f.StartTime.IsZero() {
		q.Set("start_time", f.StartTime.Format(time.RFC3339Nano))
	}
	if !f.EndTime.IsZero() {
		q.Set("end_time", f.EndTime.Format(time.RFC3339Nano))
	}
	for name, values := range map[string][]string{
		"tenant_id": f.TenantID, "user_id": f.UserID, "event_type": f.EventType,
		"resource_type": f.ResourceType, "resource_id": f.ResourceID, "action": f.Action,
		"status": f.Status, "service_name": f.ServiceName, "correlation_id": f.CorrelationID,
		"session_id": f.SessionID,
	} {
		for _, v := range values {
			q.Add(name, v)
		}
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Add("metadata."+k, f.Metadata[k])
	}
	if f.IncludeSelfAudit {
		q.Set("include_self_audit", "true")
	}
	return q
}

// SearchParams is a filter and a page.
type SearchParams struct {
	Filter
	// PageSize is 1 to 1000; zero leaves the service's default (100).
	PageSize int
	// PageToken is the previous page's NextPageToken; the filter must stay the same.
	PageToken string
}

// EventPage is one page of a search, newest first.
type EventPage struct {
	Events []EventRecord `json:"events"`
	// NextPageToken fetches the next page; empty on the last one.
	NextPageToken string `json:"next_page_token"`
}

// SearchEvents returns one page of events, newest first. Events walks every page.
//
// OpenAPI: searchEvents
func (c *Client) SearchEvents(ctx context.Context, params SearchParams) (*EventPage, error) {
	q := params.Filter.values()
	if params.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(params.PageSize))
	}
	if params.PageToken != "" {
		q.Set("page_token", params.PageToken)
	}
	var out EventPage
	if err := c.call(ctx, request{op: "searchEvents", method: http.MethodGet, path: "/api/v1/audit/events", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetOptions reads in another tenant (roles audit_admin and system_admin only).
type GetOptions struct {
	TenantID string
}

// GetEvent returns one event of the caller's tenant (opts may be nil). An event of another
// tenant is not found, as is one accepted a moment ago and not yet in the store.
//
// OpenAPI: getEvent
func (c *Client) GetEvent(ctx context.Context, auditID string, opts *GetOptions) (*EventRecord, error) {
	q := url.Values{}
	if opts != nil && opts.TenantID != "" {
		q.Set("tenant_id", opts.TenantID)
	}
	var out EventRecord
	path := "/api/v1/audit/events/" + url.PathEscape(auditID)
	if err := c.call(ctx, request{op: "getEvent", method: http.MethodGet, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EventIterator walks the pages of a search:
//
//	it := client.Events(auditlog.SearchParams{Filter: auditlog.Filter{UserID: []string{"alice"}}})
//	for it.Next(ctx) {
//		fmt.Println(it.Event().AuditID)
//	}
//	if err := it.Err(); err != nil { ... }
type EventIterator struct {
	c      *Client
	params SearchParams
	page   []EventRecord
	i      int
	cur    EventRecord
	err    error
	done   bool
}

// Events returns an iterator over every event the search matches, following the cursors. No
// request is made until the first Next.
//
// OpenAPI: searchEvents
func (c *Client) Events(params SearchParams) *EventIterator {
	return &EventIterator{c: c, params: params}
}

// Next advances to the next event, fetching a page when needed; false at the end or on an error
// (see Err).
func (it *EventIterator) Next(ctx context.Context) bool {
	for {
		if it.i < len(it.page) {
			it.cur = it.page[it.i]
			it.i++
			return true
		}
		if it.err != nil || it.done {
			return false
		}
		page, err := it.c.SearchEvents(ctx, it.params)
		if err != nil {
			it.err = err
			return false
		}
		it.page, it.i = page.Events, 0
		it.params.PageToken = page.NextPageToken
		it.done = page.NextPageToken == ""
	}
}

// Event is the current event.
func (it *EventIterator) Event() EventRecord { return it.cur }

// Err is the error that stopped Next, if any.
func (it *EventIterator) Err() error { return it.err }

// PageToken is the cursor of the next page not yet fetched ("" when none): keep it to resume a
// walk later with the same filter.
func (it *EventIterator) PageToken() string { return it.params.PageToken }
