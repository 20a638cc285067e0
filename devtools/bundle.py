"""`make bundle`: one deployable source folder per Cloud Function under build/functions/<name>/.

Each holds the function's main.py, a copy of the shared package (`auditlog/`, schema files
included) and requirements.txt (the runtime requirements, so Cloud Build installs exactly what
the service runs). Terraform zips each folder and names the object by the zip's MD5, so any code
change redeploys that function.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("ingest", "query", "retention", "writer")


def build(out: Path) -> list[Path]:
    built = []
    for name in FUNCTIONS:
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / name / "main.py", target / "main.py")
        shutil.copytree(
            ROOT / "shared" / "auditlog",
            target / "auditlog",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copy2(ROOT / "requirements.txt", target / "requirements.txt")
        built.append(target)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "functions")
    for path in build(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
