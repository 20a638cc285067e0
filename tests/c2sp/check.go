// Command check verifies a tenant's log with the Go team's implementations of the formats, not
// ours: golang.org/x/mod/sumdb/note opens the checkpoint (C2SP signed note) with the published
// verifier keys, and golang.org/x/mod/sumdb/tlog reads the tree from our C2SP tiles
// (TileHashReader checks every tile against the signed root), proves records and tree prefixes,
// and checks them (CheckRecord, CheckTree), as well as the proofs our JSON routes answer.
//
// Built offline in GOPATH mode by tests/e2e/test_c2sp.py (Debian's golang-golang-x-mod-dev):
//
//	GO111MODULE=off GOPATH=<tmp>:/usr/share/gocode go build -o check tests/c2sp/check.go
//
// Usage: check -url URL -token TOKEN -tenant T -audit-id ID -old-size N
// Prints one "ok ..." line per check; exits 1 at the first failure.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	base   = flag.String("url", "", "the API's base URL")
	token  = flag.String("token", "", "a bearer token that may read the tenant and its entries")
	tenant = flag.String("tenant", "", "the tenant whose log to check")
	id     = flag.String("audit-id", "", "an event whose proof route to check")
	old    = flag.Int64("old-size", 1, "an earlier tree size to prove a prefix of the newest")
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func get(path string, auth bool) []byte {
	req, _ := http.NewRequest("GET", *base+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		fail("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

// tiles fetches tiles at the C2SP paths (x/mod's own paths carry a height segment).
type tiles struct{ fetched int }

func (t *tiles) Height() int { return 8 }

func (t *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		path := strings.TrimPrefix(tile.Path(), "tile/8/")
		out[i] = get("/api/v1/audit/log/tile/"+path+"?tenant_id="+*tenant, true)
		t.fetched++
	}
	return out, nil
}

func (t *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func open(text string, verifiers note.Verifiers) checkpoint {
	n, err := note.Open([]byte(text), verifiers)
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint text: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("tree size %q: %v", lines[1], err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("root hash %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{lines[0], size, root}
}

func hash(hexText string) tlog.Hash {
	raw, err := hex.DecodeString(hexText)
	if err != nil || len(raw) != tlog.HashSize {
		fail("not a hash: %q", hexText)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

// entry returns leaf n's bytes from its entry bundle, as of a tree of size `size`.
func entry(n, size int64) []byte {
	index := n / 256
	width := size - index*256
	if width > 256 {
		width = 256
	}
	path := tlog.Tile{H: 8, L: 0, N: index, W: int(width)}.Path()
	bundle := get("/api/v1/audit/log/tile/entries/"+strings.TrimPrefix(path, "tile/8/0/")+"?tenant_id="+*tenant, true)
	for i := int64(0); len(bundle) >= 2; i++ {
		length := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+length {
			fail("entry bundle %d is truncated", index)
		}
		if i == n%256 {
			return bundle[2 : 2+length]
		}
		bundle = bundle[2+length:]
	}
	fail("entry bundle %d has no entry %d", index, n%256)
	return nil
}

func main() {
	flag.Parse()
	var keys struct {
		Origin string   `json:"origin"`
		Log    []string `json:"log"`
	}
	if err := json.Unmarshal(get("/api/v1/audit/log/verifier-keys?tenant_id="+*tenant, false), &keys); err != nil {
		fail("verifier keys: %v", err)
	}
	var verifiers []note.Verifier
	for _, vkey := range keys.Log {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			fail("note.NewVerifier(%q): %v", vkey, err)
		}
		verifiers = append(verifiers, v)
	}
	known := note.VerifierList(verifiers...)

	text := string(get("/api/v1/audit/log/checkpoint?tenant_id="+*tenant, true))
	cp := open(text, known)
	if cp.origin != keys.Origin {
		fail("origin %q, the keys say %q", cp.origin, keys.Origin)
	}
	fmt.Printf("ok note.Open verified the checkpoint of %s at size %d\n", cp.origin, cp.size)
	tampered := strings.Replace(text, "\n"+strconv.FormatInt(cp.size, 10)+"\n", "\n"+strconv.FormatInt(cp.size+1, 10)+"\n", 1)
	if _, err := note.Open([]byte(tampered), known); err == nil {
		fail("note.Open accepted an altered checkpoint")
	}
	fmt.Println("ok note.Open refused an altered checkpoint")

	reader := &tiles{}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, reader)
	th, err := tlog.TreeHash(cp.size, hr)
	if err != nil || th != cp.root {
		fail("TreeHash from the tiles: %v (%v, signed %v)", err, th, cp.root)
	}
	fmt.Printf("ok TileHashReader: the tiles rebuild the signed root (%d tiles read)\n", reader.fetched)

	for _, n := range []int64{0, cp.size / 2, cp.size - 1} {
		record := entry(n, cp.size)
		p, err := tlog.ProveRecord(cp.size, n, hr)
		if err != nil {
			fail("ProveRecord(%d): %v", n, err)
		}
		if err := tlog.CheckRecord(p, cp.size, cp.root, n, tlog.RecordHash(record)); err != nil {
			fail("CheckRecord(%d): %v", n, err)
		}
	}
	fmt.Println("ok ProveRecord/CheckRecord: entries of the first, middle and last leaves are in the tree")

	p, err := tlog.ProveTree(cp.size, *old, hr)
	if err != nil {
		fail("ProveTree: %v", err)
	}
	var older struct {
		Note string `json:"note"`
	}
	json.Unmarshal(get(fmt.Sprintf("/api/v1/audit/checkpoints/%d?tenant_id=%s", *old, *tenant), true), &older)
	oldCp := open(older.Note, known)
	if err := tlog.CheckTree(p, cp.size, cp.root, *old, oldCp.root); err != nil {
		fail("CheckTree(%d -> %d): %v", *old, cp.size, err)
	}
	fmt.Printf("ok ProveTree/CheckTree: the signed tree of %d leaves is a prefix of %d\n", *old, cp.size)

	var consistency struct {
		Proof     []string `json:"proof"`
		FirstRoot string   `json:"first_root"`
	}
	json.Unmarshal(get(fmt.Sprintf("/api/v1/audit/proofs/consistency?first=%d&second=%d&tenant_id=%s", *old, cp.size, *tenant), true), &consistency)
	var ours tlog.TreeProof
	for _, h := range consistency.Proof {
		ours = append(ours, hash(h))
	}
	if err := tlog.CheckTree(ours, cp.size, cp.root, *old, hash(consistency.FirstRoot)); err != nil {
		fail("CheckTree of our consistency proof: %v", err)
	}
	fmt.Println("ok CheckTree accepts our consistency proof route's answer")

	var proof struct {
		LeafIndex  int64    `json:"leaf_index"`
		TreeSize   int64    `json:"tree_size"`
		LeafHash   string   `json:"leaf_hash"`
		AuditPath  []string `json:"audit_path"`
		Checkpoint struct {
			Note string `json:"note"`
		} `json:"checkpoint"`
	}
	json.Unmarshal(get("/api/v1/audit/events/"+*id+"/proof?tenant_id="+*tenant, true), &proof)
	signed := open(proof.Checkpoint.Note, known)
	var path tlog.RecordProof
	for _, h := range proof.AuditPath {
		path = append(path, hash(h))
	}
	leaf := hash(proof.LeafHash)
	if err := tlog.CheckRecord(path, signed.size, signed.root, proof.LeafIndex, leaf); err != nil {
		fail("CheckRecord of our inclusion proof route's answer: %v", err)
	}
	if tlog.RecordHash(entry(proof.LeafIndex, signed.size)) != leaf {
		fail("the entry bundle's record does not hash to the proof's leaf")
	}
	fmt.Println("ok CheckRecord accepts our inclusion proof route's answer, and the entry hashes to its leaf")
}
