"""`stance serve`'s first step: an empty store gets the default model built; a full one is left alone."""

from __future__ import annotations

import json
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


def test_quick_model_distils_from_the_committed_soft_labels_only_for_their_corpus(tmp_path):
    from service.bootstrap import DEFAULT_DATA, SOFT_LABELS, quick_model_args
    from training.data import load_records
    from training.distillation import distillation_records, load_soft_labels

    args = quick_model_args(DEFAULT_DATA)
    assert args[args.index("--backbone") + 1] == "mpnet"
    assert args[args.index("--epochs") + 1] == "0.5"
    assert args[args.index("--teacher") + 1].split(",") == [str(p) for p in SOFT_LABELS]
    # The files were written for this corpus: every training quote and variant has a target.
    records = distillation_records(load_records(DEFAULT_DATA / "train.jsonl"))
    for path in SOFT_LABELS:
        assert len(load_soft_labels(str(path), records)) == len(records)

    edited = tmp_path / "corpus"
    edited.mkdir()
    text = (DEFAULT_DATA / "train.jsonl").read_text()
    (edited / "train.jsonl").write_text(text.replace("Moscow", "Moskva", 1))
    plain = quick_model_args(edited)
    assert "--teacher" not in plain and plain[plain.index("--epochs") + 1] == "1"
    assert plain[plain.index("--backbone") + 1] == "mpnet"

    # A corrected label keeps the words the teacher read: the soft labels still fit.
    relabelled = tmp_path / "relabelled"
    relabelled.mkdir()
    first, rest = text.split("\n", 1)
    row = json.loads(first)
    row["labels"]["russia-iran"] = "hedging" if row["labels"]["russia-iran"] != "hedging" else "none"
    (relabelled / "train.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n" + rest)
    assert "--teacher" in quick_model_args(relabelled)
