package auditlog

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// The example of c2sp.org/signed-note: this vkey verifies this note.
const (
	specVkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
	specSig  = "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

func TestTheSpecificationsExampleVkeyAndSignature(t *testing.T) {
	key, err := ParseVerifierKey(specVkey)
	if err != nil || key.Name != "example.com/foo" || hex.EncodeToString(key.KeyID()) != "530d903a" {
		t.Fatalf("%+v %v", key, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.Fields(specSig)[2])
	if !ed25519.Verify(key.PublicKey, []byte("This is an example message.\n"), raw[4:]) {
		t.Fatal("the example signature does not verify")
	}
}

func line(name string, id, sig []byte) string {
	return "\u2014 " + name + " " + base64.StdEncoding.EncodeToString(append(append([]byte{}, id...), sig...)) + "\n"
}

func TestOpenCheckpointChecksTheLogAndTheWitnessQuorum(t *testing.T) {
	seed := make([]byte, 32)
	logPriv := ed25519.NewKeyFromSeed(seed)
	seed[0] = 1
	witPriv := ed25519.NewKeyFromSeed(seed)
	logKey := NoteKey{Name: "audit.example/log/acme", Type: sigEd25519, PublicKey: logPriv.Public().(ed25519.PublicKey)}
	witKey := NoteKey{Name: "w.example/1", Type: sigCosignature, PublicKey: witPriv.Public().(ed25519.PublicKey)}
	root := make([]byte, 32)
	text := "audit.example/log/acme\n7\n" + base64.StdEncoding.EncodeToString(root) + "\ntimestamp 2026-12-04T00:00:00.000000Z\n"
	note := text + "\n" + line(logKey.Name, logKey.KeyID(), ed25519.Sign(logPriv, []byte(text)))

	vkey := fmt.Sprintf("%s+%x+%s", witKey.Name, witKey.KeyID(), base64.StdEncoding.EncodeToString(append([]byte{sigCosignature}, witKey.PublicKey...)))
	policy, err := NewWitnessPolicy([]string{vkey}, -1)
	if err != nil || policy.Quorum != 1 {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(note, []NoteKey{logKey}, policy); err == nil {
		t.Fatal("a checkpoint without the quorum was accepted")
	}
	stamp := make([]byte, 8)
	binary.BigEndian.PutUint64(stamp, 1700000000)
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", 1700000000, text)
	cosigned := note + line(witKey.Name, witKey.KeyID(), append(stamp, ed25519.Sign(witPriv, []byte(msg))...))
	cp, err := OpenCheckpoint(cosigned, []NoteKey{logKey}, policy)
	if err != nil || cp.TreeSize != 7 || cp.Cosigners["w.example/1"] != 1700000000 {
		t.Fatalf("%+v %v", cp, err)
	}
	if _, err := OpenCheckpoint(strings.Replace(cosigned, "\n7\n", "\n8\n", 1), []NoteKey{logKey}, policy); err == nil {
		t.Fatal("an altered checkpoint was accepted")
	}
	json := Checkpoint{TenantID: "acme", TreeSize: 7, RootHash: hex.EncodeToString(root), Note: cosigned}
	if err := VerifyNote(json, map[string]ed25519.PublicKey{"k": logKey.PublicKey}, policy); err != nil {
		t.Fatal(err)
	}
	json.TreeSize = 8
	if err := VerifyNote(json, map[string]ed25519.PublicKey{"k": logKey.PublicKey}, policy); err == nil {
		t.Fatal("a note stating another tree was accepted")
	}
}
