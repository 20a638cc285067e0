package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Checkpoint is a signed tree head of a tenant's Merkle log (docs/INTEGRITY.md). Timestamp is
// kept as the exact text that was signed.
type Checkpoint struct {
	TenantID  string `json:"tenant_id"`
	TreeSize  uint64 `json:"tree_size"`
	RootHash  string `json:"root_hash"` // lowercase hex
	Timestamp string `json:"timestamp"` // RFC 3339 UTC, microseconds, Z
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // Ed25519, lowercase hex
	// Note is the same checkpoint as a C2SP signed note with the witnesses' cosignatures
	// (VerifyNote checks it); empty for checkpoints signed before notes existed.
	Note  string `json:"note,omitempty"`
	Final bool   `json:"final"` // cosigned by the service's witness quorum
}

// SignedText is the text the signature covers: five lines, each ending in "\n".
func (cp Checkpoint) SignedText() []byte {
	return []byte("auditlog-checkpoint/v1\n" + cp.TenantID + "\n" + strconv.FormatUint(cp.TreeSize, 10) + "\n" +
		cp.RootHash + "\n" + cp.Timestamp + "\n")
}

// KeyID is the key id of a raw Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(key ed25519.PublicKey) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// VerifyCheckpoint checks cp's Ed25519 signature with the key it names, which must be in keys
// (by key id, as PublicKeys.Ed25519 returns them).
func VerifyCheckpoint(cp Checkpoint, keys map[string]ed25519.PublicKey) error {
	key, ok := keys[cp.KeyID]
	if !ok {
		return failed("checkpoint of %s at size %d is signed by unknown key %q", cp.TenantID, cp.TreeSize, cp.KeyID)
	}
	sig, err := hex.DecodeString(cp.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return failed("checkpoint signature is not %d bytes of hex", ed25519.SignatureSize)
	}
	if _, err := decodeHash(cp.RootHash); err != nil {
		return failed("checkpoint root_hash: %v", err)
	}
	if !ed25519.Verify(key, cp.SignedText(), sig) {
		return failed("checkpoint of %s at size %d: bad signature", cp.TenantID, cp.TreeSize)
	}
	return nil
}

