// Quickstart: write one event, then list alice's latest events. Run it against `make run`:
//
//	TOKEN=$(../../.venv/bin/auditlog token --tenant acme --roles audit_writer,audit_reader --sub alice) \
//	  go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/auditlog/auditlog/sdk/go/auditlog"
)

func main() {
	url := os.Getenv("AUDITLOG_URL") // empty: the server of `make run`
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	ctx := context.Background()
	client := auditlog.NewClient(url, auditlog.WithToken(os.Getenv("TOKEN")))

	res, err := client.IngestEvent(ctx, auditlog.Event{EventType: "invoice.update", UserID: "alice",
		ResourceType: "invoice", ResourceID: "inv-42", Action: "update", Metadata: map[string]interface{}{"region": "eu"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", res.AuditID, res.Status)

	page, err := client.SearchEvents(ctx, auditlog.SearchParams{Filter: auditlog.Filter{UserID: []string{"alice"}}, PageSize: 5})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page.Events {
		fmt.Println(e.Timestamp.Format("2006-01-02 15:04:05"), e.EventType, e.ResourceID, e.AuditID)
	}
}
