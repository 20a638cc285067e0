"""``auditlog stream-verify``: check, offline, what a stream's receiver stored (docs/STREAMS.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from auditlog.settings import Settings


def add_commands(sub: Any) -> None:
    from auditlog.ledger.cli import witness_arguments

    command = sub.add_parser(
        "stream-verify", help="check a stream receiver's files: contiguous leaves, hashes, checkpoints"
    )
    command.add_argument("path", help="a file or directory of delivered batches (webhook, GCS)")
    command.add_argument(
        "--public-key",
        action="append",
        required=True,
        help="a trusted Ed25519 key of the log, hex (repeatable, for keys retired by a rotation)",
    )
    witness_arguments(command)
    command.set_defaults(run=_stream_verify)


def _stream_verify(settings: Settings, args: argparse.Namespace) -> int:
    from auditlog.ledger.checkpoints import key_id_of
    from auditlog.ledger.cli import public_keys, witness_policy
    from auditlog.streams.verify import read_batches, verify_stream

    witnesses, failed = witness_policy("stream-verify", args)
    keys = public_keys("stream-verify", args)
    if failed or keys is None:
        return failed or 2
    path = Path(args.path)
    if not path.exists():
        print(f"stream-verify: {path} does not exist", file=sys.stderr)
        return 2
    try:
        check = verify_stream(read_batches(path), {key_id_of(k): k for k in keys}, witnesses)
    except (OSError, ValueError, KeyError) as exc:
        print(f"stream-verify: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(check.as_dict(), option=orjson.OPT_INDENT_2).decode())
    return 0 if check.ok else 1
