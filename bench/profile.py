"""Optional server profiling with py-spy: one collapsed-stack file per phase and a summary of the
functions that dominate it (self time of leaf frames, inclusive time of the service's own code)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, out_dir: Path, enabled: bool) -> None:
        self.pid = pid
        self.out_dir = out_dir
        self.py_spy = find_py_spy() if enabled else None
        self.summaries: dict[str, Any] = {}
        self.problem: str | None = None
        if enabled and self.py_spy is None:
            self.problem = "py-spy is not installed (.venv/bin/pip install py-spy)"

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self.py_spy is None or self.problem:
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"profile-{name}.txt"
        proc = subprocess.Popen(
            [
                self.py_spy,
                "record",
                "-p",
                str(self.pid),
                "-o",
                str(path),
                "-f",
                "raw",
                "-r",
                "100",
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            yield
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if path.exists():
                self.summaries[name] = summarize(path)
            else:
                self.problem = f"py-spy wrote nothing: {err.decode(errors='replace').strip()[-300:]}"


def _label(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "shared/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['func']} ({file})"


def summarize(path: Path, top: int = 12) -> dict[str, Any]:
    """Leaf-frame self time and inclusive time of ``auditlog`` frames, as % of samples."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_label(f) for f in stack.split(";") if f]
        if frames:
            self_time[frames[-1]] += n
        for frame in set(frames):
            if "auditlog/" in frame and "auditlog/cli.py" not in frame:
                inclusive[frame] += n
    if not total:
        return {"samples": 0, "self": [], "auditlog_inclusive": []}

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    return {"samples": total, "self": share(self_time), "auditlog_inclusive": share(inclusive)}
