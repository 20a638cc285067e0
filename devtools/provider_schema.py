"""Terraform provider schemas, read from the prebuilt CDKTF bindings on the npm registry.

`terraform validate` needs the provider binaries, which the build machines cannot download
(only an AWS provider is mirrored). The npm packages `@cdktf/provider-google` and
`@cdktf/provider-google-beta` (16.12.1: google 6.50.0) are generated from the providers' own
schemas, as are the small ones for `time`, `external` and `random`. In each resource's folder:

- `lib/<name>/index.js` carries the Terraform type (`tfResourceType = "google_..."`) and, in
  `synthesizeHclAttributes()` and one `<struct>ToHclTerraform(struct)` function per nested block,
  every argument under its Terraform name with `isBlock: true|false`; a block's value names the
  function of its own arguments, which gives the tree.
- `lib/<name>/index.d.ts` declares the matching interfaces (`<Class>Config` for the top level,
  `<Struct>` for a block): a property without `?` is required.

`schema(types)` returns, for each `(provider, kind, type)`, a tree
``{"attributes": {name: {"required": bool}}, "blocks": {name: tree}}`` of what can be set
(computed-only attributes cannot), and at the top ``"exported"``: every attribute a reference
may read, computed ones included. The npm packages live in `.stand-ins/` (never in
git); `ensure_packages()` installs them with npm; extracted schemas are cached there as JSON.

`python -m devtools.provider_schema google_pubsub_subscription` prints one schema.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".stand-ins" / "tf-provider-schema"
# provider name in HCL -> npm package, pinned (the google ones are the 6.x provider's last build).
PACKAGES: dict[str, tuple[str, str]] = {
    "google": ("@cdktf/provider-google", "16.12.1"),  # hashicorp/google 6.50.0
    "google-beta": ("@cdktf/provider-google-beta", "16.12.1"),  # hashicorp/google-beta 6.50.0
    "time": ("@cdktf/provider-time", "11.0.1"),  # hashicorp/time 0.13.1
    "external": ("@cdktf/provider-external", "11.0.1"),  # hashicorp/external 2.3.5
    "random": ("@cdktf/provider-random", "12.0.1"),  # hashicorp/random 3.7.2
}

Tree = dict[str, Any]
_EXTRACTOR_VERSION = 2  # part of the cache key: bump when the extraction changes


class SchemaUnavailable(RuntimeError):
    """npm, or the registry, is not reachable: the packages could not be installed."""


def package_dir(provider: str) -> Path:
    name, _ = PACKAGES[provider]
    return CACHE / "npm" / "node_modules" / name


def ensure_packages() -> None:
    """Install the pinned packages into .stand-ins/ unless they are there already."""
    missing = [
        f"{name}@{version}"
        for provider, (name, version) in PACKAGES.items()
        if _installed_version(provider) != version
    ]
    if not missing:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SchemaUnavailable("npm is not installed")
    (CACHE / "npm").mkdir(parents=True, exist_ok=True)
    wanted = [f"{name}@{version}" for name, version in PACKAGES.values()]
    try:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save", *wanted],
            cwd=CACHE / "npm",
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise SchemaUnavailable(f"npm install {' '.join(missing)} failed: {detail[-500:]}") from exc


def _installed_version(provider: str) -> str | None:
    manifest = package_dir(provider) / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


def schema(types: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], Tree]:
    """The schemas of ``(provider, kind, type)`` triples, kind ``resource`` or ``data``."""
    key = hashlib.sha256(
        json.dumps([sorted(types), sorted(PACKAGES.items()), _EXTRACTOR_VERSION]).encode()
    ).hexdigest()[:16]
    cached = CACHE / f"schema-{key}.json"
    if cached.exists():
        stored = json.loads(cached.read_text())
        return {(a, b, c): v for k, v in stored.items() for a, b, c in [k.split("|")]}
    ensure_packages()
    out = {triple: _extract(*triple) for triple in sorted(types)}
    cached.write_text(json.dumps({"|".join(k): v for k, v in out.items()}, indent=1))
    return out


def _extract(provider: str, kind: str, tf_type: str) -> Tree:
    folder = _folder(provider, kind, tf_type)
    js = (folder / "index.js").read_text()
    dts = (folder / "index.d.ts").read_text()
    interfaces = _interfaces(dts)
    functions = _functions(js)
    cls = re.search(r"class (\w+) extends cdktf\.Terraform(?:Resource|DataSource) \{", js)
    top = re.search(r"synthesizeHclAttributes\(\) \{\s*const attrs = \{(.*?)\n\s*\};", js, re.S)
    if cls is None or top is None:
        raise ValueError(f"{tf_type}: no resource class in {folder}")
    tree = _tree(top.group(1), interfaces.get(f"{cls.group(1)}Config", {}), functions, interfaces)
    # Every top-level attribute another block may reference, computed ones included: the
    # resource class reads each by its Terraform name (getStringAttribute('host'), or
    # `new ...List(this, "server_ca_certs", ...)` for nested ones).
    body = js[cls.start() :]
    tree["exported"] = sorted(set(re.findall(r"(?:Attribute\(|\(this, )[\"'](\w+)[\"']", body)))
    return tree


def _folder(provider: str, kind: str, tf_type: str) -> Path:
    lib = package_dir(provider) / "lib"
    if provider == "google":
        stem = tf_type.removeprefix("google_")
    elif provider in ("time", "random"):
        stem = tf_type.split("_", 1)[1]
    else:
        stem = tf_type
    guess = lib / (("data-" if kind == "data" else "") + stem.replace("_", "-"))
    candidates = [
        guess,
        *sorted(lib.glob(guess.name + "-*")),
        *sorted(p for p in lib.iterdir() if p.is_dir()),
    ]
    for folder in candidates:
        js = folder / "index.js"
        if not js.exists():
            continue
        text = js.read_text()
        is_data = "extends cdktf.TerraformDataSource" in text
        if f'tfResourceType = "{tf_type}";' in text and is_data == (kind == "data"):
            return folder
    raise KeyError(f"{provider}: no {kind} {tf_type!r} in {lib}")


def _interfaces(dts: str) -> dict[str, dict[str, bool]]:
    """interface name -> {camelCase property: required}."""
    found: dict[str, dict[str, bool]] = {}
    for match in re.finditer(r"^export interface (\w+)[^{\n]*\{\n(.*?)^\}", dts, re.S | re.M):
        found[match.group(1)] = {
            p.group(1): p.group(2) != "?"
            for p in re.finditer(r"^    readonly (\w+)(\??):", match.group(2), re.M)
        }
    return found


def _functions(js: str) -> dict[str, str]:
    """struct function name -> the body of its attrs object."""
    found = {}
    for chunk in re.split(r"^(?=function )", js, flags=re.M):
        head = re.match(r"function (\w+)ToHclTerraform\(struct\) \{", chunk)
        body = re.search(r"const attrs = \{(\};|.*?\n    \};)", chunk, re.S)
        if head and body:
            # An empty block (`automatic_update_policy {}`) has `const attrs = {};`.
            found[head.group(1)] = body.group(1).removesuffix("};")
    return found


_ENTRY = re.compile(r"(\w+): \{\s*value: (.*?),\s*isBlock: (true|false),", re.S)
_SOURCE = re.compile(r"(?:struct!?\.|this\._)(\w+)")
_CHILD = re.compile(r"(?<![.\w])(\w+)ToHclTerraform\b")


def _tree(
    attrs: str,
    required: dict[str, bool],
    functions: dict[str, str],
    interfaces: dict[str, dict[str, bool]],
) -> Tree:
    tree: Tree = {"attributes": {}, "blocks": {}}
    for name, value, is_block in _ENTRY.findall(attrs):
        source = _SOURCE.search(value)
        needed = bool(source and required.get(source.group(1), False))
        if is_block == "false":
            tree["attributes"][name] = {"required": needed}
            continue
        child = _CHILD.search(value)
        if child is None or child.group(1) not in functions:
            raise ValueError(f"block {name}: no struct function in {value!r}")
        struct = child.group(1)
        sub = _tree(
            functions[struct], interfaces.get(struct[0].upper() + struct[1:], {}), functions, interfaces
        )
        sub["required"] = needed
        tree["blocks"][name] = sub
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("type", help="e.g. google_pubsub_subscription")
    parser.add_argument(
        "--provider", default=None, help="google (default for google_*), google-beta, time ..."
    )
    parser.add_argument("--data", action="store_true", help="a data source rather than a resource")
    args = parser.parse_args()
    provider = args.provider or args.type.split("_", 1)[0]
    try:
        found = schema({(provider, "data" if args.data else "resource", args.type)})
    except SchemaUnavailable as exc:
        sys.exit(str(exc))
    json.dump(next(iter(found.values())), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
