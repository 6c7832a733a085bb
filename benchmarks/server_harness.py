"""A real server for tests and benchmarks: ``bentoml serve`` (or ``stance serve``) on a free loopback port.

One harness for both, so what the benchmark measures is started the way the
tests start it: in its own process group (a stop reaches every worker),
ready only once ``/readyz`` answers 200.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, env: dict[str, str] | None = None, log: Path | None = None,
                 target: str = "service.service:StanceService", command: Sequence[str] | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from models.settings import apply_offline_env

        apply_offline_env()  # the server inherits this process's environment
        self.env = {**os.environ, **(env or {})}
        self.log = log
        cmd = list(command) if command else [sys.executable, "-m", "bentoml", "serve", target]
        cmd += ["--port", str(self.port), "--host", "127.0.0.1"]
        out = self.log.open("w") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log and self.log.exists() else ""

    def wait_ready(self, timeout: float = 180) -> "ServerProcess":
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready in {timeout}s: {self.log_tail()}")

    def group_pids(self) -> list[int]:
        """Every live process in the server's process group (the server and its workers)."""
        out = subprocess.run(["ps", "-o", "pid=", "-g", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
