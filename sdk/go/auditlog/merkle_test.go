package auditlog

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
)

// The reference below is RFC 9162 section 2.1 transcribed directly (MTH, PATH, PROOF and
// SUBPROOF as recursive definitions over the list of entries), sharing nothing with the SDK's
// iterative verifiers.

func refHash(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func largestPowerOfTwoBelow(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// mth is MTH(D[n]), RFC 9162 2.1.1.
func mth(d [][]byte) []byte {
	switch len(d) {
	case 0:
		return refHash()
	case 1:
		return refHash([]byte{0}, d[0])
	}
	k := largestPowerOfTwoBelow(len(d))
	return refHash([]byte{1}, mth(d[:k]), mth(d[k:]))
}

// path is PATH(m, D[n]), RFC 9162 2.1.3.1.
func path(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := largestPowerOfTwoBelow(len(d))
	if m < k {
		return append(path(m, d[:k]), mth(d[k:]))
	}
	return append(path(m-k, d[k:]), mth(d[:k]))
}

// subproof is SUBPROOF(m, D[n], b), RFC 9162 2.1.4.1.
func subproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{mth(d)}
	}
	k := largestPowerOfTwoBelow(n)
	if m <= k {
		return append(subproof(m, d[:k], b), mth(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), mth(d[:k]))
}

func entries(n int) [][]byte {
	d := make([][]byte, n)
	for i := range d {
		d[i] = []byte(fmt.Sprintf("entry %d", i))
	}
	return d
}

func flipped(hashes [][]byte, i int) [][]byte {
	out := make([][]byte, len(hashes))
	copy(out, hashes)
	out[i] = append([]byte(nil), hashes[i]...)
	out[i][i%len(out[i])] ^= 0x01
	return out
}

const maxTreeSize = 20

func TestHashesMatchTheRFC(t *testing.T) {
	if !bytes.Equal(HashLeaf([]byte("x")), refHash([]byte{0}, []byte("x"))) ||
		!bytes.Equal(HashChildren([]byte("l"), []byte("r")), refHash([]byte{1}, []byte("l"), []byte("r"))) ||
		!bytes.Equal(EmptyRoot(), mth(nil)) {
		t.Fatal("hash definitions differ from RFC 9162 2.1.1")
	}
}

func TestInclusionEveryLeafOfEverySize(t *testing.T) {
	d := entries(maxTreeSize + 1)
	for n := 1; n <= maxTreeSize; n++ {
		root := mth(d[:n])
		for m := 0; m < n; m++ {
			leaf := mth(d[m : m+1])
			p := path(m, d[:n])
			idx, size := uint64(m), uint64(n)
			if err := VerifyInclusion(idx, size, leaf, p, root); err != nil {
				t.Fatalf("n=%d m=%d: %v", n, m, err)
			}
			mustFail := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("n=%d m=%d: %s verified", n, m, what)
				}
			}
			mustFail("another leaf", VerifyInclusion(idx, size, mth(d[n:n+1]), p, root))
			mustFail("another root", VerifyInclusion(idx, size, leaf, p, mth(d[:n+1])))
			mustFail("index = size", VerifyInclusion(size, size, leaf, p, root))
			mustFail("a path one longer", VerifyInclusion(idx, size, leaf, append(append([][]byte(nil), p...), root), root))
			mustFail("the proof against the next size's root", VerifyInclusion(idx, size+1, leaf, p, mth(d[:n+1])))
			if m < n-1 {
				mustFail("the proof against the previous size's root", VerifyInclusion(idx, size-1, leaf, p, mth(d[:n-1])))
			}
			if n > 1 {
				mustFail("another index", VerifyInclusion(uint64((m+1)%n), size, leaf, p, root))
				mustFail("a path one shorter", VerifyInclusion(idx, size, leaf, p[:len(p)-1], root))
				for i := range p {
					mustFail(fmt.Sprintf("path[%d] altered", i), VerifyInclusion(idx, size, leaf, flipped(p, i), root))
				}
			} else if len(p) != 0 {
				t.Fatal("a one-leaf tree has an empty path")
			}
		}
	}
}

func TestConsistencyEveryPairOfSizes(t *testing.T) {
	d := entries(maxTreeSize + 1)
	for n := 0; n <= maxTreeSize; n++ {
		second := mth(d[:n])
		for m := 0; m <= n; m++ {
			first := mth(d[:m])
			var proof [][]byte
			if m > 0 {
				proof = subproof(m, d[:n], true)
			}
			fs, ss := uint64(m), uint64(n)
			if err := VerifyConsistency(fs, ss, first, second, proof); err != nil {
				t.Fatalf("m=%d n=%d: %v", m, n, err)
			}
			mustFail := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("m=%d n=%d: %s verified", m, n, what)
				}
			}
			if m == 0 {
				continue // the empty tree is a prefix of every tree, whatever its root
			}
			mustFail("another second root", VerifyConsistency(fs, ss, first, mth(d[:n+1]), proof))
			mustFail("another first root", VerifyConsistency(fs, ss, mth(d[1:m+1]), second, proof))
			mustFail("a proof one longer", VerifyConsistency(fs, ss, first, second, append(append([][]byte(nil), proof...), first)))
			if m == n {
				continue
			}
			mustFail("sizes swapped", VerifyConsistency(ss, fs, second, first, proof))
			mustFail("an empty proof", VerifyConsistency(fs, ss, first, second, nil))
			mustFail("a proof one shorter", VerifyConsistency(fs, ss, first, second, proof[:len(proof)-1]))
			mustFail("the proof against the next second size", VerifyConsistency(fs, ss+1, first, mth(d[:n+1]), proof))
			if m > 1 {
				mustFail("the proof from the previous first size", VerifyConsistency(fs-1, ss, mth(d[:m-1]), second, proof))
			}
			for i := range proof {
				mustFail(fmt.Sprintf("proof[%d] altered", i), VerifyConsistency(fs, ss, first, second, flipped(proof, i)))
			}
		}
	}
}
