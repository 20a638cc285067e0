package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519
// witness cosignatures (c2sp.org/tlog-cosignature), with nothing but the standard library.

const (
	sigEd25519     = 0x01
	sigCosignature = 0x04
)

// NoteKey is a signed-note verifier key: a name, a signature type, an Ed25519 public key.
type NoteKey struct {
	Name      string
	Type      byte
	PublicKey ed25519.PublicKey
}

// KeyID is SHA-256(name || "\n" || type || public key)[:4].
func (k NoteKey) KeyID() []byte {
	h := sha256.New()
	h.Write([]byte(k.Name + "\n"))
	h.Write([]byte{k.Type})
	h.Write(k.PublicKey)
	return h.Sum(nil)[:4]
}

// ParseVerifierKey parses a vkey, "<name>+<hex key ID>+<base64 of type || public key>".
func ParseVerifierKey(vkey string) (NoteKey, error) {
	parts := strings.SplitN(strings.TrimSpace(vkey), "+", 3)
	if len(parts) != 3 || parts[0] == "" {
		return NoteKey{}, fmt.Errorf("verifier key %q: <name>+<hex key ID>+<base64>", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || (raw[0] != sigEd25519 && raw[0] != sigCosignature) {
		return NoteKey{}, fmt.Errorf("verifier key %s: an Ed25519 key of type 0x01 or 0x04 is expected", parts[0])
	}
	key := NoteKey{Name: parts[0], Type: raw[0], PublicKey: ed25519.PublicKey(raw[1:])}
	if hex.EncodeToString(key.KeyID()) != parts[1] {
		return NoteKey{}, fmt.Errorf("verifier key %s: its key ID does not match its key", parts[0])
	}
	return key, nil
}

// WitnessPolicy is the witnesses a client trusts and how many of them must have cosigned a
// checkpoint before it is believed (k of n). A checkpoint without the quorum is refused.
type WitnessPolicy struct {
	Witnesses []NoteKey
	Quorum    int
}

// NewWitnessPolicy builds a policy from cosignature vkeys; quorum < 0 means all of them.
func NewWitnessPolicy(vkeys []string, quorum int) (*WitnessPolicy, error) {
	p := &WitnessPolicy{Quorum: quorum}
	for _, v := range vkeys {
		k, err := ParseVerifierKey(v)
		if err != nil {
			return nil, err
		}
		if k.Type != sigCosignature {
			return nil, fmt.Errorf("witness %s: a cosignature key (type 0x04) is expected", k.Name)
		}
		p.Witnesses = append(p.Witnesses, k)
	}
	if quorum < 0 {
		p.Quorum = len(p.Witnesses)
	}
	if p.Quorum > len(p.Witnesses) {
		return nil, fmt.Errorf("a quorum of %d needs at least that many witnesses", p.Quorum)
	}
	return p, nil
}

// NoteCheckpoint is what a verified checkpoint note states.
type NoteCheckpoint struct {
	Origin     string
	TreeSize   uint64
	RootHash   []byte
	Extensions []string
	Cosigners  map[string]uint64 // witness name -> the cosignature's time (POSIX seconds)
}

// OpenCheckpoint verifies a checkpoint note: a signature by one of logKeys, and under policy its
// quorum of valid cosignatures. Signatures by unknown keys are ignored; a known key's signature
// that fails rejects the note.
func OpenCheckpoint(note string, logKeys []NoteKey, policy *WitnessPolicy) (*NoteCheckpoint, error) {
	cut := strings.LastIndex(note, "\n\n")
	if cut < 0 || !strings.HasSuffix(note, "\n") {
		return nil, failed("not a signed note")
	}
	text := note[:cut+1]
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, failed("not a checkpoint")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, failed("checkpoint tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return nil, failed("checkpoint root hash %q", lines[2])
	}
	out := &NoteCheckpoint{Origin: lines[0], TreeSize: size, RootHash: root, Extensions: lines[3:], Cosigners: map[string]uint64{}}
	signed := false
	var witnesses []NoteKey
	if policy != nil {
		witnesses = policy.Witnesses
	}
	for _, line := range strings.Split(strings.TrimSuffix(note[cut+2:], "\n"), "\n") {
		rest := strings.TrimPrefix(line, "\u2014 ")
		if rest == line {
			return nil, failed("not a signature line: %q", line)
		}
		space := strings.LastIndex(rest, " ")
		if space < 0 {
			return nil, failed("not a signature line: %q", line)
		}
		name := rest[:space]
		raw, err := base64.StdEncoding.DecodeString(rest[space+1:])
		if err != nil || len(raw) < 5 {
			return nil, failed("the signature of %s is malformed", name)
		}
		id, sig := raw[:4], raw[4:]
		for _, k := range logKeys {
			if k.Name == name && bytes.Equal(k.KeyID(), id) {
				if !ed25519.Verify(k.PublicKey, []byte(text), sig) {
					return nil, failed("the signature of %s does not verify", name)
				}
				signed = true
			}
		}
		for _, k := range witnesses {
			if k.Name == name && bytes.Equal(k.KeyID(), id) {
				if len(sig) != 72 {
					return nil, failed("the cosignature of %s is malformed", name)
				}
				t := binary.BigEndian.Uint64(sig[:8])
				msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, text)
				if !ed25519.Verify(k.PublicKey, []byte(msg), sig[8:]) {
					return nil, failed("the cosignature of %s does not verify", name)
				}
				out.Cosigners[name] = t
			}
		}
	}
	if !signed {
		return nil, failed("no signature by a known log key")
	}
	if policy != nil && len(out.Cosigners) < policy.Quorum {
		return nil, failed("%d of the %d cosignatures the witness policy requires", len(out.Cosigners), policy.Quorum)
	}
	return out, nil
}

// VerifyNote checks a JSON checkpoint's note: signed by one of keys (the log's, under the
// tenant's origin), cosigned per policy, and stating the same tenant, size and root.
func VerifyNote(cp Checkpoint, keys map[string]ed25519.PublicKey, policy *WitnessPolicy) error {
	if cp.Note == "" {
		return failed("the checkpoint carries no signed note")
	}
	origin := cp.Note[:strings.IndexByte(cp.Note+"\n", '\n')]
	var logKeys []NoteKey
	for _, k := range keys {
		logKeys = append(logKeys, NoteKey{Name: origin, Type: sigEd25519, PublicKey: k})
	}
	opened, err := OpenCheckpoint(cp.Note, logKeys, policy)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(opened.Origin, "/"+cp.TenantID) || opened.TreeSize != cp.TreeSize || hex.EncodeToString(opened.RootHash) != cp.RootHash {
		return failed("the note states another checkpoint than the JSON fields")
	}
	return nil
}

// GetLogCheckpoint returns the tenant's newest final checkpoint as a C2SP signed note
// (OpenCheckpoint verifies it).
//
// OpenAPI: getLogCheckpoint
func (c *Client) GetLogCheckpoint(ctx context.Context, opts *TenantOptions) (string, error) {
	raw, err := c.raw(ctx, "getLogCheckpoint", "/api/v1/audit/log/checkpoint", opts.values())
	return string(raw), err
}

// VerifierKeys lists the signed-note verifier keys of a tenant's log and of its witnesses.
type VerifierKeys struct {
	Origin    string   `json:"origin"`
	Log       []string `json:"log"`
	Witnesses []string `json:"witnesses"`
	Quorum    int      `json:"quorum"`
}

// GetVerifierKeys needs no token.
//
// OpenAPI: getVerifierKeys
func (c *Client) GetVerifierKeys(ctx context.Context, tenantID string) (*VerifierKeys, error) {
	var out VerifierKeys
	q := url.Values{"tenant_id": {tenantID}}
	if err := c.call(ctx, request{op: "getVerifierKeys", method: http.MethodGet, path: "/api/v1/audit/log/verifier-keys", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTile returns a C2SP hash tile, path "<L>/<N>[.p/<W>]".
//
// OpenAPI: getTile
func (c *Client) GetTile(ctx context.Context, path string, opts *TenantOptions) ([]byte, error) {
	return c.raw(ctx, "getTile", "/api/v1/audit/log/tile/"+path, opts.values())
}

// GetEntryBundle returns a C2SP entry bundle, path "<N>[.p/<W>]".
//
// OpenAPI: getEntryBundle
func (c *Client) GetEntryBundle(ctx context.Context, path string, opts *TenantOptions) ([]byte, error) {
	return c.raw(ctx, "getEntryBundle", "/api/v1/audit/log/tile/entries/"+path, opts.values())
}

func (c *Client) raw(ctx context.Context, op, path string, q url.Values) ([]byte, error) {
	resp, err := c.send(ctx, request{op: op, method: http.MethodGet, path: path, query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &TransportError{Op: op, Method: http.MethodGet, Path: path, Err: err}
	}
	return data, nil
}
