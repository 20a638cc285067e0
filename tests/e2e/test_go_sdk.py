"""The Go SDK (sdk/go) against the real local server: its own `go test` suite, whose live tests
(ingest, the batching logger under load, paging, export, errors, admin, integrity) run with the
server's URL and tokens minted here, and the README's quickstart program.

Go comes from Debian's golang-go (installed by devtools/system-deps.sh); the build runs offline
(GOPROXY=off: the module has no dependencies) with its caches under .stand-ins/go."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, LocalService

pytestmark = pytest.mark.e2e

SDK = ROOT / "sdk" / "go"
GO_HOME = ROOT / ".stand-ins" / "go"
INTEGRITY_SKIP = "integrity endpoints not in this server yet"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go is required under CI=true (Debian: apt-get install golang-go)")
        pytest.skip("go is not installed (Debian: apt-get install golang-go; `make test` installs it)")
    return go


def _go_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOCACHE": str(GO_HOME / "cache"),
        "GOPATH": str(GO_HOME / "path"),
        "GOTMPDIR": "",
        "CGO_ENABLED": "0",
    }
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path = SDK, timeout: float = 240) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{output}"
    return output


def _live_env(service: LocalService) -> dict[str, str]:
    tenant = f"go-sdk-{uuid.uuid4().hex[:10]}"
    return _go_env(
        AUDITLOG_TEST_URL=service.url,
        AUDITLOG_TEST_TENANT=tenant,
        AUDITLOG_TEST_TOKEN=service.token(tenant, ["audit_writer", "audit_reader", "audit_export"]),
        AUDITLOG_TEST_ADMIN_TOKEN=service.token("auditlog-platform", ["system_admin"], sub="go-admin"),
    )


def test_go_sdk_suite_against_the_running_server(service: LocalService) -> None:
    go = _go()
    env = _live_env(service)
    output = _run([go, "test", "-count=1", "-v", "-timeout", "180s", "./..."], env)
    # The live tests ran, not skipped: each says PASS, or SKIP only for the integrity reason.
    for name in [
        "TestLiveIngestGetAndDuplicates",
        "TestLiveBatchReportsEachEvent",
        "TestLiveLoggerUnderLoad",
        "TestLivePaging",
        "TestLiveExport",
        "TestLiveErrors",
        "TestLiveAdminAndHealth",
    ]:
        assert f"--- PASS: {name} " in output, f"{name} did not pass:\n{output}"
    # Servers without the integrity log skip these two with the agreed reason, and only these.
    for name in ["TestLiveIntegrity", "TestLiveLegalHoldsAndErasure"]:
        outcome = re.search(rf"--- (PASS|SKIP): {name} ", output)
        assert outcome, f"{name} neither passed nor skipped:\n{output}"
        if outcome.group(1) == "SKIP":
            reason = rf"=== RUN   {name}\n\s+live_test.go:\d+: {INTEGRITY_SKIP}"
            assert re.search(reason, output), output
    assert len(re.findall(r"--- SKIP: ", output)) <= 2, output
    failures = re.findall(r"--- FAIL: .*", output)
    assert not failures, output


def test_readme_quickstart_program_runs(service: LocalService, tmp_path: Path) -> None:
    go = _go()
    env = _go_env()
    binary = tmp_path / "quickstart"
    _run([go, "build", "-o", str(binary), "./examples/quickstart"], env)
    tenant = f"go-quickstart-{uuid.uuid4().hex[:8]}"
    token = service.token(tenant, ["audit_writer", "audit_reader"], sub="alice")
    output = _run([str(binary)], {**env, "AUDITLOG_URL": service.url, "TOKEN": token}, timeout=60)
    assert re.match(r"written: [0-9a-f-]{36} accepted\n", output), output


def test_readme_go_example_is_the_quickstart_program() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Go SDK", 1)[1]
    block = re.search(r"```go\n(.*?)```", section, re.S)
    assert block, "no Go example in the README's Go SDK section"
    program = (SDK / "examples" / "quickstart" / "main.go").read_text()
    body = re.search(r"^func main\(\) \{\n(.*?)^\}", program, re.S | re.M)
    assert body
    dedented = "".join(line.removeprefix("\t") for line in body.group(1).splitlines(keepends=True))
    assert block.group(1) == dedented, "the README's Go example and examples/quickstart differ"


def test_go_sources_are_formatted_and_vetted() -> None:
    go = _go()
    env = _go_env()
    gofmt = Path(go).resolve().parent / "gofmt"
    if gofmt.exists():
        unformatted = _run([str(gofmt), "-l", "."], env).strip()
        assert not unformatted, f"gofmt would change: {unformatted}"
    _run([go, "vet", "./..."], env)
