"""The integrity log: Merkle trees, leaves, checkpoints, the sequencer, proofs, verification."""
