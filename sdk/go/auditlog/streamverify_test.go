package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata/stream_fixture.json and testdata/stream_store are batches the service's own code made
// (testdata/make_stream_fixture.py), clean and tampered; what each case must give is here.

type streamFixture struct {
	PublicKey      string                   `json:"public_key"`
	OtherPublicKey string                   `json:"other_public_key"`
	WitnessVkey    string                   `json:"witness_vkey"`
	Cases          map[string][]StreamBatch `json:"cases"`
}

type streamExpectation struct {
	problem string     // one problem contains it; "": the stream checks out
	gaps    [][2]int64 // the gaps named
	root    uint64     // the size the root was checked at (the leaf hashes hold); 0: not checked
	resent  int
}

const badCheckpoint = "batch 3-5: its checkpoint does not verify with the log's key"

var streamExpectations = map[string]streamExpectation{
	"clean":                       {root: 10},
	"cosigned":                    {root: 10},
	"resent_identical":            {root: 10, resent: 5},
	"started_later":               {},
	"gap":                         {problem: "leaves 3 to 5 are missing", gaps: [][2]int64{{3, 5}}},
	"reordered":                   {problem: "batch 0-2: leaf 0 is out of place"},
	"reordered_indices_rewritten": {problem: "the leaves do not rebuild the signed root of the checkpoint of size 10"},
	"altered_event":               {problem: "leaf 0 (00000000-0000-4000-8000-000000000000) does not hash to its leaf", root: 10},
	"altered_omitted_hash":        {problem: "the leaves do not rebuild the signed root of the checkpoint of size 10"},
	"bad_signature":               {problem: badCheckpoint, root: 10},
	"other_signer":                {problem: badCheckpoint, root: 10},
	"note_by_other_signer":        {problem: badCheckpoint, root: 10},
	"checkpoint_too_small":        {problem: "batch 3-5: its checkpoint does not cover it", root: 10},
	"checkpoint_other_tenant":     {problem: "batch 3-5: its checkpoint does not cover it", root: 10},
	"resent_different":            {problem: "leaves 3-5 came twice with different contents", resent: 1, root: 10},
	"leaf_dropped":                {problem: "batch 0-2 holds 2 leaves"},
	"overlap":                     {problem: "batch 2-4 overlaps leaves already received", root: 10},
	"two_streams":                 {problem: "batches of 2 streams: check one stream at a time", root: 10},
	"not_an_object":               {problem: "batch 0-2: leaf 1 is not a JSON object"},
}

func loadStreamFixture(t *testing.T) (streamFixture, ed25519.PublicKey) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "stream_fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f streamFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f, mustKey(t, f.PublicKey)
}

func mustKey(t *testing.T, h string) ed25519.PublicKey {
	t.Helper()
	key, err := hex.DecodeString(h)
	if err != nil || len(key) != ed25519.PublicKeySize {
		t.Fatalf("key %q", h)
	}
	return key
}

func hasProblem(r StreamReport, text string) bool {
	for _, p := range r.Problems {
		if strings.Contains(p, text) {
			return true
		}
	}
	return false
}

func TestVerifyStreamOnTheServicesBatches(t *testing.T) {
	f, key := loadStreamFixture(t)
	for name := range f.Cases {
		if _, ok := streamExpectations[name]; !ok {
			t.Errorf("fixture case %q has no expectation", name)
		}
	}
	for name, want := range streamExpectations {
		batches, ok := f.Cases[name]
		if !ok {
			t.Errorf("no fixture case %q (run testdata/make_stream_fixture.py)", name)
			continue
		}
		r, err := VerifyStream(batches, StreamVerifyOptions{Keys: []ed25519.PublicKey{key}})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.OK != (want.problem == ""):
			t.Errorf("%s: ok %v: %q", name, r.OK, r.Problems)
		case want.problem != "" && !hasProblem(r, want.problem):
			t.Errorf("%s: %q not among %q", name, want.problem, r.Problems)
		case !reflect.DeepEqual(r.Gaps, want.gaps) || r.Resent != want.resent:
			t.Errorf("%s: gaps %v resent %d", name, r.Gaps, r.Resent)
		case (want.root == 0) != (r.RootCheckedAt == nil) || (r.RootCheckedAt != nil && *r.RootCheckedAt != want.root):
			t.Errorf("%s: root checked at %v, want %d", name, r.RootCheckedAt, want.root)
		}
	}
}

