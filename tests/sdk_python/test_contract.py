"""Every operation of the OpenAPI document is implemented by the Python SDK (sync and async)
and by the Go SDK, except those listed with a reason in sdk/operations-not-covered.txt."""

from __future__ import annotations

import inspect
import re

import orjson
import pytest
from auditlog_sdk import AsyncClient, Client

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def _document_operations() -> set[str]:
    document = orjson.loads((ROOT / "openapi" / "openapi.json").read_bytes())
    return {op["operationId"] for path in document["paths"].values() for op in path.values()}


def _not_covered() -> dict[str, str]:
    path = ROOT / "sdk" / "operations-not-covered.txt"
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            assert reason.strip(), f"{name}: a reason is required"
            entries[name] = reason.strip()
    return entries


def _python(cls: type) -> set[str]:
    found = set()
    for _, member in inspect.getmembers(cls, inspect.isfunction):
        found |= set(re.findall(r"OpenAPI: (\w+)", member.__doc__ or ""))
    return found


def _go() -> set[str]:
    return {
        m
        for f in (ROOT / "sdk" / "go" / "auditlog").glob("*.go")
        if not f.name.endswith("_test.go")
        for m in re.findall(r"(?m)^// OpenAPI: (\w+)\s*$", f.read_text())
    }


@pytest.mark.parametrize("sdk", ["python", "python-async", "go"])
def test_every_operation_is_covered(sdk: str) -> None:
    wanted = _document_operations() - set(_not_covered())
    have = {"python": lambda: _python(Client), "python-async": lambda: _python(AsyncClient), "go": _go}[sdk]()
    assert wanted - have == set(), f"{sdk} lacks {sorted(wanted - have)}"
    assert have - _document_operations() == set(), f"{sdk} names operations the document lacks"
