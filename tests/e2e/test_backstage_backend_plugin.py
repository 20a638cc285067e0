"""The Backstage backend plugin (plugins/audit-log-backend): reads and admin actions as the person.

`test_backend_plugin_checks` type-checks it (its own settings and a Backstage app's), checks its
formatting and runs its tests on @backstage/backend-test-utils (no server needed).

`test_two_users_through_backstage` is the whole chain: an audit log server that lists
`backstage-backend` as a delegate; a Backstage backend (backend-defaults' createBackend) running
the plugin with a platform service token; the frontend plugin's harness in headless Chromium,
signed in as alice (group billing-team, mapped to one tenant as reader, exporter and admin) and
then as bob (group identity-team, another tenant, reader only; the policy denies him export and
admin). Each sees their own tenant's events, on the page and on an entity tab; alice places and
releases a legal hold and runs a retention dry run; bob is refused an export and has no admin
tab. Then the log's own audit trail is read directly: every read and admin action names the
person (`user_id`), with `metadata.via` the backend's service identity.

The chain needs the API's delegation (X-Auditlog-Actor); against a server without it the test
skips and says so. Node, npm and Chromium as for test_backstage_plugin.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, LocalService, free_port, wait_for
from tests.e2e.helpers import client, new_tenant, post_batch, wait_ids, z
from tests.e2e.test_backstage_plugin import (
    RESULTS,
    _assert_ok,
    _events,
    _newest_first,
    _where,
    chromium,  # noqa: F401  (a fixture)
    install_locked,
    node,  # noqa: F401  (a fixture)
)
from tests.e2e.test_backstage_plugin import _run as _run_frontend

pytestmark = pytest.mark.e2e

BACKEND = ROOT / "plugins" / "audit-log-backend"
DELEGATE = "backstage-backend"
PLATFORM_TENANT = "auditlog-platform"
ALICE = "user:default/alice"
BOB = "user:default/bob"


def _run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=BACKEND, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


@pytest.fixture(scope="module")
def backend_node(node: str) -> str:  # noqa: F811
    """node, with the backend plugin's dependencies installed as its lockfile says."""
    install_locked(BACKEND, shutil.which("npm") or "npm")
    return node


def test_backend_plugin_checks(backend_node: str) -> None:
    tsc = [backend_node, "node_modules/typescript/bin/tsc", "--noEmit", "-p"]
    _assert_ok(_run([*tsc, "."], timeout=300), "tsc")
    _assert_ok(_run([*tsc, "tsconfig.backstage.json"], timeout=300), "tsc under a Backstage app's settings")
    prettier = [backend_node, "node_modules/prettier/bin-prettier.js", "--check", "."]
    _assert_ok(_run(prettier, timeout=120), "prettier --check (npm run format fixes it)")
    result = _run([backend_node, "node_modules/vitest/vitest.mjs", "run", "--reporter=verbose"],
                  env={"CI": "true", "NO_COLOR": "1"}, timeout=300)
    _assert_ok(result, "vitest (backend plugin)")
    assert " failed" not in result.stdout.split("Tests")[-1], result.stdout


# -- the whole chain ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def delegating_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """A server of this module's own that accepts delegation from `backstage-backend`."""
    svc = LocalService(
        tmp_path_factory.mktemp("delegation") / "data",
        env={"AUDITLOG_DELEGATE_SUBJECTS": json.dumps([DELEGATE])},
    )
    svc.start()
    yield svc
    svc.stop()


def _has_delegation(service: LocalService) -> bool:
    """A token that is no delegate, naming an actor, is refused naming the header where the API
    knows delegation; a server without it ignores the header and answers 200."""
    token = service.token("probe", ["audit_reader"], sub="not-a-delegate")
    answer = httpx.get(
        f"{service.url}/api/v1/audit/events",
        headers={"Authorization": f"Bearer {token}", "X-Auditlog-Actor": ALICE},
        timeout=10,
    )
    return answer.status_code == 403 and "X-Auditlog-Actor" in answer.text


