"""The package's shape, as docs/ARCHITECTURE.md draws it: folders by stage, small modules and
functions, no import cycle, and each backend's client libraries imported only by its backends."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

PACKAGE = ROOT / "shared" / "auditlog"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
STAGES = ("model", "auth", "ports", "ingest", "write", "read", "ledger", "admin", "http")
# Client libraries of one backend family, and the only folder that may import them.
# Log streams deliver to the tenant's own Pub/Sub topic or Cloud Storage bucket: those senders
# are destinations, not the service's backends, and import the client libraries too.
_GCP_CLIENTS = ("backends/gcp", "streams/destinations/pubsub.py", "streams/destinations/gcs.py")
EXCLUSIVE_IMPORTS: dict[str, str | tuple[str, ...]] = {
    "google.cloud": _GCP_CLIENTS,
    "google.api_core": _GCP_CLIENTS,
    "redis": "backends/gcp",
    "grpc": "backends/gcp",
    "duckdb": "backends/embedded",
    "sqlite3": "backends/embedded",
}


def modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (not those under ``if TYPE_CHECKING``)."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not (
            isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        ):
            for inner in node.body + node.orelse:
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield inner
        elif isinstance(node, ast.Try):
            for inner in node.body:
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield inner


def imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    # `from auditlog.ledger import merkle` imports the module auditlog.ledger.merkle.
    return [base, *(f"{base}.{a.name}" for a in node.names)]


def all_imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from imported_names(node)


def test_the_folders_are_the_stages() -> None:
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
    for family in ("embedded", "gcp"):
        assert (PACKAGE / "backends" / family / "__init__.py").is_file(), family
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == [
        "__init__.py",
        "cli.py",
        "errors.py",
        "logs.py",
        "metrics.py",
        "server.py",
        "settings.py",
    ]


def test_no_module_is_over_500_lines_and_no_function_over_80() -> None:
    too_long: list[str] = []
    for path in modules():
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


def test_there_is_no_import_cycle_in_the_package() -> None:
    known = {module_name(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        deps: set[str] = set()
        for node in top_level_imports(ast.parse(path.read_text())):
            deps.update(n for n in imported_names(node) if n in known and n != name)
        graph[name] = deps
    # A package imports its __init__ first; edges to a package's own __init__ are not cycles.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_backend_libraries_are_imported_only_by_their_backends_and_runtime_picks_them() -> None:
    misplaced: list[str] = []
    for path in modules():
        where = path.relative_to(PACKAGE).as_posix()
        for name in all_imports(ast.parse(path.read_text())):
            for library, home in EXCLUSIVE_IMPORTS.items():
                if (name == library or name.startswith(library + ".")) and not where.startswith(home):
                    misplaced.append(f"{where} imports {name}")
            is_backend = name.startswith("auditlog.backends.")
            if is_backend and not (where.startswith(("backends/", "runtime/"))):
                misplaced.append(f"{where} imports {name} (only runtime/ chooses backends)")
    assert not misplaced, "\n".join(misplaced)


def test_ports_hold_interfaces_only() -> None:
    for path in sorted((PACKAGE / "ports").glob("*.py")):
        for name in all_imports(ast.parse(path.read_text())):
            assert not name.startswith("auditlog.backends"), f"{path.name} imports {name}"
