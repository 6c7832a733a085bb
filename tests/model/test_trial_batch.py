"""The trial batch (``python -m training.trial_batch``): several trials in one process, each leaving its row,
its soft labels and the running ensemble's scores as soon as it ends."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import make_records, write_jsonl


def _data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    rows = make_records(72)
    for split, part in (("train", rows[:40]), ("dev", rows[40:56]), ("test", rows[56:])):
        write_jsonl(folder / f"{split}.jsonl", part)
    return folder


def _plan(tmp_path, backbone, trials) -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"base": {"data": str(_data(tmp_path)), "backbone": backbone, "max_steps": 2,
                                         "batch_size": 8, "seed_quotes": "", "work_dir": str(tmp_path / "w")},
                                "trials": trials}))
    return str(path)


def test_each_trial_leaves_its_row_soft_labels_and_the_ensemble_score(tmp_path, tiny_backbone):
    from training.data import load_records
    from training.distillation import distillation_records, load_soft_labels
    from training.trial_batch import main

    out = tmp_path / "out"
    plan = _plan(tmp_path, tiny_backbone, [{"name": "a", "seed": 1}, {"name": "b", "seed": 2, "learning_rate": 5e-5}])
    assert main(["--plan", plan, "--out", str(out)]) == 0
    rows = [json.loads(l) for l in (out / "trials.jsonl").read_text().splitlines()]
    assert [r["trial"] for r in rows] == ["a", "b"]
    assert "ensemble" not in rows[0] and rows[1]["ensemble"]["members"] == ["a", "b"]
    assert 0 <= rows[1]["ensemble"]["metrics"]["dev/russia-israel/macro_f1"] <= 1
    experiments = [json.loads(l) for l in (out / "experiments.jsonl").read_text().splitlines()]
    assert [(e["seed"], e["learning_rate"]) for e in experiments] == [(1, 8e-5), (2, 5e-5)]
    train = distillation_records(load_records(str(tmp_path / "data" / "train.jsonl")))
    a = load_soft_labels(str(out / "soft-a.json.gz"), train)
    b = load_soft_labels(str(out / "soft-b.json.gz"), train)
    r = train[0].id
    assert np.isclose(sum(a[r]["stance"]["russia-israel"]), 1.0, atol=1e-4)
    assert not np.allclose(a[r]["sentiment"], b[r]["sentiment"], atol=1e-6)


def test_no_trial_starts_that_would_end_past_the_deadline(tmp_path, tiny_backbone):
    from training.trial_batch import main

    out = tmp_path / "out"
    plan = _plan(tmp_path, tiny_backbone, [{"name": "a", "seed": 1}, {"name": "b", "seed": 2}])
    assert main(["--plan", plan, "--out", str(out), "--deadline_minutes", "0.0001"]) == 0
    rows = [json.loads(l) for l in (out / "trials.jsonl").read_text().splitlines()]
    assert [r["trial"] for r in rows] == ["a"]
    assert not (out / "soft-b.json.gz").exists()


def test_a_plan_with_repeated_names_or_a_bad_field_is_refused_before_training(tmp_path, capsys):
    from training.trial_batch import main

    plan = _plan(tmp_path, "minilm", [{"name": "a"}, {"name": "a"}])
    assert main(["--plan", plan, "--out", str(tmp_path / "o")]) == 2
    assert "unique 'name'" in capsys.readouterr().err
    plan = _plan(tmp_path, "minilm", [{"name": "a", "epochs": -1}])
    assert main(["--plan", plan, "--out", str(tmp_path / "o")]) == 2
    assert "epochs must be > 0" in capsys.readouterr().err
    plan = _plan(tmp_path, "minilm", [{"name": "a"}, {"name": "b", "data": "elsewhere"}])
    assert main(["--plan", plan, "--out", str(tmp_path / "o")]) == 2
    assert "b.data: data and unlabelled belong in 'base'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "trials.jsonl").exists()
