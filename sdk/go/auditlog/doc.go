// Package auditlog is the Go client of the audit log service.
//
// A Client is made once and shared; it is safe for concurrent use:
//
//	client := auditlog.NewClient("http://127.0.0.1:8080", auditlog.WithToken(token))
//	res, err := client.IngestEvent(ctx, auditlog.Event{EventType: "invoice.update", UserID: "alice",
//		ResourceType: "invoice", ResourceID: "inv-42", Action: "update"})
//
// Every method takes a context.Context first and names, in a comment line "OpenAPI: <operationId>",
// the operation of openapi/openapi.json it calls; a test in the repository checks that every
// operation is covered.
//
// Writes are idempotent: the client gives every event without an AuditID a random UUID before the
// first attempt, so a retry after a lost answer is stored once (the server answers "duplicate").
// Requests are retried with jittered exponential backoff on connection errors, 429 and 5xx,
// honouring Retry-After (see RetryPolicy).
//
// Errors from the service are *APIError values (use errors.As, or IsNotFound and friends); they
// carry the status, the service's error code, the fields at fault and the request id. The bearer
// token never appears in an error, nor when a Client is printed.
//
// For the hot path, Client.NewLogger returns a Logger whose Log returns at once and which sends
// events in batches in the background. Proofs that an event is in the tenant's signed Merkle log
// (docs/INTEGRITY.md) are checked with VerifyEvent, or piece by piece with LeafHash,
// VerifyInclusion, VerifyConsistency and VerifyCheckpoint. What a log stream delivered is
// checked offline with ReadStreamBatches and VerifyStream.
package auditlog
