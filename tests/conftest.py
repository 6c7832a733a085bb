"""Shared fixtures: a tiny random-init encoder (no hub), labelled records, an isolated model store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.server_harness import ServerProcess, free_port

from models.settings import apply_offline_env  # noqa: E402

apply_offline_env()
# Tests never touch the user's model store: anything that does not set its own gets a throwaway one.
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="stance-tests-bentoml-")
ROOT = Path(__file__).resolve().parents[1]
SEED_ARTICLE = ROOT / "seeds" / "000_0240a2ff4cb2fece.txt"
SEED_QUOTES = ROOT / "seeds" / "quotes.jsonl"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains or serves the real backbone")


@pytest.fixture(scope="session")
def real_backbone() -> str:
    from models.backbones import minilm_path

    return str(minilm_path())


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory, real_backbone) -> str:
    """A 2-layer, 32-wide BERT with random weights and the real tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-encoder")
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(str(path))
    AutoTokenizer.from_pretrained(real_backbone).save_pretrained(str(path))
    return str(path)


def record(i: int, text: str, labels: dict, sentiment: str = "neutral", **extra) -> dict:
    return {"id": f"r{i}", "text": text, "speaker": extra.pop("speaker", ""), "context": extra.pop("context", ""),
            "labels": labels, "sentiment": sentiment, **extra}


STANCES = ["cooperative", "hedging", "adversarial", "none"]
SENTS = ["positive", "neutral", "negative"]


def make_records(n: int = 48, extra_dyad: str | None = None) -> list[dict]:
    """Varied little records that cover every label; deterministic."""
    words = ["talks", "strikes", "partnership", "sanctions", "drones", "gas", "Syria", "reactor", "grain", "visit"]
    out = []
    for i in range(n):
        labels = {"russia-israel": STANCES[i % 4], "russia-iran": STANCES[(i // 4) % 4]}
        if extra_dyad and i % 2 == 0:
            labels[extra_dyad] = STANCES[(i // 2) % 4]
        out.append(record(i, f"Statement {i} about {words[i % 10]} and {words[(i * 3) % 10]} number {i * 7}",
                          labels, SENTS[i % 3], speaker=f"Official {i % 5}", context=f"Reported on day {i}."))
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def bento_home(tmp_path, monkeypatch) -> Path:
    """An empty, private BentoML store for one test."""
    home = tmp_path / "bentoml"
    home.mkdir()
    monkeypatch.setenv("BENTOML_HOME", str(home))
    from bentoml._internal.configuration.containers import BentoMLContainer

    BentoMLContainer.bentoml_home.set(str(home))
    BentoMLContainer.model_store.reset()
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_backbone) -> Path:
    """A tiny trained-for-two-steps model saved with save_pretrained (no store)."""
    from training.config import TrainConfig
    from training.trainer import train_model

    work = tmp_path_factory.mktemp("tiny-train")
    data = write_jsonl(work / "data.jsonl", make_records(48))
    cfg = TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=2, batch_size=8, register=False,
                      work_dir=str(work / "run"), seed_quotes=str(SEED_QUOTES))
    result = train_model(cfg)
    out = work / "model"
    result.model.save_pretrained(out)
    return out


# ---------------------------------------------------------------- real servers (tiny model)
def register_tiny_model(home: Path, backbone: str, work: Path) -> str:
    data = write_jsonl(work / "data.jsonl", make_records(48, extra_dyad="russia-turkey"))
    env = {**os.environ, "BENTOML_HOME": str(home)}
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
                 target: str = "service.service:StanceService", command: list[str] | None = None,
                 port: int | None = None):
        port = port or free_port()
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
