"""``torchrun --nproc_per_node 2 -m service.cli train``: two CPU processes (gloo) train one model.

Every rank trains its share of each batch; only rank 0 evaluates, registers and promotes, and the other
rank waits for its outcome, so the store gains exactly one version and both ranks exit with its code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, make_records, write_jsonl


def versions(env: dict) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "service.cli", "models", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.slow
def test_two_process_torchrun_registers_one_model(tmp_path, tiny_backbone):
    pytest.importorskip("torch.distributed.run", reason="torch without torch.distributed")
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch built without the gloo backend")
    home = tmp_path / "bentoml"
    home.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = make_records(64)
    write_jsonl(corpus / "train.jsonl", rows[:48])
    write_jsonl(corpus / "dev.jsonl", rows[48:56])
    write_jsonl(corpus / "test.jsonl", rows[56:])
    env = {**os.environ, "BENTOML_HOME": str(home)}
    env.pop("STANCE_MODEL_TAG", None)
    assert versions(env) == []

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "service.cli", "train", "--data", str(corpus), "--backbone", tiny_backbone,
           "--max_steps", "3", "--batch_size", "8", "--seed_quotes", "", "--work_dir", str(tmp_path / "run")]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])

    # both ranks report rank 0's outcome (one line each), and it is the one version in the store
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"status"')]
    for line in lines:
        line.pop("minutes")  # each rank's own
    assert len(lines) == 2 and lines[0] == lines[1], (out.stdout, out.stderr[-3000:])
    assert lines[0]["status"] == "promoted"
    after = versions(env)
    assert [v["tag"] for v in after] == [lines[0]["tag"]]
    assert after[0]["promoted"] is True
    # the ranks trained together: one trainer log, from rank 0, covering both ranks' batches
    assert out.stdout.count("train_runtime") == 1, (out.stdout, out.stderr[-3000:])
