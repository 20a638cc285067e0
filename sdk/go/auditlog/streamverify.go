package auditlog

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Checking, offline, what a log stream delivered: the same checks as the service's
// `auditlog stream-verify`, written independently with the standard library.

// maxStreamProblems bounds the problems a report keeps: a stream of millions of bad leaves is
// reported, not held in memory.
const maxStreamProblems = 100

// StreamBatch is one delivery of a stream as its receiver stored it: a contiguous range of the
// tenant's leaves with the signed checkpoint covering them. Each event is a JSON object carrying
// tenant_id, audit_id, leaf_index and leaf_hash: in format json a full event is the committed
// record plus leaf_index and leaf_hash; a leaf the filter leaves out or retention deleted is
// those four fields and "omitted". A test delivery has FirstLeafIndex -1.
type StreamBatch struct {
	StreamID       string            `json:"stream_id"`
	TenantID       string            `json:"tenant_id"`
	Format         string            `json:"format"`
	FirstLeafIndex int64             `json:"first_leaf_index"`
	LastLeafIndex  int64             `json:"last_leaf_index"`
	Checkpoint     Checkpoint        `json:"checkpoint"`
	Events         []json.RawMessage `json:"events"`
}

// StreamVerifyOptions are the keys VerifyStream trusts.
type StreamVerifyOptions struct {
	// Keys are the log's Ed25519 public keys (several across a key rotation); at least one.
	Keys []ed25519.PublicKey
	// Witnesses, when set, also requires every checkpoint's signed note to carry the policy's
	// quorum of witness cosignatures.
	Witnesses *WitnessPolicy
}

// StreamReport is what VerifyStream found; OK when no problem was. RootCheckedAt is the size of
// the checkpoint whose signed root the leaves rebuilt (nil when they do not run from leaf 0 to a
// checkpoint's size); each gap is [first missing, last missing].
type StreamReport struct {
	OK               bool       `json:"ok"`
	StreamIDs        []string   `json:"stream_ids"`
	Batches          int        `json:"batches"`
	Resent           int        `json:"resent"`
	Leaves           int        `json:"leaves"`
	FirstLeafIndex   *int64     `json:"first_leaf_index"`
	LastLeafIndex    *int64     `json:"last_leaf_index"`
	HashesRecomputed int        `json:"hashes_recomputed"`
	RootCheckedAt    *uint64    `json:"root_checked_at"`
	Gaps             [][2]int64 `json:"gaps"`
	Problems         []string   `json:"problems"`
}

func (r *StreamReport) problem(format string, args ...interface{}) {
	r.OK = false
	if len(r.Problems) < maxStreamProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// VerifyStream checks one stream's batches, in any order: the leaves are contiguous from the
// stream's first (each gap named); a re-sent batch (the same leaf range) is identical to the
// first copy and counts once; each full event of a json stream hashes to its leaf; every
// batch's checkpoint is signed by one of opts.Keys (its signed note too, when it has one; with
// opts.Witnesses, cosigned by the quorum) and covers the batch (same tenant, tree larger than
// its last leaf); and when the leaves run from 0 to at least a checkpoint's size, their RFC 9162
// root is the one the largest such checkpoint signs. Test deliveries are skipped.
//
// Only json streams can be checked, as with the service's checker: ocsf events keep their leaf
// index under "unmapped" and cef events are text, so their leaves are reported out of place.
// The error is for options that cannot be used (no key, a key of the wrong size); whatever is
// wrong with the batches is in the report.
func VerifyStream(batches []StreamBatch, opts StreamVerifyOptions) (StreamReport, error) {
	keys, err := streamKeys(opts.Keys)
	if err != nil {
		return StreamReport{}, err
	}
	v := streamVerifier{keys: keys, witnesses: opts.Witnesses, report: StreamReport{OK: true}, byRange: map[[2]int64]acceptedBatch{}}
	for i := range batches {
		v.add(&batches[i])
	}
	if len(v.report.StreamIDs) > 1 {
		v.report.problem("batches of %d streams: check one stream at a time", len(v.report.StreamIDs))
	}
	v.checkRoot(v.contiguous())
	return v.report, nil
}

func streamKeys(keys []ed25519.PublicKey) (map[string]ed25519.PublicKey, error) {
	if len(keys) == 0 {
		return nil, errors.New("auditlog: VerifyStream needs at least one trusted public key")
	}
	out := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("auditlog: a trusted key of %d bytes, not %d", len(k), ed25519.PublicKeySize)
		}
		out[KeyID(k)] = k
	}
	return out, nil
}

// acceptedBatch is the first copy of a leaf range, with each leaf's hash (nil when the event
// has none that is valid; that is named as a problem).
type acceptedBatch struct {
	batch  *StreamBatch
	hashes [][]byte
}

type streamVerifier struct {
	keys      map[string]ed25519.PublicKey
	witnesses *WitnessPolicy
	report    StreamReport
	byRange   map[[2]int64]acceptedBatch
	trusted   []Checkpoint // checkpoints that verified and cover their batch
}

