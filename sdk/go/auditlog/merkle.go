package auditlog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrVerification is matched (errors.Is) by every failed check of a proof, checkpoint or
// receipt; the error is a *VerificationError saying which.
var ErrVerification = errors.New("auditlog: verification failed")

// VerificationError is a proof, checkpoint or receipt that does not check out. It means the
// service's answer is wrong, not that the call failed: do not retry it away.
type VerificationError struct {
	AuditID string // when the check was about one event
	Reason  string
}

func (e *VerificationError) Error() string {
	if e.AuditID != "" {
		return fmt.Sprintf("auditlog: verification of %s failed: %s", e.AuditID, e.Reason)
	}
	return "auditlog: verification failed: " + e.Reason
}

// Is makes errors.Is(err, ErrVerification) true.
func (e *VerificationError) Is(target error) bool { return target == ErrVerification }

func failed(format string, args ...interface{}) error {
	return &VerificationError{Reason: fmt.Sprintf(format, args...)}
}

// HashLeaf is SHA-256(0x00 || leaf), RFC 9162 section 2.1.1.
func HashLeaf(leaf []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	return h.Sum(nil)
}

// HashChildren is SHA-256(0x01 || left || right), RFC 9162 section 2.1.1.
func HashChildren(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// EmptyRoot is the root of the tree of no leaves: SHA-256 of the empty string.
func EmptyRoot() []byte {
	sum := sha256.Sum256(nil)
	return sum[:]
}

// MerkleRoot is MTH (RFC 9162 section 2.1.1) of a list of leaf hashes, built a level at a time:
// pairs hashed left to right and an odd last node carried up unchanged, which is the same tree
// as splitting at the largest power of two below the size.
func MerkleRoot(leafHashes [][]byte) []byte {
	if len(leafHashes) == 0 {
		return EmptyRoot()
	}
	level := leafHashes
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, HashChildren(level[i], level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}

// LeafHash is the leaf hash of a committed record (docs/INTEGRITY.md): HashLeaf of its RFC 8785
// canonical form. record is the record's JSON text, e.g. the Record of an InclusionProof.
func LeafHash(record []byte) ([]byte, error) {
	leaf, err := CanonicalJSON(record)
	if err != nil {
		return nil, err
	}
	return HashLeaf(leaf), nil
}

// RootFromInclusion walks an inclusion path from the leaf at index in a tree of size leaves to
// the root it implies (RFC 9162 section 2.1.3.2).
func RootFromInclusion(index, size uint64, leafHash []byte, path [][]byte) ([]byte, error) {
	if index >= size {
		return nil, failed("leaf index %d is not below the tree size %d", index, size)
	}
	fn, sn := index, size-1
	r := leafHash
	for _, p := range path {
		if sn == 0 {
			return nil, failed("the inclusion path is longer than the tree is deep")
		}
		if fn&1 == 1 || fn == sn {
			r = HashChildren(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = HashChildren(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, failed("the inclusion path is shorter than the tree is deep")
	}
	return r, nil
}

// VerifyInclusion checks that leafHash is the leaf at index of the tree of size leaves whose
// root is root, by the inclusion path (RFC 9162 section 2.1.3.2).
func VerifyInclusion(index, size uint64, leafHash []byte, path [][]byte, root []byte) error {
	got, err := RootFromInclusion(index, size, leafHash, path)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, root) {
		return failed("the inclusion path leads to root %x, not %x", got, root)
	}
	return nil
}

// VerifyConsistency checks that the tree of size first with root firstRoot is a prefix of the
// tree of size second with root secondRoot, by the consistency proof (RFC 9162 section 2.1.4.2).
// Equal sizes need equal roots and an empty proof; the empty tree is a prefix of every tree.
func VerifyConsistency(first, second uint64, firstRoot, secondRoot []byte, proof [][]byte) error {
	switch {
	case first > second:
		return failed("first size %d is larger than second size %d", first, second)
	case first == second:
		if len(proof) != 0 {
			return failed("a proof between equal sizes must be empty")
		}
		if !bytes.Equal(firstRoot, secondRoot) {
			return failed("two roots of size %d differ", first)
		}
		return nil
	case first == 0:
		if len(proof) != 0 {
			return failed("a proof from the empty tree must be empty")
		}
		return nil
	case len(proof) == 0:
		return failed("the consistency proof is empty")
	}
	path := proof
	if first&(first-1) == 0 { // a power of two: the first root is the first node of the walk
		path = append([][]byte{firstRoot}, proof...)
	}
	fn, sn := first-1, second-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return failed("the consistency proof is too long")
		}
		if fn&1 == 1 || fn == sn {
			fr = HashChildren(c, fr)
			sr = HashChildren(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = HashChildren(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return failed("the consistency proof is too short")
	}
	if !bytes.Equal(fr, firstRoot) {
		return failed("the proof gives first root %x, not %x", fr, firstRoot)
	}
	if !bytes.Equal(sr, secondRoot) {
		return failed("the proof gives second root %x, not %x", sr, secondRoot)
	}
	return nil
}
