"""The ``auditlog`` command: run the local server, mint development tokens, and more."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

import orjson

from auditlog.errors import ConfigurationError
from auditlog.ledger.cli import add_commands as add_verify_commands
from auditlog.settings import Settings, get_settings
from auditlog.streams.cli import add_commands as add_stream_commands
from auditlog.witness.cli import add_commands as add_witness_commands

if TYPE_CHECKING:
    import httpx

ROLES = ("audit_reader", "audit_admin", "audit_writer", "audit_export", "system_admin")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from auditlog import logs
    from auditlog.server import LocalServer

    logs.configure(args.log_level.upper())
    url = f"http://{settings.host}:{settings.port}"
    identity = {
        "jwks": f"tokens from the OIDC issuer {settings.jwt_issuer}",
        "hs256": "development: HS256 tokens signed with AUDITLOG_JWT_HS256_SECRET",
        "development": "development: tokens from the local issuer, whose key is in the data dir "
        "(anyone who can read it can mint tokens)",
    }[settings.token_verifier]
    print(
        f"audit log serving on {url}  (data in {settings.data_dir.resolve()})\n"
        f"  identity:     {identity}\n"
        f"  get a token:  .venv/bin/auditlog token --tenant acme --roles audit_writer,audit_reader\n"
        f"  API document: {url}/openapi.json",
        flush=True,
    )
    uvicorn.run(
        LocalServer(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # The service applies its own trusted-hops rule to X-Forwarded-For (allowlist.py).
        proxy_headers=False,
    )
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from auditlog.auth.dev_issuer import DevIssuer

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        print(f"--roles: unknown role(s) {unknown}; choose from {', '.join(ROLES)}", file=sys.stderr)
        return 2
    issuer = DevIssuer(settings.data_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    print(issuer.issue(tenant_id=args.tenant, roles=roles, subject=args.sub, ttl_seconds=args.ttl))
    return 0


def _openapi(settings: Settings, args: argparse.Namespace) -> int:
    from auditlog.http.openapi import build_document
    from auditlog.http.routes import ROUTES

    document = orjson.dumps(build_document(ROUTES), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    sys.stdout.write(document.decode() + "\n")
    return 0


def _admin_request(
    settings: Settings,
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    json_body: bytes | None = None,
) -> httpx.Response:
    """Admin commands go through the running server (it owns the stores), as the platform's
    system_admin with a development token from the same data dir."""
    import httpx

    token = _dev_token(settings, settings.platform_tenant, ["system_admin"])
    headers = {"Authorization": f"Bearer {token}"}
    if json_body is not None:
        headers["Content-Type"] = "application/json"
    return httpx.request(
        method, f"{args.url}{path}", headers=headers, params=params, content=json_body, timeout=3600
    )


def _admin_call(
    settings: Settings,
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    json_body: bytes | None = None,
) -> int:
    response = _admin_request(settings, args, method, path, params=params, json_body=json_body)
    print(response.text)
    return 0 if response.is_success else 1


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    import threading
    import time

    # One request does the work server-side; say that it is running while it does.
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(5.0):
            print(f"retention: running, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    print(f"retention: {'dry run' if args.dry_run else 'deleting'} ...", file=sys.stderr, flush=True)
    threading.Thread(target=heartbeat, daemon=True).start()
    params = {"dry_run": "true" if args.dry_run else "false"}
    try:
        while True:  # a real run is bounded: run again while the sweep is partial
            response = _admin_request(settings, args, "POST", "/api/v1/audit/retention/run", params=params)
            print(response.text)
            if not response.is_success:
                return 1
            if args.dry_run or response.json().get("outcome") != "partial":
                return 0
    finally:
        done.set()
        print(f"retention: finished in {time.monotonic() - started:.1f} s", file=sys.stderr)


def _policy_show(settings: Settings, args: argparse.Namespace) -> int:
    return _admin_call(settings, args, "GET", f"/api/v1/admin/tenants/{args.tenant}/policy")


def _policy_set(settings: Settings, args: argparse.Namespace) -> int:
    """Replace the tenant's policy with the JSON document in --file (see `policy show`)."""
    with open(args.file, "rb") as handle:
        body = handle.read()
    return _admin_call(
        settings,
        args,
        "PUT",
        f"/api/v1/admin/tenants/{args.tenant}/policy",
        json_body=body,
    )