func (v *streamVerifier) add(b *StreamBatch) {
	span := [2]int64{b.FirstLeafIndex, b.LastLeafIndex}
	if b.FirstLeafIndex < 0 {
		return // a test delivery
	}
	if b.LastLeafIndex < b.FirstLeafIndex {
		v.report.problem("batch %d-%d: its leaf range is empty", span[0], span[1])
		return
	}
	v.report.Batches++
	v.noteStream(b.StreamID)
	if v.checkpointTrusted(b) {
		v.trusted = append(v.trusted, b.Checkpoint)
	}
	if first, seen := v.byRange[span]; seen {
		v.report.Resent++
		if !sameEvents(first.batch.Events, b.Events) {
			v.report.problem("leaves %d-%d came twice with different contents", span[0], span[1])
		}
		return
	}
	v.byRange[span] = acceptedBatch{batch: b, hashes: v.checkEvents(b)}
}

func (v *streamVerifier) noteStream(id string) {
	for _, known := range v.report.StreamIDs {
		if known == id {
			return
		}
	}
	v.report.StreamIDs = append(v.report.StreamIDs, id)
}

// checkpointTrusted reports whether b's checkpoint is to be trusted and covers b, naming each
// failure.
func (v *streamVerifier) checkpointTrusted(b *StreamBatch) bool {
	cp := b.Checkpoint
	why := v.untrusted(cp)
	if why != "" {
		v.report.problem("batch %d-%d: %s", b.FirstLeafIndex, b.LastLeafIndex, why)
	}
	covers := cp.TenantID == b.TenantID && cp.TreeSize > uint64(b.LastLeafIndex)
	if !covers {
		v.report.problem("batch %d-%d: its checkpoint does not cover it", b.FirstLeafIndex, b.LastLeafIndex)
	}
	return why == "" && covers
}

// untrusted says why cp is not to be trusted, or "": its signature (and its note's, when it has
// one) by none of the keys, or fewer cosignatures than the witness policy's quorum.
func (v *streamVerifier) untrusted(cp Checkpoint) string {
	if VerifyCheckpoint(cp, v.keys) != nil || (cp.Note != "" && VerifyNote(cp, v.keys, nil) != nil) {
		return "its checkpoint does not verify with the log's key"
	}
	if v.witnesses != nil && v.witnesses.Quorum > 0 && VerifyNote(cp, v.keys, v.witnesses) != nil {
		return fmt.Sprintf("its checkpoint lacks the quorum of %d witness cosignatures", v.witnesses.Quorum)
	}
	return ""
}

// checkEvents checks each leaf of b is in its place with a valid leaf hash and, in a json
// stream, that each full event hashes to it; it returns the leaves' hashes.
func (v *streamVerifier) checkEvents(b *StreamBatch) [][]byte {
	first, last := b.FirstLeafIndex, b.LastLeafIndex
	if int64(len(b.Events)) != last-first+1 {
		v.report.problem("batch %d-%d holds %d leaves", first, last, len(b.Events))
	}
	hashes := make([][]byte, len(b.Events))
	for offset, raw := range b.Events {
		index := first + int64(offset)
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil || fields == nil {
			v.report.problem("batch %d-%d: leaf %d is not a JSON object", first, last, index)
			continue
		}
		var at *int64 // nil for null: not a leaf index
		if json.Unmarshal(fields["leaf_index"], &at) != nil || at == nil || *at != index {
			v.report.problem("batch %d-%d: leaf %d is out of place", first, last, index)
			continue
		}
		leaf, text := eventLeafHash(fields)
		if leaf == nil {
			v.report.problem("leaf %d has no valid leaf_hash", index)
			continue
		}
		hashes[offset] = leaf
		if _, omitted := fields["omitted"]; b.Format != StreamFormatJSON || omitted {
			continue
		}
		if recordHashesTo(fields, text) {
			v.report.HashesRecomputed++
		} else {
			var id string
			_ = json.Unmarshal(fields["audit_id"], &id)
			v.report.problem("leaf %d (%s) does not hash to its leaf", index, id)
		}
	}
	return hashes
}

// eventLeafHash is an event's leaf_hash, decoded and as written; nil when it is not a SHA-256
// hash in hex.
func eventLeafHash(fields map[string]json.RawMessage) ([]byte, string) {
	var text string
	if json.Unmarshal(fields["leaf_hash"], &text) != nil {
		return nil, ""
	}
	leaf, err := decodeHash(text)
	if err != nil {
		return nil, ""
	}
	return leaf, text
}

// recordHashesTo reports whether a json event without the two fields a delivery adds (the
// committed record) has the leaf hash want (lowercase hex).
func recordHashesTo(fields map[string]json.RawMessage, want string) bool {
	record := make(map[string]json.RawMessage, len(fields))
	for k, raw := range fields {
		if k != "leaf_index" && k != "leaf_hash" {
			record[k] = raw
		}
	}
	text, err := json.Marshal(record)
	if err != nil {
		return false
	}
	leaf, err := LeafHash(text)
	return err == nil && hex.EncodeToString(leaf) == want
}

