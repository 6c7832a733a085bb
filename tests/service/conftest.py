"""A real server: the tiny model registered in a private store, `bentoml serve` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, make_records, write_jsonl


def register_tiny_model(home: Path, backbone: str, work: Path) -> str:
    data = write_jsonl(work / "data.jsonl", make_records(48, extra_dyad="russia-turkey"))
    env = {**os.environ, "BENTOML_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "train", "--data", str(data), "--backbone", backbone,
         "--max_steps", "2", "--batch_size", "8", "--work_dir", str(work / "run"), "--seed_quotes", ""],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    tag = next(line.split(": ", 1)[1] for line in out.stdout.splitlines() if line.startswith("saved model: "))
    return tag.strip()


class Server:
    def __init__(self, home: Path, extra_env: dict | None = None, log: Path | None = None,
                 target: str = "service.service:StanceService"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "BENTOML_HOME": str(home), "HF_HUB_OFFLINE": "1", "BENTOML_DO_NOT_TRACK": "True",
               **(extra_env or {})}
        self.log = log or home / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", target, "--port", str(self.port),
             "--host", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory, tiny_backbone):
    home = tmp_path_factory.mktemp("bentoml-home")
    tag = register_tiny_model(home, tiny_backbone, tmp_path_factory.mktemp("reg"))
    return home, tag


@pytest.fixture(scope="session")
def server(tiny_store):
    home, tag = tiny_store
    srv = Server(home)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