def _identity_events(now: datetime) -> list[dict[str, Any]]:
    """The second tenant's events: other users, the same service names as the first."""
    events = []
    for i in range(12):
        service = ["identity", "billing"][i % 2]
        events.append({
            "audit_id": str(uuid.uuid4()),
            "timestamp": z(now - timedelta(minutes=100) + timedelta(minutes=7 * i)),
            "event_type": "user.login" if service == "identity" else "invoice.view",
            "user_id": ["zoe", "yann", "xena"][i % 3],
            "resource_type": "session" if service == "identity" else "invoice",
            "resource_id": f"r-{2000 + i}",
            "action": "create" if service == "identity" else "read",
            "service_name": service,
            "metadata": {"region": "eu"},
        })
    return events


def _seed(service: LocalService, tenant: str, events: list[dict[str, Any]]) -> None:
    with client(service, tenant, ["audit_writer"], sub="seed") as writer:
        answer = post_batch(writer, events)
        assert all(r["status"] == "accepted" for r in answer["results"]), answer
    with client(service, tenant, ["audit_reader"]) as reader:
        wait_ids(reader, [e["audit_id"] for e in events])


@contextmanager
def _backstage_backend(node: str, service: LocalService, setup: Path, log: Path) -> Iterator[str]:  # noqa: F811
    port = free_port()
    token = service.token(
        PLATFORM_TENANT, ["system_admin", "audit_admin", "audit_reader", "audit_export"], sub=DELEGATE
    )
    env = {
        **os.environ,
        "AUDITLOG_API_URL": service.url,
        "AUDITLOG_SERVICE_TOKEN": token,
        "AUDITLOG_E2E_SETUP": str(setup),
        "PORT": str(port),
        "NO_COLOR": "1",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, "node_modules/tsx/dist/cli.mjs", "dev/e2e-backend.ts"],
            cwd=BACKEND, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the Backstage backend exited:\n{log.read_text()[-5000:]}")
            try:
                return httpx.get(f"{url}/api/audit-log/me", timeout=2).status_code == 401
            except httpx.TransportError:
                return False

        wait_for(up, timeout=90, interval=0.25)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _self_audit(service: LocalService, tenant: str, event_type: str) -> list[dict[str, Any]]:
    with client(service, tenant, ["audit_admin"], sub="auditor") as auditor:
        answer = auditor.get("/api/v1/audit/events", params={
            "include_self_audit": "true", "event_type": event_type, "page_size": "1000",
        })
        assert answer.status_code == 200, answer.text
        events: list[dict[str, Any]] = answer.json()["events"]
        return events


