"""Small shared pieces: progress on stderr, percentiles, a keep-alive HTTP client, RSS, machine."""

from __future__ import annotations

import http.client
import os
import platform
import resource
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent


# -- progress ---------------------------------------------------------------------------------


class Progress:
    """One status line on stderr, rewritten in place on a terminal, throttled lines elsewhere."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._quiet = quiet
        self._last = 0.0
        self._phase = ""
        self._started = time.monotonic()
        # Re-entrant: a signal handler raising SystemExit must not leave the final lines stuck.
        self._lock = threading.RLock()

    def _elapsed(self) -> str:
        s = int(time.monotonic() - self._started)
        return f"{s // 60:02d}:{s % 60:02d}"

    def phase(self, name: str) -> None:
        with self._lock:
            self._phase = name
            self._last = 0.0
            if self._quiet:
                return
            if self._tty:
                self._stream.write("\r\x1b[K")
            self._stream.write(f"[{self._elapsed()}] {name} ...\n")
            self._stream.flush()

    def update(self, text: str, *, force: bool = False) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < (0.25 if self._tty else 10.0):
                return
            self._last = now
            line = f"[{self._elapsed()}] {self._phase}: {text}"
            if self._tty:
                self._stream.write("\r\x1b[K" + line[:200])
            else:
                self._stream.write(line + "\n")
            self._stream.flush()

    def done(self, text: str) -> None:
        with self._lock:
            if self._quiet:
                return
            if self._tty:
                self._stream.write("\r\x1b[K")
            self._stream.write(f"[{self._elapsed()}] {self._phase}: {text}\n")
            self._stream.flush()

    def note(self, text: str) -> None:
        with self._lock:
            if self._tty:
                self._stream.write("\r\x1b[K")
            self._stream.write(f"[{self._elapsed()}] note: {text}\n")
            self._stream.flush()


# -- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds, and the sample count."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
        "samples": len(ms),
    }


# -- HTTP -------------------------------------------------------------------------------------


class Http:
    """A keep-alive HTTP/1.1 connection (one per thread) that reconnects after a failure.
    The standard library's client: the least client-side work per request in pure Python."""

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._conn.connect()
            assert self._conn.sock is not None
            self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stream(self, path: str, headers: dict[str, str], chunk: int = 1 << 16) -> tuple[int, Any]:
        """GET whose body is read piecewise: (status, iterator of byte chunks)."""
        conn = self._connection()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()

        def pieces() -> Any:
            while piece := response.read(chunk):
                yield piece

        return response.status, pieces()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- memory of a process ----------------------------------------------------------------------


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler:
    """Peak resident memory of a process over a span: VmHWM reset through ``clear_refs`` where
    the kernel lets us, and VmRSS sampled every 10 ms either way."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.before_kib = proc_status_kib(pid, "VmRSS") or 0
        self.peak_kib = self.before_kib
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def __enter__(self) -> RssSampler:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.peak_kib = max(self.peak_kib, rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            hwm = proc_status_kib(self.pid, "VmHWM")
            if hwm is not None:
                self.peak_kib = max(self.peak_kib, hwm)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (all its threads)."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU used over a span by the server, by this process (the client threads) and by child
    processes that finished in it (wrk), with the wall time: on a shared machine CPU per unit of
    work is steadier than a rate."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.result: dict[str, float | None] = {}

    def __enter__(self) -> CpuMeter:
        self._server = cpu_seconds(self.server_pid)
        self._self = resource.getrusage(resource.RUSAGE_SELF)
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        server = cpu_seconds(self.server_pid)
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_s = None if server is None or self._server is None else server - self._server
        self.result = {
            "wall_seconds": round(wall, 3),
            "server_cpu_seconds": None if server_s is None else round(server_s, 3),
            "server_cores": None if server_s is None else round(server_s / wall, 2),
            "client_cpu_seconds": round(
                max(0.0, me.ru_utime + me.ru_stime - self._self.ru_utime - self._self.ru_stime), 3
            ),
            "child_cpu_seconds": round(
                max(0.0, kids.ru_utime + kids.ru_stime - self._children.ru_utime - self._children.ru_stime),
                3,
            ),
        }


# -- the machine ------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    try:
        import duckdb

        duckdb_version = duckdb.__version__
    except ImportError:
        duckdb_version = None
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb_version,
        "git_commit": commit,
        "git_dirty": bool(dirty) if dirty is not None else None,
    }


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total
