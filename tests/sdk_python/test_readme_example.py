"""The README's Python SDK example works as written against a running server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, LocalService

pytestmark = pytest.mark.e2e


def test_the_readme_example_runs(service: LocalService) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python SDK") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README's Python SDK section has an example"
    env = {
        **os.environ,
        "TOKEN": service.token("acme-readme", ["audit_writer", "audit_reader"], sub="alice"),
        "AUDITLOG_URL": service.url,
    }
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "written:" in done.stdout and "accepted" in done.stdout
    assert "verified at leaf" in done.stdout
    assert "invoice.update" in done.stdout, "the event was read back"
