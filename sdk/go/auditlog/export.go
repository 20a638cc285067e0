package auditlog

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// ExportFormat is the format of an export.
type ExportFormat string

const (
	// ExportNDJSON is one JSON event per line (the default).
	ExportNDJSON ExportFormat = "json"
	// ExportCSV is a header line and one row per event, the columns of the seed schema.
	ExportCSV ExportFormat = "csv"
)

// ExportProgress is how far an export has come.
type ExportProgress struct {
	Bytes   int64 // written to the destination so far
	Records int64 // complete events written so far
}

// ExportParams is a filter, a format and an optional progress callback.
type ExportParams struct {
	Filter
	Format ExportFormat
	// Manifest exports the committed records (as the integrity log committed to them) as NDJSON,
	// followed by a manifest line with the checkpoint, the signing key and each line's leaf
	// index and hash; one tenant. Proofs adds each line's inclusion proof (and implies
	// Manifest). Servers without an integrity log refuse both.
	Manifest bool
	Proofs   bool
	// Progress, if set, is called from the exporting goroutine after each chunk written and
	// once at the end.
	Progress func(ExportProgress)
}

// ExportEvents streams every event the filter matches, newest first, into w (a file, a pipe, an
// HTTP response...) without holding the export in memory, and returns the totals. The request
// is retried like any other until the answer starts; a failure after bytes have reached w is
// returned as is, since w cannot be rewound.
//
// OpenAPI: exportEvents
func (c *Client) ExportEvents(ctx context.Context, w io.Writer, params ExportParams) (ExportProgress, error) {
	format := params.Format
	if format == "" {
		format = ExportNDJSON
	}
	if format != ExportNDJSON && format != ExportCSV {
		return ExportProgress{}, fmt.Errorf("auditlog: exportEvents: format must be %q or %q, not %q", ExportNDJSON, ExportCSV, format)
	}
	q := params.Filter.values()
	q.Set("format", string(format))
	if params.Manifest {
		q.Set("manifest", "true")
	}
	if params.Proofs {
		q.Set("proofs", "true")
	}
	r := request{op: "exportEvents", method: http.MethodGet, path: "/api/v1/audit/events/export", query: q, stream: true}
	resp, err := c.send(ctx, r)
	if err != nil {
		return ExportProgress{}, err
	}
	defer resp.Body.Close()
	counter := recordCounter{csv: format == ExportCSV}
	var progress ExportProgress
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return progress, fmt.Errorf("auditlog: exportEvents: writing the export: %w", werr)
			}
			progress.Bytes += int64(n)
			progress.Records += counter.count(buf[:n])
			if params.Progress != nil {
				params.Progress(progress)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return progress, &TransportError{Op: r.op, Method: r.method, Path: r.path,
				Err: fmt.Errorf("the export broke off after %d bytes: %w", progress.Bytes, scrubURLError(rerr))}
		}
	}
	progress.Records += counter.finish()
	if params.Progress != nil {
		params.Progress(progress)
	}
	return progress, nil
}

// recordCounter counts complete records in a stream: NDJSON lines, or CSV rows after the header
// (newlines inside quoted CSV fields do not end a row).
type recordCounter struct {
	csv      bool
	inQuotes bool
	header   bool // the CSV header has been passed
	partial  bool // bytes seen since the last record ended
}

func (rc *recordCounter) count(p []byte) int64 {
	var n int64
	for _, b := range p {
		switch {
		case rc.csv && b == '"':
			rc.inQuotes = !rc.inQuotes // "" inside a field toggles twice
			rc.partial = true
		case b == '\n' && !rc.inQuotes:
			if rc.csv && !rc.header {
				rc.header = true
			} else {
				n++
			}
			rc.partial = false
		case b != '\r':
			rc.partial = true
		}
	}
	return n
}

// finish counts a last record without a trailing newline.
func (rc *recordCounter) finish() int64 {
	if rc.partial && (!rc.csv || rc.header) {
		rc.partial = false
		return 1
	}
	return 0
}
