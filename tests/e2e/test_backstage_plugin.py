"""The Backstage plugin (plugins/audit-log) against the real server.

The type check and Prettier run on their own. The component tests (Vitest, jsdom) run with this
module's server and events in their environment, so their live block drives the real API client
against it. The browser tests build the plugin's harness page, serve it with Vite's proxy in
front of that server, and drive headless Chromium through it (playwright-core): filters, paging,
sorting, a detail, related-event links, exports, the entity tab. Screenshots land in
plugins/audit-log/test-results/.

Node 20.19+, npm and Chromium are needed; without them these tests skip with the reason, except
under CI=true, where that is a failure. `npm ci` runs only when node_modules is missing or the
lockfile changed since the last install (a stamp in node_modules records its hash), and then
from a per-user cache of installed trees when it has one for this lockfile (install_locked).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, LocalService, wait_for
from tests.e2e.helpers import COLUMNS, client, new_tenant, post_batch, wait_ids, z

pytestmark = pytest.mark.e2e

PLUGIN = ROOT / "plugins" / "audit-log"
RESULTS = PLUGIN / "test-results"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
MIN_NODE = (20, 19)


def _absent(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def _run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=PLUGIN,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _assert_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} exited {result.returncode}\n--- stdout ---\n{result.stdout[-20000:]}"
        f"\n--- stderr ---\n{result.stderr[-8000:]}"
    )


def install_locked(folder: Path, npm: str) -> None:
    """``folder/node_modules`` exactly as its lockfile says.

    A tree installed for a lockfile is kept in a per-user cache keyed by the lockfile's hash
    and hard-linked into the folder, so a fresh clone on a machine that ran the tests before
    (CI runs on the developer's machine) skips the install: ``npm ci`` of the two plugins takes
    about 5 minutes on 2 cores, linking the cached trees a few seconds. A stamp in node_modules
    records which lockfile it was made for.
    """
    stamp = folder / "node_modules" / ".lockfile-sha256"
    lock_hash = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == lock_hash:
        return
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "auditlog-node-modules"
    cached = cache_root / f"{folder.name}-{lock_hash[:16]}"
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cached / "node_modules" / ".lockfile-sha256").exists():
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir()
            for name in ("package.json", "package-lock.json", ".npmrc"):
                if (folder / name).exists():
                    shutil.copy2(folder / name, cached / name)
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=cached, capture_output=True, text=True,
                timeout=900, check=False,
            )
            _assert_ok(result, f"npm ci ({folder.name})")
            (cached / "node_modules" / ".lockfile-sha256").write_text(lock_hash + "\n")
    shutil.rmtree(folder / "node_modules", ignore_errors=True)
    linked = subprocess.run(["cp", "-al", str(cached / "node_modules"), str(folder / "node_modules")],
                            capture_output=True, check=False)
    if linked.returncode != 0:  # another file system: copy instead
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
        shutil.copytree(cached / "node_modules", folder / "node_modules", symlinks=True)


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the plugin's dependencies installed exactly as the lockfile says."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        _absent("node and npm are not installed (Node 20.19+ runs the plugin's tests)")
    assert node_bin is not None and npm_bin is not None
    version = subprocess.run([node_bin, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(part) for part in version.strip().lstrip("v").split(".")[:2])
    if (major, minor) < MIN_NODE:
        _absent(f"node {version.strip()} is older than {MIN_NODE[0]}.{MIN_NODE[1]} (Vite 8 needs it)")
    install_locked(PLUGIN, npm_bin)
    return node_bin


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    _absent("chromium is not installed (apt-get install chromium; make test does it)")
    raise AssertionError("unreachable")


def test_typecheck_and_format(node: str) -> None:
    """The plugin's own settings, then a Backstage app's: the create-app template's root tsconfig
    (Jest globals; tsconfig.backstage.json) and its Prettier (2.8 with Backstage's config)."""
    tsc = [node, "node_modules/typescript/bin/tsc", "--noEmit", "-p"]
    _assert_ok(_run([*tsc, "."], timeout=300), "tsc")
    _assert_ok(_run([*tsc, "tsconfig.backstage.json"], timeout=300), "tsc under a Backstage app's settings")
    prettier = [node, "node_modules/prettier/bin-prettier.js", "--check", "."]
    _assert_ok(_run(prettier, timeout=120), "prettier --check (npm run format fixes it)")


# -- the events the browser tests look at ---------------------------------------------------

USERS = ["alice", "bob", "carol", "dave", "erin"]
SERVICES = {
    "billing": [
        ("invoice.create", "invoice", "create"),
        ("invoice.update", "invoice", "update"),
        ("payment.refund", "payment", "refund"),
    ],
    "identity": [
        ("user.login", "session", "create"),
        ("role.grant", "role", "grant"),
        ("user.logout", "session", "delete"),
    ],
    "storage": [("object.read", "object", "read"), ("object.delete", "object", "delete")],
}
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
    "billing-worker/2.4.1 python-httpx/0.27",
]
REGIONS = ["eu", "us", "ap"]


def _events(now: datetime) -> list[dict[str, Any]]:
    """40 events over the last two hours: five users, three services, successes, failures and
    denials, requests grouped by correlation id, sessions, payloads and metadata."""
    events = []
    correlations = [f"req-{uuid.uuid4().hex[:12]}" for _ in range(14)]
    for i in range(40):
        service = list(SERVICES)[i % 3]
        event_type, resource_type, action = SERVICES[service][(i // 3) % len(SERVICES[service])]
        user = USERS[i % 5]
        status = "failure" if i % 7 == 3 else "denied" if i % 11 == 5 else "success"
        resource_id = f"{resource_type[:3]}-{1000 + i}"
        events.append(
            {
                "audit_id": str(uuid.uuid4()),
                "timestamp": z(now - timedelta(minutes=118) + timedelta(minutes=3 * i, seconds=i)),
                "event_type": event_type,
                "user_id": user,
                "session_id": f"sess-{user}-{i // 20}",
                "ip_address": f"10.20.{i % 4}.{10 + i}",
                "user_agent": AGENTS[i % 3],
                "resource_type": resource_type,
                "resource_id": resource_id,
                "action": action,
                "status": status,
                "request_data": {
                    "method": "POST" if action == "create" else "PUT",
                    "path": f"/api/{resource_type}s/{resource_id}",
                    "body": {"amount": round(12.5 * (i + 1), 2), "currency": "EUR"},
                },
                "response_data": {"status_code": {"success": 200, "failure": 500, "denied": 403}[status]},
                "metadata": {
                    "region": REGIONS[i % 3],
                    "plan": "enterprise" if i % 4 == 0 else "team",
                    "trace": {"span": f"{i:04x}"},
                },
                "service_name": service,
                "correlation_id": correlations[i // 3],
                "retention_period_days": 365,
            }
        )
    return events


def _newest_first(events: list[dict[str, Any]]) -> list[str]:
    return [e["audit_id"] for e in sorted(events, key=lambda e: e["timestamp"], reverse=True)]


def _where(events: list[dict[str, Any]], **match: Any) -> list[str]:
    chosen = [
        e
        for e in events
        if all(e[k] in v if isinstance(v, (set, tuple)) else e[k] == v for k, v in match.items())
    ]
    assert chosen, f"the dataset has no event with {match}"
    return _newest_first(chosen)


@pytest.fixture(scope="module")
def plugin_tenant(service: LocalService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tenant holding the dataset, a reader/exporter token for it, and the manifest file."""
    tenant = new_tenant("backstage")
    now = datetime.now(UTC)
    events = _events(now)
    with client(service, tenant, ["audit_writer"], sub="seed") as writer:
        answer = post_batch(writer, events)
        assert all(r["status"] == "accepted" for r in answer["results"]), answer
    token = service.token(tenant, ["audit_reader", "audit_export"], sub="backstage-e2e")
    with client(service, tenant, ["audit_reader"]) as reader:
        stored = wait_ids(reader, [e["audit_id"] for e in events])
    by_id = {e["audit_id"]: e for e in stored}
    detail = events[4]
    session_event = events[5]
    in_window = sorted(events, key=lambda e: e["timestamp"])[10:20]
    manifest = {
        "tenant": tenant,
        "columns": COLUMNS,
        "all_ids": _newest_first(events),
        "events_by_id": by_id,
        "page_size": 10,
        "user": {"value": "alice", "ids": _where(events, user_id="alice")},
        "user2": {"value": "bob", "ids": _where(events, user_id="bob")},
        "service": {"value": "billing", "ids": _where(events, service_name="billing")},
        "failed_in_service": {"ids": _where(events, service_name="billing", status={"failure", "denied"})},
        "denied_in_service": {"ids": _where(events, service_name="billing", status="denied")},
        "metadata": {
            "value": "ap",
            "ids": _newest_first([e for e in events if e["metadata"]["region"] == "ap"]),
        },
        "window": {
            "start": in_window[0]["timestamp"],
            "end": in_window[-1]["timestamp"],
            "ids": _newest_first(in_window[:-1]),
        },
        "correlation": {
            "detail_id": detail["audit_id"],
            "ids": _where(events, correlation_id=detail["correlation_id"]),
        },
        "session": {
            "detail_id": session_event["audit_id"],
            "ids": _where(events, session_id=session_event["session_id"]),
        },
    }
    path = tmp_path_factory.mktemp("backstage") / "manifest.json"
    path.write_text(json.dumps(manifest))
    return {"token": token, "manifest": path, "tenant": tenant}


def test_component_tests(service: LocalService, node: str, plugin_tenant: dict[str, Any]) -> None:
    """Vitest in jsdom; its live block runs the real client against this server's events."""
    result = _run(
        [node, "node_modules/vitest/vitest.mjs", "run", "--reporter=verbose"],
        env={
            "CI": "true",
            "NO_COLOR": "1",
            "AUDITLOG_API_URL": service.url,
            "AUDITLOG_TOKEN": plugin_tenant["token"],
            "AUDITLOG_E2E_MANIFEST": str(plugin_tenant["manifest"]),
        },
        timeout=600,
    )
    _assert_ok(result, "vitest")
    assert "against the real server" in result.stdout, result.stdout
    assert " skipped" not in result.stdout.split("Tests")[-1], result.stdout


def _browser(node: str, chromium: str, service: LocalService, tenant: dict[str, Any], scenario: str) -> str:
    RESULTS.mkdir(exist_ok=True)
    # A tenant admin for the Streams tab's steps (the explorer scenario's last ones).
    admin = service.token(tenant["tenant"], ["system_admin"], sub="backstage-e2e-admin")
    result = _run(
        [node, "e2e/browser.mjs"],
        env={
            "AUDITLOG_ADMIN_TOKEN": admin,
            "AUDITLOG_API_URL": service.url,
            "AUDITLOG_TOKEN": tenant["token"],
            "AUDITLOG_E2E_MANIFEST": str(tenant["manifest"]),
            "AUDITLOG_E2E_SCENARIO": scenario,
            "CHROMIUM_PATH": chromium,
            "RESULTS_DIR": str(RESULTS),
        },
        timeout=600,
    )
    _assert_ok(result, f"browser scenario {scenario}")
    assert "0 failed" in result.stdout, result.stdout
    return result.stdout


def test_explorer_in_browser(
    node: str, chromium: str, service: LocalService, plugin_tenant: dict[str, Any]
) -> None:
    out = _browser(node, chromium, service, plugin_tenant, "explorer")
    assert "ok - explorer lists the newest events first" in out
    assert "ok - streams tab: an admin sees a stream made through the API" in out
    assert (RESULTS / "explorer.png").stat().st_size > 10_000


def _has_operation(service: LocalService, operation_id: str) -> bool:
    document = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    return any(
        op.get("operationId") == operation_id
        for path in document.get("paths", {}).values()
        for op in path.values()
        if isinstance(op, dict)
    )


def test_integrity_panel_in_browser(
    node: str, chromium: str, service: LocalService, plugin_tenant: dict[str, Any]
) -> None:
    if not _has_operation(service, "getLatestCheckpoint"):
        pytest.skip("integrity endpoints not in this server yet")
    headers = {"Authorization": f"Bearer {plugin_tenant['token']}"}
    manifest = json.loads(Path(plugin_tenant["manifest"]).read_text())

    def sequenced() -> bool:
        latest = httpx.get(f"{service.url}/api/v1/audit/checkpoints/latest", headers=headers, timeout=10)
        return latest.status_code == 200 and latest.json()["tree_size"] >= len(manifest["all_ids"])

    wait_for(sequenced, timeout=60, interval=0.5)
    out = _browser(node, chromium, service, plugin_tenant, "integrity")
    assert "ok - an event inclusion proof verifies in the browser" in out
