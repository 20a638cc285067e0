package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

var (
	signingKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	otherKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
)

func keyIDOf(k ed25519.PrivateKey) string {
	sum := sha256.Sum256(k.Public().(ed25519.PublicKey))
	return hex.EncodeToString(sum[:8])
}

// sign makes a checkpoint the way docs/INTEGRITY.md describes, written out here on its own.
func sign(k ed25519.PrivateKey, tenant string, size int, root []byte, ts string) Checkpoint {
	text := fmt.Sprintf("auditlog-checkpoint/v1\n%s\n%d\n%x\n%s\n", tenant, size, root, ts)
	return Checkpoint{TenantID: tenant, TreeSize: uint64(size), RootHash: hex.EncodeToString(root), Timestamp: ts,
		KeyID: keyIDOf(k), Signature: hex.EncodeToString(ed25519.Sign(k, []byte(text)))}
}

func published(keys ...ed25519.PrivateKey) PublicKeys {
	var out PublicKeys
	for _, k := range keys {
		out.Keys = append(out.Keys, PublicKey{KeyID: keyIDOf(k), Algorithm: "Ed25519",
			PublicKey: hex.EncodeToString(k.Public().(ed25519.PublicKey))})
	}
	return out
}

func trusted(t *testing.T) map[string]ed25519.PublicKey {
	keys, err := published(signingKey).Ed25519()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestCheckpointSignature(t *testing.T) {
	root := mth(entries(5))
	cp := sign(signingKey, "acme", 5, root, "2026-11-26T12:00:00.000000Z")
	keys := trusted(t)
	if err := VerifyCheckpoint(cp, keys); err != nil {
		t.Fatal(err)
	}
	tampered := map[string]func(*Checkpoint){
		"tenant":      func(c *Checkpoint) { c.TenantID = "acme2" },
		"size":        func(c *Checkpoint) { c.TreeSize++ },
		"root":        func(c *Checkpoint) { c.RootHash = hex.EncodeToString(mth(entries(4))) },
		"timestamp":   func(c *Checkpoint) { c.Timestamp = "2026-11-26T12:00:00.000001Z" },
		"signature":   func(c *Checkpoint) { c.Signature = strings.Replace(c.Signature, c.Signature[:2], "00", 1) },
		"short sig":   func(c *Checkpoint) { c.Signature = c.Signature[:64] },
		"unknown key": func(c *Checkpoint) { c.KeyID = keyIDOf(otherKey) },
		"other signer": func(c *Checkpoint) {
			*c = sign(otherKey, "acme", 5, root, "2026-11-26T12:00:00.000000Z")
			c.KeyID = keyIDOf(signingKey)
		},
	}
	for name, change := range tampered {
		c := cp
		change(&c)
		if err := VerifyCheckpoint(c, keys); !errors.Is(err, ErrVerification) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPublishedKeysAreChecked(t *testing.T) {
	good := published(signingKey)
	if keys, err := good.Ed25519(); err != nil || len(keys) != 1 || KeyID(keys[keyIDOf(signingKey)]) != keyIDOf(signingKey) {
		t.Fatalf("%v %v", keys, err)
	}
	wrongID := published(signingKey)
	wrongID.Keys[0].KeyID = keyIDOf(otherKey)
	wrongAlg := published(signingKey)
	wrongAlg.Keys[0].Algorithm = "ES256"
	short := published(signingKey)
	short.Keys[0].PublicKey = short.Keys[0].PublicKey[:62]
	for name, p := range map[string]PublicKeys{"key id": wrongID, "algorithm": wrongAlg, "length": short} {
		if _, err := p.Ed25519(); !errors.Is(err, ErrVerification) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// proofFixture is a tenant log of 13 leaves whose leaf 5 is recordWire (jcs_test.go).
func proofFixture(t *testing.T) (InclusionProof, [][]byte) {
	leaves := entries(13)
	canon := []byte(recordCanonical)
	leaves[5] = canon
	root := mth(leaves)
	var pathHex []string
	for _, h := range path(5, leaves) {
		pathHex = append(pathHex, hex.EncodeToString(h))
	}
	return InclusionProof{
		AuditID: "0193a1b2-7c4d-4e8f-9a0b-1c2d3e4f5a6b", LeafIndex: 5, TreeSize: 13,
		LeafHash: recordLeafHash, AuditPath: pathHex,
		Checkpoint: sign(signingKey, "acme", 13, root, "2026-11-26T12:00:05.000000Z"),
		Record:     json.RawMessage(recordWire),
	}, leaves
}

func TestInclusionProofVerify(t *testing.T) {
	good, leaves := proofFixture(t)
	keys := trusted(t)
	if err := good.Verify(keys); err != nil {
		t.Fatal(err)
	}
	withoutRecord := good
	withoutRecord.Record = json.RawMessage("null")
	if err := withoutRecord.Verify(keys); err != nil {
		t.Fatalf("a proof whose payload retention deleted still verifies: %v", err)
	}

	// The same leaf under another audit id: the hash and path check out, the event does not.
	otherID := strings.Replace(recordWire, "0193a1b2-7c4d-4e8f-9a0b-1c2d3e4f5a6b", "0193a1b2-7c4d-4e8f-9a0b-000000000000", 1)
	canonOther, _ := CanonicalJSON([]byte(otherID))
	leaves[5] = canonOther
	var otherPath []string
	for _, h := range path(5, leaves) {
		otherPath = append(otherPath, hex.EncodeToString(h))
	}
	otherLeaf, _ := LeafHash([]byte(otherID))
	swapped := InclusionProof{AuditID: good.AuditID, LeafIndex: 5, TreeSize: 13, LeafHash: hex.EncodeToString(otherLeaf),
		AuditPath: otherPath, Checkpoint: sign(signingKey, "acme", 13, mth(leaves), "2026-11-26T12:00:05.000000Z"),
		Record: json.RawMessage(otherID)}
	if err := swapped.Verify(keys); err == nil || !strings.Contains(err.Error(), "record is of event") {
		t.Fatalf("a proof of another event: %v", err)
	}

	tampered := map[string]func(*InclusionProof){
		"record":          func(p *InclusionProof) { p.Record = json.RawMessage(strings.Replace(recordWire, "2555", "2554", 1)) },
		"leaf hash":       func(p *InclusionProof) { p.LeafHash = hex.EncodeToString(mth(entries(1))) },
		"leaf hash only":  func(p *InclusionProof) { p.Record = nil; p.LeafHash = hex.EncodeToString(mth(entries(1))) },
		"path":            func(p *InclusionProof) { p.AuditPath = append([]string{p.AuditPath[1]}, p.AuditPath[1:]...) },
		"index":           func(p *InclusionProof) { p.LeafIndex = 4 },
		"size":            func(p *InclusionProof) { p.TreeSize = 14 },
		"checkpoint size": func(p *InclusionProof) { p.Checkpoint.TreeSize = 14; p.TreeSize = 14 },
		"checkpoint root": func(p *InclusionProof) { p.Checkpoint.RootHash = hex.EncodeToString(mth(entries(13))) },
		"tenant": func(p *InclusionProof) {
			p.Checkpoint = sign(signingKey, "globex", 13, mth(append(entries(5), append([][]byte{[]byte(recordCanonical)}, entries(13)[6:]...)...)), p.Checkpoint.Timestamp)
		},
		"signer": func(p *InclusionProof) {
			c := sign(otherKey, "acme", 13, mustHex(p.Checkpoint.RootHash), p.Checkpoint.Timestamp)
			p.Checkpoint = c
		},
		"path not hex": func(p *InclusionProof) { p.AuditPath[0] = "zz" },
	}
	for name, change := range tampered {
		p, _ := proofFixture(t)
		change(&p)
		err := p.Verify(keys)
		var ve *VerificationError
		if !errors.As(err, &ve) || ve.AuditID != good.AuditID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestVerifyEventWaitsForSequencingAndChecksEverything(t *testing.T) {
	good, _ := proofFixture(t)
	var proofCalls, keyCalls int32
	serve := func(p InclusionProof, keys PublicKeys) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/api/v1/audit/public-key":
				atomic.AddInt32(&keyCalls, 1)
				writeJSON(w, 200, keys)
			case "/api/v1/audit/events/" + good.AuditID + "/proof":
				if atomic.AddInt32(&proofCalls, 1) == 1 {
					w.Header().Set("Retry-After", "0")
					writeError(w, 409, "not_sequenced", "not in a checkpoint yet")
					return
				}
				writeJSON(w, 200, p)
			default:
				writeError(w, 404, "not_found", "no such path")
			}
		}))
	}
	srv := serve(good, published(signingKey))
	c := NewClient(srv.URL)
	got, err := c.VerifyEvent(context.Background(), good.AuditID, &VerifyOptions{Receipt: recordLeafHash})
	if err != nil {
		t.Fatal(err)
	}
	if got.LeafIndex != 5 || proofCalls != 2 {
		t.Fatalf("proof %+v after %d calls", got, proofCalls)
	}
	// The key is cached: a second verification asks only for the proof.
	if _, err := c.VerifyEvent(context.Background(), good.AuditID, nil); err != nil || keyCalls != 1 {
		t.Fatalf("%v, key fetched %d times", err, keyCalls)
	}
	if _, err := c.VerifyEvent(context.Background(), good.AuditID, &VerifyOptions{Receipt: hex.EncodeToString(mth(entries(2)))}); !errors.Is(err, ErrVerification) {
		t.Fatalf("a wrong receipt: %v", err)
	}
	if _, err := c.VerifyEvent(context.Background(), "0193a1b2-0000-4000-8000-000000000000", nil); !IsNotFound(err) {
		t.Fatalf("an unknown event: %v", err)
	}
	srv.Close()

	// A server that lies about the record cannot pass, and one that also publishes its own key
	// cannot pass a client that pinned the real one.
	lying := good
	lying.Record = json.RawMessage(strings.Replace(recordWire, `"update"`, `"delete"`, 1))
	srv = serve(lying, published(signingKey))
	if _, err := NewClient(srv.URL).VerifyEvent(context.Background(), good.AuditID, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("an altered record: %v", err)
	}
	srv.Close()
	forged, leaves := proofFixture(t)
	forged.Checkpoint = sign(otherKey, "acme", 13, mth(leaves), forged.Checkpoint.Timestamp)
	srv = serve(forged, published(otherKey))
	defer srv.Close()
	if _, err := NewClient(srv.URL).VerifyEvent(context.Background(), good.AuditID, nil); err != nil {
		t.Fatalf("self-consistent answers verify without pinning: %v", err)
	}
	pinned := NewClient(srv.URL, WithTrustedKey(signingKey.Public().(ed25519.PublicKey)))
	if _, err := pinned.VerifyEvent(context.Background(), good.AuditID, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("a checkpoint by a key not pinned: %v", err)
	}
}

func TestVerifyCheckpoints(t *testing.T) {
	d := entries(11)
	older := sign(signingKey, "acme", 6, mth(d[:6]), "2026-11-26T12:00:00.000000Z")
	newer := sign(signingKey, "acme", 11, mth(d), "2026-11-26T12:01:00.000000Z")
	proof := ConsistencyProof{First: 6, Second: 11, FirstRoot: older.RootHash, SecondRoot: newer.RootHash}
	for _, h := range subproof(6, d, true) {
		proof.Proof = append(proof.Proof, hex.EncodeToString(h))
	}
	var answer ConsistencyProof
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/audit/proofs/consistency" || r.URL.Query().Get("first") != "6" || r.URL.Query().Get("second") != "11" {
			writeError(w, 400, "invalid_argument", "unexpected "+r.URL.String())
			return
		}
		writeJSON(w, 200, answer)
	}))
	defer srv.Close()
	c := NewClient(srv.URL, WithTrustedKey(signingKey.Public().(ed25519.PublicKey)))
	answer = proof
	if err := c.VerifyCheckpoints(context.Background(), older, newer, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyCheckpoints(context.Background(), newer, newer, nil); err != nil {
		t.Fatalf("a checkpoint is consistent with itself: %v", err)
	}
	bad := proof
	bad.Proof = append([]string(nil), proof.Proof...)
	bad.Proof[0] = hex.EncodeToString(mth(d[:1]))
	answer = bad
	if err := c.VerifyCheckpoints(context.Background(), older, newer, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("a forged proof: %v", err)
	}
	// A rewritten history: a second tree that does not extend the first.
	rewritten := append(entries(5), []byte("rewritten"))
	rewritten = append(rewritten, d[6:]...)
	forkedNewer := sign(signingKey, "acme", 11, mth(rewritten), "2026-11-26T12:01:00.000000Z")
	answer = ConsistencyProof{First: 6, Second: 11, FirstRoot: older.RootHash, SecondRoot: forkedNewer.RootHash, Proof: proof.Proof}
	if err := c.VerifyCheckpoints(context.Background(), older, forkedNewer, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("a fork: %v", err)
	}
	if err := c.VerifyCheckpoints(context.Background(), newer, older, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("older larger than newer: %v", err)
	}
}
