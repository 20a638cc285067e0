"""What `terraform validate` would catch, checked without the provider binaries.

Every resource, data source and ephemeral block in terraform/ is compared with the provider's
published schema (devtools/provider_schema.py reads it from the prebuilt CDKTF bindings on npm,
`@cdktf/provider-google` 16.12.1 = google 6.50.0): an argument or nested block the provider does
not know, an attribute written as a block or a block as an attribute, and a missing required
argument all fail. Module calls are checked against the called module's variables; every
`var.`, `local.` and `module.<name>.<output>` reference against what is declared; and every
`<type>.<name>.<attribute>` reference against the resource's exported attributes.

Needs npm and the npm registry the first time (the packages are cached in .stand-ins/); skips
without them, except under CI=true.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from devtools import provider_schema
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

TF = ROOT / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=True)
META = {
    "resource": {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"},
    "data": {"count", "for_each", "provider", "depends_on", "lifecycle"},
    "ephemeral": {"count", "for_each", "provider", "depends_on", "lifecycle"},
}
LIFECYCLE = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
}
# Ephemeral resources are not in the CDKTF bindings. random_password's ephemeral form takes the
# resource's arguments except `keepers` (registry.terraform.io/providers/hashicorp/random/3.7.2/
# docs/ephemeral-resources/password).
EPHEMERAL_AS_RESOURCE = {"random_password": {"drop": {"keepers"}}}


def _parse(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return dict(hcl2.load(f, serialization_options=OPTIONS))


def _modules() -> dict[Path, dict[Path, dict[str, Any]]]:
    """Every folder holding .tf files (a module or the root) -> its parsed files."""
    found: dict[Path, dict[Path, dict[str, Any]]] = {}
    for path in sorted(TF.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        found.setdefault(path.parent, {})[path] = _parse(path)
    return found


MODULES = _modules()


def _require_or_skip(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def _blocks(kind: str) -> list[tuple[Path, str, str, dict[str, Any]]]:
    out = []
    for files in MODULES.values():
        for path, parsed in files.items():
            for group in parsed.get(kind, []):
                for tf_type, named in group.items():
                    if tf_type == "__is_block__":
                        continue
                    for name, body in named.items():
                        if name != "__is_block__":
                            out.append((path, tf_type, name, body))
    return out


def _provider(tf_type: str, body: dict[str, Any]) -> str:
    declared = str(body.get("provider", "")).removeprefix("${").removesuffix("}").split(".")[0]
    return declared or tf_type.split("_", 1)[0]


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _check(body: dict[str, Any], tree: dict[str, Any], where: str, meta: set[str]) -> list[str]:
    errors: list[str] = []
    given: set[str] = set()
    for key, value in body.items():
        if key.startswith("__"):  # the parser's own markers (__is_block__, __comments__)
            continue
        if key in meta:
            if key == "lifecycle":
                for block in value:
                    unknown = {k for k in block if not k.startswith("__")} - LIFECYCLE
                    errors += [f"{where}: lifecycle has no {u!r}" for u in sorted(unknown)]
            continue
        if key == "dynamic":
            for dyn in value:
                for name, spec in dyn.items():
                    if name.startswith("__"):
                        continue
                    if name not in tree["blocks"]:
                        errors.append(f"{where}: dynamic {name!r} is not a block of this type")
                        continue
                    given.add(name)
                    for content in spec.get("content", []):
                        errors += _check(content, tree["blocks"][name], f"{where}.{name}", set())
            continue
        given.add(key)
        if _is_block(value):
            if key not in tree["blocks"]:
                kind = "an argument, not a block" if key in tree["attributes"] else "unknown"
                errors.append(f"{where}: block {key!r} is {kind}")
                continue
            for item in value:
                errors += _check(item, tree["blocks"][key], f"{where}.{key}", set())
        elif key not in tree["attributes"]:
            kind = "a block, not an argument" if key in tree["blocks"] else "unknown"
            errors.append(f"{where}: argument {key!r} is {kind}")
    for name, spec in tree["attributes"].items():
        if spec["required"] and name not in given:
            errors.append(f"{where}: required argument {name!r} is missing")
    for name, spec in tree["blocks"].items():
        if spec.get("required") and name not in given:
            errors.append(f"{where}: required block {name!r} is missing")
    return errors


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    wanted = set()
    for kind in ("resource", "data"):
        for _, tf_type, _, body in _blocks(kind):
            wanted.add((_provider(tf_type, body), kind, tf_type))
    for _, tf_type, _, body in _blocks("ephemeral"):
        wanted.add((_provider(tf_type, body), "resource", tf_type))
    try:
        return provider_schema.schema(wanted)
    except provider_schema.SchemaUnavailable as exc:
        _require_or_skip(False, f"provider schemas unavailable: {exc}")
        raise


def test_every_resource_and_data_source_matches_the_provider_schema(
    schemas: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    errors: list[str] = []
    checked = 0
    for kind in ("resource", "data"):
        for path, tf_type, name, body in _blocks(kind):
            tree = schemas[(_provider(tf_type, body), kind, tf_type)]
            where = f"{path.relative_to(TF)}: {kind} {tf_type}.{name}"
            errors += _check(body, tree, where, META[kind])
            checked += 1
    for path, tf_type, name, body in _blocks("ephemeral"):
        tree = dict(schemas[(_provider(tf_type, body), "resource", tf_type)])
        drop = EPHEMERAL_AS_RESOURCE[tf_type]["drop"]
        tree["attributes"] = {k: v for k, v in tree["attributes"].items() if k not in drop}
        errors += _check(body, tree, f"{path.relative_to(TF)}: ephemeral {tf_type}.{name}", META["ephemeral"])
        checked += 1
    assert checked > 40
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_misspelt_and_misplaced_arguments(
    schemas: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    tree = provider_schema.schema({("google", "resource", "google_pubsub_subscription")})[
        ("google", "resource", "google_pubsub_subscription")
    ]
    good = {
        "name": "s",
        "topic": "t",
        "dead_letter_policy": [{"dead_letter_topic": "d", "__is_block__": True}],
    }
    assert _check(good, tree, "s", META["resource"]) == []
    misspelt = {**good, "ack_deadline_second": 10}
    misplaced = {"name": "s", "topic": "t", "dead_letter_topic": "d"}
    as_block = {**good, "labels": [{"a": "b", "__is_block__": True}]}
    missing = {"name": "s"}
    assert "unknown" in " ".join(_check(misspelt, tree, "s", META["resource"]))
    assert "'dead_letter_topic' is unknown" in " ".join(_check(misplaced, tree, "s", META["resource"]))
    assert "not a block" in " ".join(_check(as_block, tree, "s", META["resource"]))
    assert "required argument 'topic'" in " ".join(_check(missing, tree, "s", META["resource"]))


# -- module calls and references -------------------------------------------------------------


def _declared(files: dict[Path, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for parsed in files.values():
        for group in parsed.get(kind, []):
            out.update({k: v for k, v in group.items() if k != "__is_block__"})
    return out


def _locals(files: dict[Path, dict[str, Any]]) -> set[str]:
    return {k for parsed in files.values() for group in parsed.get("locals", []) for k in group} - {
        "__is_block__"
    }


def test_module_calls_pass_exactly_the_called_modules_variables() -> None:
    errors = []
    calls = 0
    for folder, files in MODULES.items():
        for name, call in _declared(files, "module").items():
            calls += 1
            target = (folder / str(call["source"])).resolve()
            assert target in MODULES, f"{folder}: module {name} source {call['source']} not found"
            variables = _declared(MODULES[target], "variable")
            meta = {"source", "version", "count", "for_each", "providers", "depends_on", "__is_block__"}
            for arg in set(call) - meta:
                if arg not in variables:
                    errors.append(f"{folder.relative_to(TF)}: module {name} has no variable {arg!r}")
            for var, spec in variables.items():
                if "default" not in spec and var not in call:
                    errors.append(f"{folder.relative_to(TF)}: module {name} needs {var!r}")
    assert calls >= 4
    assert not errors, "\n".join(errors)


def test_every_reference_names_something_declared() -> None:
    errors = []
    for folder, files in MODULES.items():
        variables = set(_declared(files, "variable"))
        local_names = _locals(files)
        modules = _declared(files, "module")
        outputs = {
            name: set(_declared(MODULES[(folder / str(call["source"])).resolve()], "output"))
            for name, call in modules.items()
        }
        for path in files:
            text = path.read_text()
            for var in set(re.findall(r"\bvar\.(\w+)", text)) - variables:
                errors.append(f"{path.relative_to(TF)}: var.{var} is not declared")
            for local in set(re.findall(r"\blocal\.(\w+)", text)) - local_names:
                errors.append(f"{path.relative_to(TF)}: local.{local} is not declared")
            for module, output in set(re.findall(r"\bmodule\.(\w+)\.(\w+)", text)):
                if module not in outputs:
                    errors.append(f"{path.relative_to(TF)}: module.{module} is not declared")
                elif output not in outputs[module]:
                    errors.append(f"{path.relative_to(TF)}: module.{module} has no output {output!r}")
    assert not errors, "\n".join(errors)


_REFERENCE = re.compile(
    r"(?<![\w.])(?:(data|ephemeral)\.)?((?:google|time|random)_\w+|external)\.([\w-]+)(?:\[[^\]]*\])?\.(\w+)"
)


def test_every_resource_attribute_referenced_exists(
    schemas: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    errors = []
    checked = 0
    for files in MODULES.values():
        declared: dict[tuple[str, str, str], dict[str, Any]] = {}
        for path in files:
            for block in ("resource", "data", "ephemeral"):
                for p, tf_type, name, body in _blocks(block):
                    if p == path:
                        declared[(block, tf_type, name)] = body
        for path in files:
            for prefix, tf_type, name, attribute in _REFERENCE.findall(path.read_text()):
                block = prefix or "resource"
                reference = ".".join(p for p in (prefix, tf_type, name, attribute) if p)
                where = f"{path.relative_to(TF)}: {reference}"
                body = declared.get((block, tf_type, name))
                if body is None:
                    errors.append(f"{where}: {tf_type}.{name} is not declared in this module")
                    continue
                kind = "data" if block == "data" else "resource"
                tree = schemas[(_provider(tf_type, body), kind, tf_type)]
                known = set(tree["exported"]) | set(tree["blocks"]) | {"id"}
                if attribute not in known:
                    errors.append(f"{where}: {tf_type} has no attribute {attribute!r}")
                checked += 1
    assert checked > 50
    assert not errors, "\n".join(errors)
