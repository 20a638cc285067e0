// Quickstart: write one event, then read alice's latest events back. With `make run` going, from
// the repository root:
//
//	export TOKEN=$(.venv/bin/auditlog token --tenant acme --roles audit_writer,audit_reader --sub alice)
//	(cd sdk/go && go run ./examples/quickstart)
//
// The body of main is the README's Go example (tests/e2e/test_go_sdk.py checks they match).
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/auditlog/auditlog/sdk/go/auditlog"
)

func main() {
	ctx := context.Background()
	client := auditlog.NewClient(baseURL(), auditlog.WithToken(os.Getenv("TOKEN")))
	res, err := client.IngestEvent(ctx, auditlog.Event{EventType: "invoice.update", UserID: "alice",
		ResourceType: "invoice", ResourceID: "inv-42", Action: "update"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", res.AuditID, res.Status)
	page, err := client.SearchEvents(ctx, auditlog.SearchParams{Filter: auditlog.Filter{UserID: []string{"alice"}}})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page.Events {
		fmt.Println(e.Timestamp, e.EventType, e.ResourceID, e.AuditID)
	}
}

// baseURL is the server of `make run`, or AUDITLOG_URL when set.
func baseURL() string {
	if url := os.Getenv("AUDITLOG_URL"); url != "" {
		return url
	}
	return "http://127.0.0.1:8080"
}
