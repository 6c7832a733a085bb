"""A real server: the tiny model registered in a private store, `bentoml serve` on a free port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.server_harness import ServerProcess, free_port
from tests.conftest import ROOT, make_records, write_jsonl


def register_tiny_model(home: Path, backbone: str, work: Path) -> str:
    data = write_jsonl(work / "data.jsonl", make_records(48, extra_dyad="russia-turkey"))
    env = {**os.environ, "BENTOML_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "train", "--data", str(data), "--backbone", backbone,
         "--max_steps", "2", "--batch_size", "8", "--work_dir", str(work / "run"), "--seed_quotes", ""],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "promoted", result
    return result["tag"]


class Server(ServerProcess):
    """A server on the tiny model's throwaway store."""

    def __init__(self, home: Path, extra_env: dict | None = None, log: Path | None = None,
                 target: str = "service.service:StanceService", command: list[str] | None = None):
        port = free_port()
        super().__init__(env={"BENTOML_HOME": str(home), **(extra_env or {})},
                         log=log or home / f"serve-{port}.log", target=target, command=command, port=port)


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
