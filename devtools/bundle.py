"""One deployable source per Cloud Function: build/functions/<name>/ and build/functions/<name>.zip.

Each folder holds the function's main.py, a copy of the shared package (`auditlog/`, schema
files included) and a requirements.txt of its own: the service's runtime requirements without
the packages only the embedded backends import (DuckDB and its Arrow batches), so Cloud Build
installs less and instances start faster. tests/unit/test_terraform.py imports every bundle,
and the GCP runtime's backends, in a virtualenv holding only that bundle's requirements.

The zip is reproducible (entries sorted, fixed timestamps and modes), so its MD5 changes only
when a file does; Terraform names the uploaded object by it, and a code change redeploys that
function.

Terraform runs this during the plan (`data "external"` in terraform/modules/functions):
`python3 devtools/bundle.py --terraform` reads {"out": <dir>} on stdin and answers
{"<name>_zip": <path>, "<name>_md5": <hex>} on stdout, so what is deployed is always built
from the sources as they are; {"functions": "witness"} in the query builds only those named
(comma-separated; terraform/witness deploys the witness alone). `make bundle` builds them all for
a look. Standard library only: it runs under whatever python3 is next to terraform.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The log's five functions (terraform/modules/functions), and the witness, deployed on its own.
FUNCTIONS = ("ingest", "query", "retention", "streams", "writer")
WITNESS = "witness"
EVERY = (*FUNCTIONS, WITNESS)
# Imported only by the embedded backends (backends/duckdb_store.py): no GCP function loads them.
# duckdb and pyarrow are ~60 % of what the service's requirements install.
EMBEDDED_ONLY = frozenset({"duckdb", "pyarrow"})
EXCLUDED: dict[str, frozenset[str]] = {name: EMBEDDED_ONLY for name in EVERY}
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def requirement_name(line: str) -> str | None:
    """The normalised project name a requirements line installs (None for blanks, comments)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def requirements(function: str) -> str:
    """The function's requirements.txt: the service's, less what the function never imports."""
    kept = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if requirement_name(line) not in EXCLUDED[function]
    ]
    return "\n".join(kept) + "\n"


def build(out: Path, names: tuple[str, ...] = EVERY) -> list[Path]:
    built = []
    for name in names:
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / name / "main.py", target / "main.py")
        shutil.copytree(
            ROOT / "shared" / "auditlog",
            target / "auditlog",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (target / "requirements.txt").write_text(requirements(name))
        built.append(target)
    return built


def zip_folder(folder: Path, target: Path) -> str:
    """Write a reproducible zip of folder; return its MD5 (hex)."""
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(target)
    return hashlib.md5(target.read_bytes()).hexdigest()  # a content name, not security


def build_zips(out: Path, names: tuple[str, ...] = FUNCTIONS) -> dict[str, str]:
    """Build the bundles and their zips; the answer Terraform's external data source reads."""
    result = {}
    for folder in build(out, names):
        archive = out / f"{folder.name}.zip"
        result[f"{folder.name}_md5"] = zip_folder(folder, archive)
        result[f"{folder.name}_zip"] = str(archive.resolve())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "functions")
    parser.add_argument(
        "--terraform", action="store_true", help="the external data source protocol: JSON query in, JSON out"
    )
    args = parser.parse_args()
    if args.terraform:
        query = json.load(sys.stdin)
        names = tuple(n for n in (query.get("functions") or ",".join(FUNCTIONS)).split(",") if n)
        if unknown := set(names) - set(EVERY):
            sys.exit(f"bundle.py: no function named {', '.join(sorted(unknown))}")
        json.dump(build_zips(Path(query.get("out") or args.out), names), sys.stdout)
        return
    for key, value in build_zips(args.out, EVERY).items():
        print(f"{key}\t{value}")


if __name__ == "__main__":
    main()
