"""Start and stop the real service for a benchmark, make its key, read its processes' usage,
and keep the latencies of a run (:class:`Sample`).

Shared by the benchmarks that drive a running ``spatialsvc serve`` (``access.py``,
``scaling.py``, ``load.py``): the service is started with the CLI of the venv the benchmark runs
in, on a free port, and is ready when ``/conformance`` answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLI = [str(Path(sys.executable).with_name("spatialsvc"))]


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``spatialsvc ARGS`` and capture what it prints."""
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)


def consumer_key(env: dict[str, str], department: str, name: str, label: str) -> str:
    """A new consumer key of ``department`` (made once, with ``name``), labelled ``label``."""
    made = cli("auth", "create-department", department, "--name", name, "--exist-ok", env=env)
    if made.returncode != 0:
        raise SystemExit(f"create-department failed: {made.stderr[-500:]}")
    key = cli(
        "auth", "create-key", "--department", department, "--role", "consumer",
        "--label", label, env=env,
    )  # fmt: skip
    if key.returncode != 0:
        raise SystemExit(f"create-key failed: {key.stderr[-500:]}")
    return key.stdout.strip()


def revoke(key: str, env: dict[str, str]) -> None:
    """Revoke a key made by :func:`consumer_key` (keys are ``ssk_ID_SECRET``)."""
    cli("auth", "revoke-key", key.split("_")[1], env=env)


def start(
    env: dict[str, str], workers: int = 1, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``spatialsvc serve`` and wait until it answers; returns the process and its URL."""
    port = port or free_port()
    cmd = [*CLI, "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/conformance?f=json", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    err = proc.stderr.read().decode() if proc.stderr else ""
    raise SystemExit(f"the service did not start: {err[-800:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the service as Ctrl-C would (it flushes its audit buffer), or kill it after 60 s."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _process_tree() -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    """Children of every process, and the fields of its /proc stat line after the name."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = fields
    return children, stats


def descendants(root: int) -> list[int]:
    """``root`` and every process under it (Linux /proc)."""
    children, _stats = _process_tree()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """CPU time used so far by ``root`` and its descendants."""
    children, stats = _process_tree()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])  # utime + stime, in ticks
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def settle(proc: subprocess.Popen[bytes], limit: float = 180.0) -> None:
    """Wait until the service goes idle (every worker has built its geocoder's index)."""
    end = time.monotonic() + limit
    before = cpu_seconds(proc.pid)
    while time.monotonic() < end:
        time.sleep(1.0)
        now = cpu_seconds(proc.pid)
        if now - before < 0.1:
            return
        before = now


@dataclass
class Sample:
    """The latencies (ms) of the requests answered well, how many failed, and the seconds."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    @property
    def rate(self) -> float:
        """Requests answered well per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """The ``q``-th percentile latency in ms (q in 0-100)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
