package auditlog

// Tests against a running server. tests/e2e/test_go_sdk.py starts one and sets:
//
//	AUDITLOG_TEST_URL          the server
//	AUDITLOG_TEST_TENANT       a tenant of this run alone
//	AUDITLOG_TEST_TOKEN        roles audit_writer, audit_reader, audit_export in that tenant
//	AUDITLOG_TEST_ADMIN_TOKEN  role system_admin of the platform tenant (auditlog-platform)
//
// Without AUDITLOG_TEST_URL they skip.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type liveEnv struct {
	url, tenant, token, admin string
}

func live(t *testing.T) liveEnv {
	t.Helper()
	env := liveEnv{os.Getenv("AUDITLOG_TEST_URL"), os.Getenv("AUDITLOG_TEST_TENANT"),
		os.Getenv("AUDITLOG_TEST_TOKEN"), os.Getenv("AUDITLOG_TEST_ADMIN_TOKEN")}
	if env.url == "" {
		t.Skip("AUDITLOG_TEST_URL is not set: no server to test against (tests/e2e/test_go_sdk.py sets it)")
	}
	if env.tenant == "" || env.token == "" || env.admin == "" {
		t.Fatal("AUDITLOG_TEST_TENANT, AUDITLOG_TEST_TOKEN and AUDITLOG_TEST_ADMIN_TOKEN must be set with AUDITLOG_TEST_URL")
	}
	return env
}

func (e liveEnv) client() *Client { return NewClient(e.url, WithToken(e.token)) }

func liveCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// collect walks a search to the end, polling until want events are there (writes become
// searchable a moment after they are acknowledged).
func collect(ctx context.Context, t *testing.T, c *Client, p SearchParams, want int) []EventRecord {
	t.Helper()
	for {
		var out []EventRecord
		it := c.Events(p)
		for it.Next(ctx) {
			out = append(out, it.Event())
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if len(out) >= want {
			return out
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			t.Fatalf("%d of %d events searchable: %v", len(out), want, err)
		}
	}
}

func TestLiveIngestGetAndDuplicates(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	c := env.client()
	when := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	e := Event{Timestamp: when, EventType: "invoice.update", UserID: "alice", ResourceType: "invoice",
		ResourceID: "inv-42", Action: "update", IPAddress: "192.0.2.1",
		Metadata: map[string]interface{}{"region": "eu", "n": 3}, CorrelationID: NewAuditID()}
	res, err := c.IngestEvent(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "accepted" || len(res.AuditID) != 36 {
		t.Fatalf("%+v", res)
	}
	e.AuditID = res.AuditID
	again, err := c.IngestEvent(ctx, e)
	if err != nil || again.Status != "duplicate" || again.AuditID != res.AuditID {
		t.Fatalf("the same audit_id again: %+v %v", again, err)
	}
	var got *EventRecord
	for {
		got, err = c.GetEvent(ctx, res.AuditID, nil)
		if err == nil {
			break
		}
		if !IsNotFound(err) {
			t.Fatal(err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			t.Fatal("never became readable")
		}
	}
	for what, ok := range map[string]bool{
		"timestamp":      got.Timestamp.Equal(when),
		"tenant":         got.TenantID == env.tenant,
		"user":           got.UserID == "alice",
		"default status": got.Status == "success",
		"metadata":       got.Metadata["region"] == "eu" && got.Metadata["n"] == json.Number("3"),
		"created_at":     !got.CreatedAt.IsZero(),
		"partition_date": got.PartitionDate == when.UTC().Format("2006-01-02"),
		"retention":      got.RetentionPeriodDays == 90,
	} {
		if !ok {
			t.Errorf("%s read back wrong: %+v", what, got)
		}
	}
	page := collect(ctx, t, c, SearchParams{Filter: Filter{CorrelationID: []string{e.CorrelationID}}}, 1)
	if len(page) != 1 {
		t.Fatalf("the duplicate was stored: %d events", len(page))
	}
}

func TestLiveBatchReportsEachEvent(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	bad := sampleEvent()
	bad.Action = ""
	res, err := env.client().IngestBatch(ctx, []Event{sampleEvent(), bad, sampleEvent()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Rejected != 1 || res.Results[1].Status != "rejected" ||
		res.Results[1].Errors[0].Field != "events[1].action" {
		t.Fatalf("%+v", res)
	}
}

func TestLiveLoggerUnderLoad(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 90*time.Second)
	c := env.client()
	run := NewAuditID()
	const total = 20000
	var refusedMu sync.Mutex
	var refused []Refusal
	logger := c.NewLogger(LoggerOptions{OnRefused: func(r Refusal) {
		refusedMu.Lock()
		refused = append(refused, r)
		refusedMu.Unlock()
	}})
	started := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < total; i += 4 {
				err := logger.Log(Event{EventType: "load.write", UserID: "loader", ResourceType: "item",
					ResourceID: "item-" + itoa(i), Action: "create", CorrelationID: run})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	logTime := time.Since(started)
	if err := logger.Close(ctx); err != nil {
		t.Fatalf("Close: %v (refused %d, e.g. %+v)", err, len(refused), first(refused))
	}
	st := logger.Stats()
	if st.Logged != total || st.Accepted != total || st.Refused+st.Failed+st.Dropped+st.Duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d events: Log took %v, delivered after %v", total, logTime, time.Since(started))

	events := collect(ctx, t, c, SearchParams{Filter: Filter{CorrelationID: []string{run}}, PageSize: 1000}, total)
	seenIDs := map[string]bool{}
	seenResources := map[string]bool{}
	for _, e := range events {
		if seenIDs[e.AuditID] || seenResources[e.ResourceID] {
			t.Fatalf("%s / %s found twice", e.AuditID, e.ResourceID)
		}
		seenIDs[e.AuditID], seenResources[e.ResourceID] = true, true
	}
	if len(events) != total {
		t.Fatalf("found %d of %d", len(events), total)
	}
}

func first(rs []Refusal) interface{} {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

func itoa(i int) string { return strconv.Itoa(i) }

func seed(ctx context.Context, t *testing.T, c *Client, n int) (string, []string) {
	t.Helper()
	run := NewAuditID()
	base := time.Now().Add(-time.Hour)
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{Timestamp: base.Add(time.Duration(i) * time.Second), EventType: "page.test", UserID: "pager",
			ResourceType: "doc", ResourceID: "doc-" + itoa(i), Action: "read", CorrelationID: run,
			RequestData: map[string]interface{}{"note": "line one\nline \"two\", with comma"}}
	}
	res, err := c.IngestBatch(ctx, events)
	if err != nil || res.Accepted != n {
		t.Fatalf("%+v %v", res, err)
	}
	ids := make([]string, n)
	for i, r := range res.Results {
		ids[i] = r.AuditID
	}
	return run, ids
}

func TestLivePaging(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	c := env.client()
	run, ids := seed(ctx, t, c, 25)
	events := collect(ctx, t, c, SearchParams{Filter: Filter{CorrelationID: []string{run}}, PageSize: 10}, 25)
	if len(events) != 25 {
		t.Fatalf("%d events", len(events))
	}
	for i, e := range events { // newest first: the last written comes first
		if e.AuditID != ids[24-i] {
			t.Fatalf("position %d holds %s, want %s", i, e.AuditID, ids[24-i])
		}
	}
	var sizes []int
	p := SearchParams{Filter: Filter{CorrelationID: []string{run}}, PageSize: 10}
	for {
		page, err := c.SearchEvents(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Events))
		if page.NextPageToken == "" {
			break
		}
		p.PageToken = page.NextPageToken
	}
	if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 10 || sizes[2] != 5 {
		t.Fatalf("page sizes %v", sizes)
	}
}

func TestLiveExport(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	c := env.client()
	run, ids := seed(ctx, t, c, 25)
	collect(ctx, t, c, SearchParams{Filter: Filter{CorrelationID: []string{run}}}, 25)
	var out bytes.Buffer
	var calls int
	total, err := c.ExportEvents(ctx, &out, ExportParams{Filter: Filter{CorrelationID: []string{run}},
		Progress: func(ExportProgress) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if total.Records != 25 || len(lines) != 25 || total.Bytes != int64(out.Len()) || calls == 0 {
		t.Fatalf("progress %+v, %d lines, %d calls", total, len(lines), calls)
	}
	var firstEvent EventRecord
	if err := json.Unmarshal([]byte(lines[0]), &firstEvent); err != nil || firstEvent.AuditID != ids[24] {
		t.Fatalf("first line %s: %v", lines[0], err)
	}
	out.Reset()
	total, err = c.ExportEvents(ctx, &out, ExportParams{Filter: Filter{CorrelationID: []string{run}}, Format: ExportCSV})
	if err != nil || total.Records != 25 || !strings.HasPrefix(out.String(), "audit_id,timestamp,") {
		t.Fatalf("csv: %+v %v\n%s", total, err, out.String()[:200])
	}
}

func TestLiveErrors(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	c := env.client()

	noUser := sampleEvent()
	noUser.UserID = ""
	_, err := c.IngestEvent(ctx, noUser)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !apiErr.HasField("user_id") || apiErr.RequestID == "" {
		t.Fatalf("missing user_id: %v", err)
	}
	if _, err := c.SearchEvents(ctx, SearchParams{PageSize: 5000}); !IsInvalid(err) || !err.(*APIError).HasField("page_size") {
		t.Fatalf("page_size 5000: %v", err)
	}

	const bogus = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vIn0.eyJzdWIiOiJ4In0.bm90LWEtc2lnbmF0dXJl"
	_, err = NewClient(env.url, WithToken(bogus)).SearchEvents(ctx, SearchParams{})
	if !IsUnauthenticated(err) || strings.Contains(err.Error(), bogus) {
		t.Fatalf("bogus token: %v", err)
	}
	if _, err := NewClient(env.url).IngestEvent(ctx, sampleEvent()); !IsUnauthenticated(err) {
		t.Fatalf("no token: %v", err)
	}

	if _, err := c.GetEvent(ctx, NewAuditID(), nil); !IsNotFound(err) {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := c.GetTenantPolicy(ctx, env.tenant); !IsPermissionDenied(err) {
		t.Fatalf("policy without system_admin: %v", err)
	}
}

func TestLiveAdminAndHealth(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	admin := NewClient(env.url, WithToken(env.admin))
	policy, err := admin.GetTenantPolicy(ctx, env.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if policy.DefaultRetentionDays != 90 || policy.RateLimit == nil || policy.RateLimit.CallerEventBurst <= 0 {
		t.Fatalf("default policy %+v", policy)
	}
	policy.DefaultRetentionDays = 120
	stored, err := admin.PutTenantPolicy(ctx, env.tenant, *policy)
	if err != nil || stored.DefaultRetentionDays != 120 || stored.RateLimit.CallerEventBurst != policy.RateLimit.CallerEventBurst {
		t.Fatalf("put: %+v %v", stored, err)
	}
	if _, err := admin.PutTenantPolicy(ctx, env.tenant, TenantPolicy{DefaultRetentionDays: 10}); !IsInvalid(err) ||
		!err.(*APIError).HasField("default_retention_days") {
		t.Fatalf("a retention of 10 days: %v", err)
	}
	report, err := admin.RunRetention(ctx, true)
	if err != nil || !report.DryRun || report.AsOf == "" || report.PerTenant == nil {
		t.Fatalf("retention: %+v %v", report, err)
	}
	if err := admin.Healthz(ctx); err != nil {
		t.Fatal(err)
	}
	ready, err := admin.Readyz(ctx)
	if err != nil || !ready.Ready || !ready.Checks["store"].OK {
		t.Fatalf("readyz %+v %v", ready, err)
	}
	doc, err := admin.OpenAPIDocument(ctx)
	if err != nil || !bytes.Contains(doc, []byte(`"operationId"`)) {
		t.Fatalf("openapi: %v", err)
	}
	metrics, err := admin.Metrics(ctx)
	if err != nil || !strings.Contains(metrics, "auditlog_http_requests_total") {
		t.Fatalf("metrics: %v", err)
	}
}

// serverHas reports whether the running server's document lists an operation.
func serverHas(ctx context.Context, t *testing.T, c *Client, operationID string) bool {
	doc, err := c.OpenAPIDocument(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(doc, []byte(`"operationId":"`+operationID+`"`)) ||
		bytes.Contains(doc, []byte(`"operationId": "`+operationID+`"`))
}

func TestLiveIntegrity(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	c := env.client()
	for _, op := range []string{"getEventProof", "getLatestCheckpoint", "getCheckpoint", "getPublicKey", "getConsistencyProof"} {
		if !serverHas(ctx, t, c, op) {
			t.Skip("integrity endpoints not in this server yet")
		}
	}
	firstWrite, err := c.IngestEvent(ctx, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	older, err := c.VerifyEvent(ctx, firstWrite.AuditID, &VerifyOptions{Receipt: firstWrite.LeafHash, WaitForEvent: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if firstWrite.LeafHash == "" || !older.HasRecord() || older.Checkpoint.TenantID != env.tenant {
		t.Fatalf("receipt %q, proof %+v", firstWrite.LeafHash, older)
	}
	batch, err := c.IngestBatch(ctx, []Event{sampleEvent(), sampleEvent(), sampleEvent()})
	if err != nil {
		t.Fatal(err)
	}
	last := batch.Results[2]
	newer, err := c.VerifyEvent(ctx, last.AuditID, &VerifyOptions{Receipt: last.LeafHash, WaitForEvent: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if newer.TreeSize < older.TreeSize+3 {
		t.Fatalf("sizes %d then %d", older.TreeSize, newer.TreeSize)
	}
	if err := c.VerifyCheckpoints(ctx, older.Checkpoint, newer.Checkpoint, nil); err != nil {
		t.Fatal(err)
	}
	latest, err := c.GetLatestCheckpoint(ctx, nil)
	if err != nil || latest.TreeSize < newer.TreeSize {
		t.Fatalf("latest %+v %v", latest, err)
	}
	if err := c.VerifyCheckpoints(ctx, older.Checkpoint, *latest, nil); err != nil {
		t.Fatal(err)
	}
	atSize, err := c.GetCheckpoint(ctx, older.TreeSize, nil)
	if err != nil || atSize.RootHash != older.Checkpoint.RootHash {
		t.Fatalf("checkpoint at %d: %+v %v", older.TreeSize, atSize, err)
	}
	// The first event, proven again against the newer checkpoint.
	again, err := c.VerifyEvent(ctx, firstWrite.AuditID, &VerifyOptions{TreeSize: newer.TreeSize})
	if err != nil || again.LeafIndex != older.LeafIndex || again.TreeSize != newer.TreeSize {
		t.Fatalf("%+v %v", again, err)
	}
	// The same log in the C2SP formats: the signed note with the published vkey, and a tile.
	keys, err := c.GetVerifierKeys(ctx, env.tenant)
	if err != nil || len(keys.Log) == 0 {
		t.Fatalf("%+v %v", keys, err)
	}
	logKey, err := ParseVerifierKey(keys.Log[0])
	if err != nil {
		t.Fatal(err)
	}
	note, err := c.GetLogCheckpoint(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := OpenCheckpoint(note, []NoteKey{logKey}, nil)
	if err != nil || opened.Origin != keys.Origin || opened.TreeSize < newer.TreeSize {
		t.Fatalf("%+v %v", opened, err)
	}
	if err := VerifyNote(newer.Checkpoint, map[string]ed25519.PublicKey{"k": logKey.PublicKey}, nil); err != nil {
		t.Fatal(err)
	}
	width := opened.TreeSize % 256
	if width > 0 && opened.TreeSize < 256 {
		tile, err := c.GetTile(ctx, fmt.Sprintf("0/000.p/%d", width), nil)
		if err != nil || len(tile) != int(width)*32 {
			t.Fatalf("tile: %d bytes, %v", len(tile), err)
		}
	}
}

func TestLiveLegalHoldsAndErasure(t *testing.T) {
	env := live(t)
	ctx := liveCtx(t, 30*time.Second)
	admin := NewClient(env.url, WithToken(env.admin))
	for _, op := range []string{"placeLegalHold", "listLegalHolds", "releaseLegalHold", "eraseSubject", "listErasures"} {
		if !serverHas(ctx, t, admin, op) {
			t.Skip("integrity endpoints not in this server yet")
		}
	}
	hold, err := admin.PlaceLegalHold(ctx, LegalHoldRequest{TenantID: env.tenant, Reason: "go sdk test", UserID: "alice"})
	if err != nil || hold.HoldID == "" || hold.TenantID != env.tenant || hold.CreatedBy == "" || hold.ReleasedAt != nil {
		t.Fatalf("%+v %v", hold, err)
	}
	holds, err := admin.ListLegalHolds(ctx, &TenantOptions{TenantID: env.tenant})
	if err != nil || len(holds) != 1 || holds[0].HoldID != hold.HoldID || holds[0].UserID != "alice" {
		t.Fatalf("%+v %v", holds, err)
	}
	released, err := admin.ReleaseLegalHold(ctx, hold.HoldID)
	if err != nil || released.ReleasedAt == nil {
		t.Fatalf("%+v %v", released, err)
	}
	if _, err := admin.ReleaseLegalHold(ctx, NewAuditID()); !IsNotFound(err) {
		t.Fatalf("releasing an unknown hold: %v", err)
	}
	erasure, err := admin.EraseSubject(ctx, ErasureRequest{TenantID: env.tenant, UserID: "erase-me"})
	if err != nil || erasure.ErasureID == "" || erasure.TenantID != env.tenant || erasure.SubjectID == "" {
		t.Fatalf("%+v %v", erasure, err)
	}
	erasures, err := admin.ListErasures(ctx, &TenantOptions{TenantID: env.tenant})
	if err != nil || len(erasures) != 1 || erasures[0].ErasureID != erasure.ErasureID {
		t.Fatalf("%+v %v", erasures, err)
	}
	if _, err := env.client().PlaceLegalHold(ctx, LegalHoldRequest{TenantID: env.tenant, Reason: "x"}); !IsPermissionDenied(err) {
		t.Fatalf("a hold without system_admin: %v", err)
	}
}
