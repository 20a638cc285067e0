"""``auditlog verify`` and ``auditlog verify-export``: check the signed log against the stored
events, or an export with its manifest offline, with the log's keys and a witness policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from auditlog.errors import ConfigurationError
from auditlog.settings import Settings

if TYPE_CHECKING:
    from auditlog.ledger.notes import WitnessPolicy


def add_commands(sub: Any) -> None:
    verify = sub.add_parser(
        "verify", help="recompute every leaf from the stored events and check the signed log"
    )
    verify.add_argument("--tenant", action="append", help="only this tenant (repeatable; default all)")
    verify.add_argument(
        "--since-checkpoint", help="a checkpoint JSON kept earlier: today's log must extend it"
    )
    verify.add_argument(
        "--public-key",
        action="append",
        help="a trusted Ed25519 key of the log, hex (repeatable, for keys retired by a rotation; "
        "default: the configured signing key and AUDITLOG_RETIRED_PUBLIC_KEYS)",
    )
    witness_arguments(verify)
    verify.set_defaults(run=_verify)

    verify_file = sub.add_parser("verify-export", help="check an export taken with manifest=true, offline")
    verify_file.add_argument("file", help="the NDJSON export with its manifest line")
    verify_file.add_argument(
        "--public-key",
        action="append",
        help="a trusted Ed25519 key of the log, hex (repeatable; default: the keys in the file)",
    )
    witness_arguments(verify_file)
    verify_file.set_defaults(run=_verify_export)


def witness_policy(command: str, args: argparse.Namespace) -> tuple[WitnessPolicy | None, int]:
    """(the policy of ``--witness``/``--quorum``, or None; 0) or (None, 2) after saying why."""
    from auditlog.ledger.notes import NoteError, WitnessPolicy

    if not args.witness:
        if args.quorum:
            print(f"{command}: --quorum needs --witness keys", file=sys.stderr)
            return None, 2
        return None, 0
    try:
        return WitnessPolicy.parse(args.witness, args.quorum), 0
    except NoteError as exc:
        print(f"{command}: --witness/--quorum: {exc}", file=sys.stderr)
        return None, 2


def public_keys(command: str, args: argparse.Namespace) -> list[bytes] | None:
    """The ``--public-key`` values as raw keys, or None after saying which is malformed."""
    keys = []
    for text in args.public_key or ():
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32:
            why = "is not an Ed25519 key (64 hex characters)"
            print(f"{command}: --public-key {text!r} {why}", file=sys.stderr)
            return None
        keys.append(key)
    return keys


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from auditlog.ledger.checkpoints import Checkpoint
    from auditlog.ledger.verify import verify_tenants
    from auditlog.runtime.tools import open_for_verification

    witnesses, failed = witness_policy("verify", args)
    keys = public_keys("verify", args)
    if failed or keys is None:
        return failed or 2
    since = None
    if args.since_checkpoint:
        try:
            since = Checkpoint.from_dict(orjson.loads(Path(args.since_checkpoint).read_bytes()))
        except (OSError, ValueError) as exc:
            print(f"verify: --since-checkpoint: {exc}", file=sys.stderr)
            return 2
    try:
        sources = open_for_verification(settings, keys)
    except ConfigurationError as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. DuckDB held by a running server
        print(
            f"verify: cannot open the stores ({type(exc).__name__}: {exc}); the embedded store "
            "is readable while no server writes to it: stop `auditlog serve` first",
            file=sys.stderr,
        )
        return 2
    try:
        tenants = args.tenant or sorted(sources.integrity.tenants())
        started = time.perf_counter()
        reports = list(
            verify_tenants(
                sources.store,
                sources.integrity,
                sources.public_keys,
                tenants,
                since=since,
                witnesses=witnesses,
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        sources.close()
    events = sum(r.events for r in reports)
    summary = {
        "ok": all(r.ok for r in reports),
        "tenants": [r.as_dict() for r in reports],
        "events_checked": events,
        "seconds": round(elapsed, 3),
        "events_per_second": round(events / elapsed) if elapsed > 0 else None,
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0 if summary["ok"] else 1


def _verify_export(settings: Settings, args: argparse.Namespace) -> int:
    from auditlog.ledger.manifest import verify_export

    witnesses, failed = witness_policy("verify-export", args)
    keys = public_keys("verify-export", args)
    if failed or keys is None:
        return failed or 2
    try:
        with open(args.file, "rb") as lines:
            check = verify_export(lines, keys, witnesses)
    except OSError as exc:
        print(f"verify-export: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(check.as_dict(), option=orjson.OPT_INDENT_2).decode())
    return 0 if check.ok else 1


def witness_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a witness's verifier key (C2SP vkey, cosignature type) that must have cosigned "
        "(repeatable); with it, a checkpoint lacking the quorum fails",
    )
    command.add_argument(
        "--quorum", type=int, help="how many of the --witness keys must have cosigned (default: all)"
    )