func TestACleanStreamIsCountedWhole(t *testing.T) {
	f, key := loadStreamFixture(t)
	r, err := VerifyStream(f.Cases["clean"], StreamVerifyOptions{Keys: []ed25519.PublicKey{key}})
	if err != nil || !r.OK || r.Batches != 4 || r.Leaves != 10 || *r.FirstLeafIndex != 0 || *r.LastLeafIndex != 9 ||
		r.HashesRecomputed != 6 || len(r.StreamIDs) != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	later, _ := VerifyStream(f.Cases["started_later"], StreamVerifyOptions{Keys: []ed25519.PublicKey{key}})
	if *later.FirstLeafIndex != 3 || *later.LastLeafIndex != 9 || later.RootCheckedAt != nil {
		t.Fatalf("%+v", later)
	}
}

func TestVerifyStreamUnderAWitnessPolicy(t *testing.T) {
	f, key := loadStreamFixture(t)
	policy, err := NewWitnessPolicy([]string{f.WitnessVkey}, -1)
	if err != nil {
		t.Fatal(err)
	}
	opts := StreamVerifyOptions{Keys: []ed25519.PublicKey{key}, Witnesses: policy}
	if r, _ := VerifyStream(f.Cases["clean"], opts); r.OK || !hasProblem(r, "its checkpoint lacks the quorum of 1 witness cosignatures") {
		t.Fatalf("uncosigned checkpoints accepted: %+v", r)
	}
	if r, _ := VerifyStream(f.Cases["cosigned"], opts); !r.OK || *r.RootCheckedAt != 10 {
		t.Fatalf("%+v", r)
	}
}

func TestVerifyStreamKeys(t *testing.T) {
	f, key := loadStreamFixture(t)
	other := mustKey(t, f.OtherPublicKey)
	if r, _ := VerifyStream(f.Cases["clean"], StreamVerifyOptions{Keys: []ed25519.PublicKey{other}}); r.OK {
		t.Fatal("checkpoints by an untrusted key accepted")
	}
	if r, _ := VerifyStream(f.Cases["clean"], StreamVerifyOptions{Keys: []ed25519.PublicKey{other, key}}); !r.OK {
		t.Fatalf("a rotation's keys: %q", r.Problems)
	}
	for _, keys := range [][]ed25519.PublicKey{nil, {key[:31]}} {
		if _, err := VerifyStream(f.Cases["clean"], StreamVerifyOptions{Keys: keys}); err == nil {
			t.Errorf("keys %v accepted", keys)
		}
	}
}

func TestReadStreamBatchesReadsWhatReceiversStore(t *testing.T) {
	_, key := loadStreamFixture(t)
	batches, err := ReadStreamBatches(filepath.Join("testdata", "stream_store"))
	if err != nil || len(batches) != 7 { // webhook: 2 and a test delivery; ndjson: 2; gcs: 2
		t.Fatalf("%d batches: %v", len(batches), err)
	}
	r, err := VerifyStream(batches, StreamVerifyOptions{Keys: []ed25519.PublicKey{key}})
	if err != nil || !r.OK || r.Batches != 6 || r.Resent != 2 || *r.RootCheckedAt != 10 || r.HashesRecomputed != 6 {
		t.Fatalf("%+v %v", r, err)
	}
	objects, _ := filepath.Glob(filepath.Join("testdata", "stream_store", "gcs", "*", "*.ndjson.gz"))
	gcs, err := ReadStreamBatches(objects[0])
	if err != nil || len(gcs) != 1 || gcs[0].FirstLeafIndex != 6 || len(gcs[0].Events) != 3 || gcs[0].Checkpoint.TreeSize != 10 {
		t.Fatalf("%+v %v", gcs, err)
	}
}

func TestReadStreamBatchesRefusesWhatIsNotABatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"events": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStreamBatches(dir); err == nil || !strings.Contains(err.Error(), "not a stream batch") {
		t.Fatalf("%v", err)
	}
	if _, err := ReadStreamBatches(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing path read")
	}
}

func TestMerkleRootIsRFC9162sTreeHash(t *testing.T) {
	for n := 0; n <= 20; n++ {
		d := entries(n)
		leaves := make([][]byte, n)
		for i := range d {
			leaves[i] = HashLeaf(d[i])
		}
		if got := MerkleRoot(leaves); hex.EncodeToString(got) != hex.EncodeToString(mth(d)) {
			t.Errorf("size %d: %x, want %x", n, got, mth(d))
		}
	}
}