def _bootstrap_gcp(settings: Settings, args: argparse.Namespace) -> int:
    """Create the topic, subscriptions and events table in a dev or emulator project (Terraform
    creates them in real ones)."""
    from auditlog.runtime.tools import bootstrap_gcp

    bootstrap_gcp(
        settings,
        push_endpoint=args.push_endpoint,
        writer_subscription=args.writer_subscription,
        max_delivery_attempts=args.max_delivery_attempts,
        minimum_backoff_seconds=None if args.no_retry_policy else args.minimum_backoff_seconds,
    )
    print(
        f"bootstrapped project {settings.gcp_project}: topic {settings.pubsub_topic}, "
        f"table {settings.bigquery_dataset}.{settings.bigquery_table}"
    )
    return 0


def _dead_letter_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Publish archived dead letters to the events topic again (terraform/README.md, "Dead
    letters"), with the operator's credentials (AUDITLOG_GCP_PROJECT names the project)."""
    from datetime import UTC, datetime, timedelta

    from auditlog.runtime.tools import replay_dead_letters

    since = (
        datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        if args.since
        else datetime.now(UTC) - timedelta(days=args.days)
    )
    replayed = replay_dead_letters(
        settings,
        args.table,
        args.topic,
        since=since,
        message_ids=args.message_id or None,
        dry_run=args.dry_run,
    )
    for old, new in replayed:
        print(f"{old} -> {new or '(dry run)'}")
    dry = " (dry run)" if args.dry_run else ""
    print(f"dead-letter replay: {len(replayed)} message(s){dry}", file=sys.stderr)
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    """Streams an export from the server into a file, with progress on stderr."""
    import time

    import httpx

    token = args.token or _dev_token(settings, args.tenant, ["audit_export"])
    params: list[tuple[str, str | int | float | bool | None]] = [("format", args.format)]
    if args.manifest:
        params += [("manifest", "true"), ("proofs", "true")]
    for pair in args.param:
        name, _, value = pair.partition("=")
        params.append((name, value))
    started = time.monotonic()
    written = lines = 0
    last = 0.0
    with (
        httpx.stream(
            "GET",
            f"{args.url}/api/v1/audit/events/export",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=3600,
        ) as response,
    ):
        if response.is_error:
            response.read()
            print(response.text, file=sys.stderr)
            return 1
        with open(args.out, "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
                lines += chunk.count(b"\n")
                now = time.monotonic()
                if now - last >= 1.0:
                    last = now
                    rate = lines / max(now - started, 1e-9)
                    print(
                        f"export: {lines:,} lines, {written / 1e6:,.1f} MB, {rate:,.0f} lines/s",
                        file=sys.stderr,
                        flush=True,
                    )
    elapsed = time.monotonic() - started
    print(
        f"export: done, {lines:,} lines, {written / 1e6:,.1f} MB in {elapsed:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


def _dev_token(settings: Settings, tenant: str, roles: list[str]) -> str:
    from auditlog.auth.dev_issuer import DevIssuer

    issuer = DevIssuer(settings.data_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return issuer.issue(tenant_id=tenant, roles=roles, subject="auditlog-cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auditlog", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local server on the embedded backends")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_serve)

    token = sub.add_parser("token", help="print a development JWT the local server accepts")
    token.add_argument("--tenant", required=True, help="the tenant_id claim")
    token.add_argument("--roles", required=True, help=f"comma-separated: {', '.join(ROLES)}")
    token.add_argument("--sub", default="dev-user", help="the sub claim (user id)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    token.set_defaults(run=_token)

    bootstrap = sub.add_parser(
        "bootstrap-gcp", help="create the topic, subscriptions and events table (dev/emulators)"
    )
    bootstrap.add_argument("--push-endpoint", default=None, help="the writer's URL (push subscription)")
    bootstrap.add_argument("--writer-subscription", default="audit-events-writer")
    bootstrap.add_argument("--max-delivery-attempts", type=int, default=5)
    bootstrap.add_argument("--minimum-backoff-seconds", type=float, default=10.0)
    bootstrap.add_argument(
        "--no-retry-policy",
        action="store_true",
        help="redeliver at once (the Pub/Sub emulator loses a push subscription's retries otherwise)",
    )
    bootstrap.set_defaults(run=_bootstrap_gcp)

    dead = sub.add_parser("dead-letter", help="dead letters archived on GCP")
    dead_sub = dead.add_subparsers(dest="dead_letter_command", required=True)
    replay = dead_sub.add_parser("replay", help="publish archived dead letters to the events topic again")
    replay.add_argument("--table", required=True, help="PROJECT.DATASET.TABLE of the archive")
    replay.add_argument("--topic", required=True, help="the events topic (name or projects/P/topics/T)")
    replay.add_argument("--message-id", action="append", default=[], help="only this message (repeatable)")
    replay.add_argument("--since", help="RFC 3339: messages dead-lettered since (default: --days ago)")
    replay.add_argument("--days", type=int, default=30, help="how far back without --since (30)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    replay.set_defaults(run=_dead_letter_replay)

    add_verify_commands(sub)
    add_witness_commands(sub)
    add_stream_commands(sub)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)

    _add_data_commands(sub)
    _add_admin_commands(sub)
    return parser


def _add_data_commands(sub: Any) -> None:
    """Exports (verification: ledger/cli.py)."""
    export = sub.add_parser("export", help="stream an export into a file, with progress")
    export.add_argument("--tenant", required=True, help="the tenant (a development token is minted)")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--format", default="json", choices=["json", "csv"])
    export.add_argument("--manifest", action="store_true", help="with checkpoint, leaf indices and proofs")
    export.add_argument("--param", action="append", default=[], help="a filter, e.g. user_id=alice")
    export.add_argument("--token", default=None, help="a bearer token (default: a development one)")
    export.add_argument("--url", default=None, help="the server (default: the local one)")
    export.set_defaults(run=_export)


def _add_admin_commands(sub: Any) -> None:
    """Retention, policies (through the running server)."""
    retention = sub.add_parser("retention", help="retention commands")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_sub.add_parser("run", help="delete events past their retention now")
    run.add_argument("--dry-run", action="store_true", help="report what would be deleted")
    run.add_argument("--url", default=None, help="the server (default: the local one)")
    run.set_defaults(run=_retention)

    policy = sub.add_parser("policy", help="tenant policies (retention, rate limits, allowlist, PII)")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    show = policy_sub.add_parser("show", help="print a tenant's policy as JSON")
    show.add_argument("--tenant", required=True)
    show.add_argument("--url", default=None, help="the server (default: the local one)")
    show.set_defaults(run=_policy_show)
    put = policy_sub.add_parser("set", help="replace a tenant's policy with a JSON file")
    put.add_argument("--tenant", required=True)
    put.add_argument("--file", required=True, help="the policy as JSON (start from `policy show`)")
    put.add_argument("--url", default=None, help="the server (default: the local one)")
    put.set_defaults(run=_policy_set)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        print(f"auditlog: configuration: {exc}", file=sys.stderr)
        return 2
    # Files the CLI and the server create (stores, keys, exports) are the user's alone.
    os.umask(0o077)
    if getattr(args, "url", "") is None:
        args.url = f"http://{settings.host}:{settings.port}"
    result: int = args.run(settings, args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
