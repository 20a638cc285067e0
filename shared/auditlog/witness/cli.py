"""``auditlog witness serve`` and ``auditlog witness vkey``: the witness's commands, configured by
``AUDITLOG_WITNESS_*`` settings (the flags below override them)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from auditlog.errors import ConfigurationError
from auditlog.settings import Settings


def _configured(settings: Settings, args: argparse.Namespace) -> Settings:
    changes: dict[str, Any] = {}
    if args.name:
        changes["witness_name"] = args.name
    if args.log:
        changes["witness_logs"] = tuple(args.log)
    return settings.model_copy(update=changes) if changes else settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from auditlog import logs
    from auditlog.runtime.witness import build_witness
    from auditlog.witness.app import create_app

    logs.configure("INFO")
    try:
        witness = build_witness(_configured(settings, args))
    except ConfigurationError as exc:
        print(f"auditlog witness: configuration: {exc}", file=sys.stderr)
        return 2
    where = f"http://{settings.host}:{settings.port}"
    print(f"witness {witness.key.name} on {where}\n  vkey: {witness.key.vkey}", flush=True)
    uvicorn.run(
        create_app(witness), host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    return 0


def _vkey(settings: Settings, args: argparse.Namespace) -> int:
    from auditlog.runtime.witness import build_witness

    try:
        print(build_witness(_configured(settings, args)).key.vkey)
    except ConfigurationError as exc:
        print(f"auditlog witness: configuration: {exc}", file=sys.stderr)
        return 2
    return 0


def add_commands(sub: Any) -> None:
    witness = sub.add_parser("witness", help="a witness that cosigns other logs' checkpoints (C2SP)")
    commands = witness.add_subparsers(dest="witness_command", required=True)
    for name, run, text in (
        ("serve", _serve, "serve POST /add-checkpoint and GET /<origin hash>/checkpoint"),
        ("vkey", _vkey, "print the witness's cosignature verifier key"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--name", help="the witness's key name (AUDITLOG_WITNESS_NAME)")
        command.add_argument(
            "--log",
            action="append",
            help="a log to accept, '<origin or prefix/*> <vkey or hex key>' (AUDITLOG_WITNESS_LOGS)",
        )
        command.set_defaults(run=run)