// PublicKey is a checkpoint signing key as the service publishes it.
type PublicKey struct {
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`  // "Ed25519"
	PublicKey string `json:"public_key"` // the raw 32-byte key, hex
}

// PublicKeys is the answer of GetPublicKey.
type PublicKeys struct {
	Keys []PublicKey `json:"keys"`
}

// Ed25519 returns the keys by key id, after checking that each is an Ed25519 key whose id is
// the one its bytes give.
func (p PublicKeys) Ed25519() (map[string]ed25519.PublicKey, error) {
	out := make(map[string]ed25519.PublicKey, len(p.Keys))
	for _, k := range p.Keys {
		if k.Algorithm != "Ed25519" {
			return nil, failed("key %q has algorithm %q, not Ed25519", k.KeyID, k.Algorithm)
		}
		raw, err := hex.DecodeString(k.PublicKey)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, failed("key %q is not %d bytes of hex", k.KeyID, ed25519.PublicKeySize)
		}
		if id := KeyID(raw); id != k.KeyID {
			return nil, failed("key published as %q has id %q", k.KeyID, id)
		}
		out[k.KeyID] = ed25519.PublicKey(raw)
	}
	return out, nil
}

// InclusionProof proves that one event is a leaf of its tenant's log under a signed checkpoint.
type InclusionProof struct {
	AuditID    string     `json:"audit_id"`
	LeafIndex  uint64     `json:"leaf_index"`
	TreeSize   uint64     `json:"tree_size"`
	LeafHash   string     `json:"leaf_hash"`
	AuditPath  []string   `json:"audit_path"` // leaf to root, hex
	Checkpoint Checkpoint `json:"checkpoint"`
	// Record is the committed record's JSON text; "null" once retention deleted the payload (the
	// proof still verifies from LeafHash).
	Record json.RawMessage `json:"record"`
}

// HasRecord reports whether the proof carries the committed record.
func (p *InclusionProof) HasRecord() bool {
	return len(p.Record) > 0 && !bytes.Equal(bytes.TrimSpace(p.Record), []byte("null"))
}

// Verify checks the proof against keys (by key id): the checkpoint's signature, the leaf hash
// recomputed from the record (when present, which must be the record of AuditID in the
// checkpoint's tenant), and the inclusion path up to the checkpoint's root.
func (p *InclusionProof) Verify(keys map[string]ed25519.PublicKey) error {
	err := p.verify(keys)
	if ve, ok := err.(*VerificationError); ok && ve.AuditID == "" {
		ve.AuditID = p.AuditID
	}
	return err
}

func (p *InclusionProof) verify(keys map[string]ed25519.PublicKey) error {
	if err := VerifyCheckpoint(p.Checkpoint, keys); err != nil {
		return err
	}
	if p.TreeSize != p.Checkpoint.TreeSize {
		return failed("proof is for size %d, its checkpoint for size %d", p.TreeSize, p.Checkpoint.TreeSize)
	}
	leaf, err := decodeHash(p.LeafHash)
	if err != nil {
		return failed("leaf_hash: %v", err)
	}
	if p.HasRecord() {
		computed, err := LeafHash(p.Record)
		if err != nil {
			return failed("record: %v", err)
		}
		if !bytes.Equal(computed, leaf) {
			return failed("the record hashes to %x, not to the leaf_hash %x", computed, leaf)
		}
		var ids struct {
			AuditID  string `json:"audit_id"`
			TenantID string `json:"tenant_id"`
		}
		if err := json.Unmarshal(p.Record, &ids); err != nil {
			return failed("record: %v", err)
		}
		if ids.AuditID != p.AuditID {
			return failed("the record is of event %q", ids.AuditID)
		}
		if ids.TenantID != p.Checkpoint.TenantID {
			return failed("the record is of tenant %q, the checkpoint of %q", ids.TenantID, p.Checkpoint.TenantID)
		}
	}
	path, err := decodeHashes(p.AuditPath)
	if err != nil {
		return failed("audit_path: %v", err)
	}
	root, _ := decodeHash(p.Checkpoint.RootHash) // checked with the signature
	return VerifyInclusion(p.LeafIndex, p.TreeSize, leaf, path, root)
}

// ConsistencyProof shows that the tree of size First is a prefix of the tree of size Second.
type ConsistencyProof struct {
	First      uint64   `json:"first"`
	Second     uint64   `json:"second"`
	Proof      []string `json:"proof"`
	FirstRoot  string   `json:"first_root"`
	SecondRoot string   `json:"second_root"`
}

// Verify checks the proof between two roots the caller holds (from checkpoints it verified, not
// the roots in the answer, which must equal them).
func (p *ConsistencyProof) Verify(firstRoot, secondRoot []byte) error {
	if hex.EncodeToString(firstRoot) != p.FirstRoot || hex.EncodeToString(secondRoot) != p.SecondRoot {
		return failed("the proof is between other roots than the checkpoints'")
	}
	proof, err := decodeHashes(p.Proof)
	if err != nil {
		return failed("proof: %v", err)
	}
	return VerifyConsistency(p.First, p.Second, firstRoot, secondRoot, proof)
}

// TenantOptions reads the log of another tenant (role system_admin); nil or empty: the token's.
type TenantOptions struct {
	TenantID string
}

func (o *TenantOptions) values() url.Values {
	q := url.Values{}
	if o != nil && o.TenantID != "" {
		q.Set("tenant_id", o.TenantID)
	}
	return q
}

// GetPublicKey returns the keys that sign checkpoints (no token needed).
//
// OpenAPI: getPublicKey
func (c *Client) GetPublicKey(ctx context.Context) (*PublicKeys, error) {
	var out PublicKeys
	if err := c.call(ctx, request{op: "getPublicKey", method: http.MethodGet, path: "/api/v1/audit/public-key"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetLatestCheckpoint returns the newest signed checkpoint of the tenant's log. It is not
// verified: see VerifyCheckpoint.
//
// OpenAPI: getLatestCheckpoint
func (c *Client) GetLatestCheckpoint(ctx context.Context, opts *TenantOptions) (*Checkpoint, error) {
	var out Checkpoint
	if err := c.call(ctx, request{op: "getLatestCheckpoint", method: http.MethodGet, path: "/api/v1/audit/checkpoints/latest", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCheckpoint returns the checkpoint signed at treeSize (not found if none was).
//
// OpenAPI: getCheckpoint
func (c *Client) GetCheckpoint(ctx context.Context, treeSize uint64, opts *TenantOptions) (*Checkpoint, error) {
	var out Checkpoint
	path := "/api/v1/audit/checkpoints/" + strconv.FormatUint(treeSize, 10)
	if err := c.call(ctx, request{op: "getCheckpoint", method: http.MethodGet, path: path, query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProofOptions picks the checkpoint of a proof and the tenant.
type ProofOptions struct {
	TenantID string // another tenant (system_admin); empty: the token's
	TreeSize uint64 // the checkpoint of that size; 0: the latest
}

// GetEventProof returns the inclusion proof of one event, unverified (see InclusionProof.Verify
// and VerifyEvent). An event not yet in a checkpoint is a 409 (IsNotSequenced) with RetryAfter.
//
// OpenAPI: getEventProof
func (c *Client) GetEventProof(ctx context.Context, auditID string, opts *ProofOptions) (*InclusionProof, error) {
	q := url.Values{}
	if opts != nil {
		q = (&TenantOptions{TenantID: opts.TenantID}).values()
		if opts.TreeSize > 0 {
			q.Set("tree_size", strconv.FormatUint(opts.TreeSize, 10))
		}
	}
	var out InclusionProof
	path := "/api/v1/audit/events/" + url.PathEscape(auditID) + "/proof"
	if err := c.call(ctx, request{op: "getEventProof", method: http.MethodGet, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConsistencyOptions picks the second size and the tenant of a consistency proof.
type ConsistencyOptions struct {
	TenantID string
	Second   uint64 // 0: the latest checkpoint's size
}

// GetConsistencyProof returns the proof that the tree of size first is a prefix of the tree of
// size opts.Second (the latest when 0), unverified (see ConsistencyProof.Verify and
// VerifyCheckpoints).
//
// OpenAPI: getConsistencyProof
func (c *Client) GetConsistencyProof(ctx context.Context, first uint64, opts *ConsistencyOptions) (*ConsistencyProof, error) {
	q := url.Values{}
	if opts != nil {
		q = (&TenantOptions{TenantID: opts.TenantID}).values()
		if opts.Second > 0 {
			q.Set("second", strconv.FormatUint(opts.Second, 10))
		}
	}
	q.Set("first", strconv.FormatUint(first, 10))
	var out ConsistencyProof
	if err := c.call(ctx, request{op: "getConsistencyProof", method: http.MethodGet, path: "/api/v1/audit/proofs/consistency", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IntegrityRun is what one sequencer pass integrated, per tenant.
type IntegrityRun struct {
	Integrated map[string]int `json:"integrated"`
}

// RunIntegrity runs one pass of the sequencer that adds stored events to the tenants' logs and
// signs checkpoints (role system_admin; the service also runs it by itself).
//
// OpenAPI: runIntegrity
func (c *Client) RunIntegrity(ctx context.Context) (*IntegrityRun, error) {
	var out IntegrityRun
	if err := c.call(ctx, request{op: "runIntegrity", method: http.MethodPost, path: "/api/v1/audit/integrity/run"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyOptions tunes VerifyEvent.
type VerifyOptions struct {
	TenantID string // another tenant (system_admin); also required of the checkpoint when set
	TreeSize uint64 // verify against the checkpoint of that size; 0: the latest
	// Receipt is the leaf_hash the write answered (IngestResult.LeafHash); when set, the proof
	// must be about that leaf.
	Receipt string
	// WaitForEvent is how long a "not found" is taken to mean "accepted a moment ago, not yet
	// stored" and asked again. A 409 not_sequenced is always waited out (within ctx).
	WaitForEvent time.Duration
	// Witnesses, when set, also requires the checkpoint's signed note to carry the policy's
	// quorum of witness cosignatures.
	Witnesses *WitnessPolicy
}

// VerifyEvent fetches the inclusion proof of one event and checks it completely: the
// checkpoint's Ed25519 signature against the trusted keys (WithTrustedKey) or else the
// service's published keys, the leaf hash recomputed from the committed record, the record's
// audit_id and tenant, and the path from the leaf to the signed root. It returns the verified
// proof; a proof that does not check out is a *VerificationError (errors.Is ErrVerification).
//
// OpenAPI: getEventProof
func (c *Client) VerifyEvent(ctx context.Context, auditID string, opts *VerifyOptions) (*InclusionProof, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	proof, err := c.waitForProof(ctx, auditID, opts)
	if err != nil {
		return nil, err
	}
	keys, err := c.signingKeys(ctx, proof.Checkpoint.KeyID)
	if err != nil {
		return nil, err
	}
	if err := proof.Verify(keys); err != nil {
		return nil, err
	}
	if opts.Witnesses != nil {
		if err := VerifyNote(proof.Checkpoint, keys, opts.Witnesses); err != nil {
			return nil, &VerificationError{AuditID: auditID, Reason: err.Error()}
		}
	}
	if opts.TenantID != "" && proof.Checkpoint.TenantID != opts.TenantID {
		return nil, &VerificationError{AuditID: auditID, Reason: fmt.Sprintf("the checkpoint is of tenant %q", proof.Checkpoint.TenantID)}
	}
	if opts.TreeSize > 0 && proof.TreeSize != opts.TreeSize {
		return nil, &VerificationError{AuditID: auditID, Reason: fmt.Sprintf("asked for size %d, got %d", opts.TreeSize, proof.TreeSize)}
	}
	if opts.Receipt != "" && opts.Receipt != proof.LeafHash {
		return nil, &VerificationError{AuditID: auditID, Reason: fmt.Sprintf("the receipt %s is not the proven leaf %s", opts.Receipt, proof.LeafHash)}
	}
	if proof.AuditID != auditID {
		return nil, &VerificationError{AuditID: auditID, Reason: fmt.Sprintf("the proof is of event %q", proof.AuditID)}
	}
	return proof, nil
}

func (c *Client) waitForProof(ctx context.Context, auditID string, opts *VerifyOptions) (*InclusionProof, error) {
	started := time.Now()
	for attempt := 1; ; attempt++ {
		proof, err := c.GetEventProof(ctx, auditID, &ProofOptions{TenantID: opts.TenantID, TreeSize: opts.TreeSize})
		if err == nil {
			return proof, nil
		}
		var wait time.Duration
		switch {
		case IsNotSequenced(err):
			wait = err.(*APIError).RetryAfter
			if wait <= 0 {
				wait = 200 * time.Millisecond
			}
		case IsNotFound(err) && time.Since(started) < opts.WaitForEvent:
			wait = 50 * time.Millisecond << minInt(attempt-1, 4)
		default:
			return nil, err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("auditlog: waiting for the proof of %s: %w (last answer: %v)", auditID, serr, err)
		}
	}
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// signingKeys returns the keys to check checkpoints with: the pinned ones, or the published
// ones, fetched again when a checkpoint names a key not seen yet (keys rotate).
func (c *Client) signingKeys(ctx context.Context, want string) (map[string]ed25519.PublicKey, error) {
	if c.trustedKeys != nil {
		return c.trustedKeys, nil
	}
	c.keysMu.Lock()
	cached := c.keysCache
	c.keysMu.Unlock()
	if _, ok := cached[want]; ok {
		return cached, nil
	}
	published, err := c.GetPublicKey(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := published.Ed25519()
	if err != nil {
		return nil, err
	}
	c.keysMu.Lock()
	c.keysCache = keys
	c.keysMu.Unlock()
	return keys, nil
}

// VerifyCheckpoints checks two checkpoints of one tenant's log, older no larger than newer: both
// signatures, and the consistency proof fetched from the service between their roots. It shows
// the log was only appended to between them.
//
// OpenAPI: getConsistencyProof
func (c *Client) VerifyCheckpoints(ctx context.Context, older, newer Checkpoint, opts *TenantOptions) error {
	if older.TenantID != newer.TenantID {
		return failed("checkpoints of two tenants, %q and %q", older.TenantID, newer.TenantID)
	}
	if older.TreeSize > newer.TreeSize {
		return failed("the older checkpoint (size %d) is larger than the newer (size %d)", older.TreeSize, newer.TreeSize)
	}
	for _, cp := range []Checkpoint{older, newer} {
		keys, err := c.signingKeys(ctx, cp.KeyID)
		if err != nil {
			return err
		}
		if err := VerifyCheckpoint(cp, keys); err != nil {
			return err
		}
	}
	first, _ := decodeHash(older.RootHash)
	second, _ := decodeHash(newer.RootHash)
	if older.TreeSize == newer.TreeSize || older.TreeSize == 0 {
		return VerifyConsistency(older.TreeSize, newer.TreeSize, first, second, nil)
	}
	tenant := ""
	if opts != nil {
		tenant = opts.TenantID
	}
	proof, err := c.GetConsistencyProof(ctx, older.TreeSize, &ConsistencyOptions{TenantID: tenant, Second: newer.TreeSize})
	if err != nil {
		return err
	}
	if proof.First != older.TreeSize || proof.Second != newer.TreeSize {
		return failed("asked for a proof from %d to %d, got one from %d to %d", older.TreeSize, newer.TreeSize, proof.First, proof.Second)
	}
	return proof.Verify(first, second)
}

func decodeHash(h string) ([]byte, error) {
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex", h)
	}
	if len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 hash", h)
	}
	return b, nil
}

func decodeHashes(hs []string) ([][]byte, error) {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := decodeHash(h)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
