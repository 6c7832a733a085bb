"""`stance serve`'s first step: an empty store gets the default model built; a full one is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, make_records, write_jsonl


@pytest.mark.slow
def test_empty_store_builds_default_model_once(tmp_path):
    home = tmp_path / "bentoml"
    home.mkdir()
    data = tmp_path / "corpus"
    data.mkdir()
    rows = make_records(60)
    write_jsonl(data / "train.jsonl", rows[:40])
    write_jsonl(data / "dev.jsonl", rows[40:50])
    write_jsonl(data / "test.jsonl", rows[50:])
    env = {**os.environ, "BENTOML_HOME": str(home)}
    env.pop("STANCE_MODEL_TAG", None)
    code = (
        "from pathlib import Path\n"
        "from service.bootstrap import ensure_default_model\n"
        f"print('TAG', ensure_default_model(Path({str(data)!r}), ['--max_steps', '2', '--work_dir', {str(tmp_path / 'run')!r}]))\n"
    )
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "training the quick default model" in first.stdout
    tag = first.stdout.split("TAG ")[-1].strip()
    assert tag.startswith("stance-classifier:")
    second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "training the quick default model" not in second.stdout
    assert second.stdout.split("TAG ")[-1].strip() == tag