// sameEvents compares two copies of a leaf range by each event's canonical JSON, so that a
// receiver that re-encoded what it stored is not taken for a changed re-send.
func sameEvents(a, b []json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ca, errA := CanonicalJSON(a[i])
		cb, errB := CanonicalJSON(b[i])
		if errA != nil || errB != nil {
			ca, cb = a[i], b[i]
		}
		if !bytes.Equal(ca, cb) {
			return false
		}
	}
	return true
}

// contiguous returns the leaves' hashes in order from the first batch's first leaf, naming gaps
// and overlaps.
func (v *streamVerifier) contiguous() [][]byte {
	spans := make([][2]int64, 0, len(v.byRange))
	for span := range v.byRange {
		spans = append(spans, span)
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i][0] != spans[j][0] {
			return spans[i][0] < spans[j][0]
		}
		return spans[i][1] < spans[j][1]
	})
	var leaves [][]byte
	var expected int64
	for i, span := range spans {
		switch {
		case i > 0 && span[0] > expected:
			v.report.Gaps = append(v.report.Gaps, [2]int64{expected, span[0] - 1})
			v.report.problem("leaves %d to %d are missing", expected, span[0]-1)
		case i > 0 && span[0] < expected:
			v.report.problem("batch %d-%d overlaps leaves already received", span[0], span[1])
			continue
		}
		leaves = append(leaves, v.byRange[span].hashes...)
		expected = span[1] + 1
	}
	v.report.Leaves = len(leaves)
	if len(spans) > 0 {
		first, last := spans[0][0], expected-1
		v.report.FirstLeafIndex, v.report.LastLeafIndex = &first, &last
	}
	return leaves
}

// checkRoot: with every leaf from 0, the largest trusted checkpoint they reach must be their
// Merkle root.
func (v *streamVerifier) checkRoot(leaves [][]byte) {
	if v.report.FirstLeafIndex == nil || *v.report.FirstLeafIndex != 0 || len(v.report.Gaps) > 0 {
		return
	}
	var best *Checkpoint
	for i := range v.trusted {
		cp := &v.trusted[i]
		if cp.TreeSize <= uint64(len(leaves)) && (best == nil || cp.TreeSize > best.TreeSize) {
			best = cp
		}
	}
	if best == nil {
		return
	}
	for _, leaf := range leaves[:best.TreeSize] {
		if leaf == nil {
			return // the leaves without a valid hash are already named as problems
		}
	}
	if hex.EncodeToString(MerkleRoot(leaves[:best.TreeSize])) != best.RootHash {
		v.report.problem("the leaves do not rebuild the signed root of the checkpoint of size %d", best.TreeSize)
		return
	}
	size := best.TreeSize
	v.report.RootCheckedAt = &size
}

// ReadStreamBatches reads every batch stored under path, a file or a directory of files (in
// name order): a webhook receiver's .json files (one batch body each) or .ndjson/.jsonl files
// (one body per line), and a GCS destination's .ndjson.gz objects (the batch header, then one
// line per leaf). Other files are ignored.
func ReadStreamBatches(path string) ([]StreamBatch, error) {
	files, err := batchFiles(path)
	if err != nil {
		return nil, err
	}
	var out []StreamBatch
	for _, name := range files {
		batches, err := readBatchFile(name)
		if err != nil {
			return nil, fmt.Errorf("auditlog: reading %s: %w", name, err)
		}
		out = append(out, batches...)
	}
	return out, nil
}

func batchFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(name string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, name)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

func readBatchFile(name string) ([]StreamBatch, error) {
	base := filepath.Base(name)
	lines := strings.HasSuffix(base, ".ndjson") || strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson.gz")
	if !lines && !strings.HasSuffix(base, ".json") {
		return nil, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if !lines {
		b, _, err := parseBatch(data)
		return []StreamBatch{b}, err
	}
	if strings.HasSuffix(base, ".gz") {
		if data, err = gunzip(data); err != nil {
			return nil, err
		}
	}
	return linesToBatches(data)
}

func gunzip(data []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// linesToBatches reads NDJSON: a batch body per line, or (a GCS object) a header without
// events, then one event per line.
func linesToBatches(data []byte) ([]StreamBatch, error) {
	var lines [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	header, hasEvents, err := parseBatch(lines[0])
	if err != nil {
		return nil, err
	}
	if !hasEvents {
		for _, line := range lines[1:] {
			header.Events = append(header.Events, json.RawMessage(line))
		}
		return []StreamBatch{header}, nil
	}
	out := []StreamBatch{header}
	for _, line := range lines[1:] {
		b, _, err := parseBatch(line)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// parseBatch decodes one batch body or header, and whether it holds its events.
func parseBatch(text []byte) (StreamBatch, bool, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(text, &fields); err != nil {
		return StreamBatch{}, false, err
	}
	for _, name := range []string{"stream_id", "first_leaf_index", "last_leaf_index", "checkpoint"} {
		if _, ok := fields[name]; !ok {
			return StreamBatch{}, false, fmt.Errorf("not a stream batch: no %s", name)
		}
	}
	var b StreamBatch
	if err := json.Unmarshal(text, &b); err != nil {
		return StreamBatch{}, false, err
	}
	_, hasEvents := fields["events"]
	return b, hasEvents, nil
}