def test_two_users_through_backstage(
    backend_node: str, chromium: str, delegating_service: LocalService,  # noqa: F811
    tmp_path: Path,
) -> None:
    service = delegating_service
    if not _has_delegation(service):
        pytest.skip("this server ignores X-Auditlog-Actor: the API's delegation is not on this branch yet")
    now = datetime.now(UTC)
    billing_tenant, identity_tenant = new_tenant("bs-billing"), new_tenant("bs-identity")
    alice_events, bob_events = _events(now), _identity_events(now)
    _seed(service, billing_tenant, alice_events)
    _seed(service, identity_tenant, bob_events)

    setup = {
        "groups": {ALICE: ["group:default/billing-team"], BOB: ["group:default/identity-team"]},
        "access": [
            {"tenant": billing_tenant, "members": ["group:default/billing-team"],
             "roles": ["audit_reader", "audit_export", "system_admin"]},
            {"tenant": identity_tenant, "members": ["group:default/identity-team"],
             "roles": ["audit_reader"]},
        ],
        "deny": {BOB: ["audit-log.events.export", "audit-log.admin"]},
        "entities": [
            {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
             "metadata": {"name": name, "namespace": "default",
                          "annotations": {"audit-log/service-name": name}}}
            for name in ("billing", "identity")
        ],
    }
    setup_path = tmp_path / "setup.json"
    setup_path.write_text(json.dumps(setup))
    hold_reason = f"case-{uuid.uuid4().hex[:8]}"
    manifest = {
        "users": [
            {"name": "alice", "ref": ALICE, "tenant": billing_tenant, "admin": True, "export": True,
             "ids": _newest_first(alice_events)[:50],
             "entity": {"service": "billing", "ids": _where(alice_events, service_name="billing")},
             "export_user": {"value": "alice", "ids": _where(alice_events, user_id="alice")}},
            {"name": "bob", "ref": BOB, "tenant": identity_tenant, "admin": False, "export": False,
             "ids": _newest_first(bob_events),
             "entity": {"service": "identity", "ids": _where(bob_events, service_name="identity")},
             "export_user": {"value": "zoe", "ids": _where(bob_events, user_id="zoe")}},
        ],
        "hold": {"reason": hold_reason, "user_id": "carol"},
    }
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest))

    RESULTS.mkdir(exist_ok=True)
    with _backstage_backend(backend_node, service, setup_path, tmp_path / "backstage.log") as backend_url:
        result = _run_frontend(
            [backend_node, "e2e/browser.mjs"],
            env={
                "AUDITLOG_BACKEND_URL": backend_url,
                "AUDITLOG_E2E_MANIFEST": str(manifest_path),
                "AUDITLOG_E2E_SCENARIO": "backend",
                "CHROMIUM_PATH": chromium,
                "RESULTS_DIR": str(RESULTS),
            },
            timeout=600,
        )
    _assert_ok(result, "browser scenario backend")
    assert "0 failed" in result.stdout, result.stdout

    # The log's own audit trail names the person, and the backend as the way they came.
    for tenant, person, other in ((billing_tenant, ALICE, BOB), (identity_tenant, BOB, ALICE)):
        searches = wait_for(lambda t=tenant, p=person: [
            e for e in _self_audit(service, t, "auditlog.events.search") if e["user_id"] == p
        ], timeout=20, interval=0.25)
        assert all((e["metadata"] or {}).get("via") == DELEGATE for e in searches), searches[:2]
        actors = {e["user_id"] for e in _self_audit(service, tenant, "auditlog.events.search")}
        assert DELEGATE not in actors and other not in actors, actors
    exports = _self_audit(service, billing_tenant, "auditlog.events.export")
    # The API records an export before its first byte (and again with its outcome).
    assert exports and {e["user_id"] for e in exports} == {ALICE}, exports
    assert all(e["metadata"]["via"] == DELEGATE for e in exports), exports
    assert _self_audit(service, identity_tenant, "auditlog.events.export") == []
    for action in ("auditlog.legal_hold.place", "auditlog.legal_hold.release"):
        records = wait_for(lambda a=action: _self_audit(service, billing_tenant, a), timeout=20)
        assert {e["user_id"] for e in records} == {ALICE}, records
        assert records[0]["metadata"]["via"] == DELEGATE
    # Log streams administered through the backend: in Alice's tenant, recorded as hers.
    for action in ("auditlog.stream.create", "auditlog.stream.pause", "auditlog.stream.resume",
                   "auditlog.stream.delete"):
        records = wait_for(lambda a=action: _self_audit(service, billing_tenant, a), timeout=20)
        assert {e["user_id"] for e in records} == {ALICE}, records
        assert records[0]["metadata"]["via"] == DELEGATE
    assert _self_audit(service, identity_tenant, "auditlog.stream.create") == []
    with client(service, billing_tenant, ["system_admin"], sub="auditor") as admin:
        holds = admin.get("/api/v1/admin/legal-holds").json()["holds"]
    hold = next(h for h in holds if h["reason"] == hold_reason)
    assert (hold["created_by"], hold["released_by"]) == (ALICE, ALICE), hold
