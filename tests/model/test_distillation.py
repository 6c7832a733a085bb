"""Distillation: soft labels from one stored teacher or the average of several, and a student trained on them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_records, write_jsonl


def _register(tmp_path, backbone, seed: int) -> str:
    from training.config import TrainConfig
    from training.trainer import train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(48))
    result = train_model(TrainConfig(data=str(data), backbone=backbone, max_steps=2, batch_size=8, seed=seed,
                                     work_dir=str(tmp_path / f"w{seed}"), seed_quotes="", promote="never"))
    assert result.tag
    return result.tag


def test_an_ensemble_teacher_gives_the_average_of_its_members(tmp_path, tiny_backbone, bento_home):
    from training.data import load_records
    from training.distillation import teacher_targets

    a, b = _register(tmp_path, tiny_backbone, 1), _register(tmp_path, tiny_backbone, 2)
    rows = make_records(6)
    for row in rows:  # name the actors, or the mention rules answer `none` for sure whatever the network says
        row["text"] = f"Russia, Israel and Iran: {row['text']}"
    train = load_records(write_jsonl(tmp_path / "t.jsonl", rows))
    dyads = ["russia-israel", "russia-iran"]
    records, one = teacher_targets(a, train, dyads)
    _, two = teacher_targets(b, train, dyads)
    _, both = teacher_targets(f"{a}, {b}", train, dyads)
    assert len(records) > len(train)  # the context- or speaker-dropped variants are labelled too
    differs = False
    for r in records:
        mean = (np.array(one[r.id]["sentiment"]) + np.array(two[r.id]["sentiment"])) / 2
        assert np.allclose(both[r.id]["sentiment"], mean, atol=1e-5)
        for d in dyads:
            mean = (np.array(one[r.id]["stance"][d]) + np.array(two[r.id]["stance"][d])) / 2
            assert np.allclose(both[r.id]["stance"][d], mean, atol=1e-5)
            assert sum(both[r.id]["stance"][d]) == pytest.approx(1.0, abs=1e-4)
            differs |= not np.allclose(one[r.id]["stance"][d], two[r.id]["stance"][d], atol=1e-4)
    assert differs, "the two teachers should not agree everywhere, or the test shows nothing"


def test_a_student_trains_from_an_ensemble_teacher(tmp_path, tiny_backbone, bento_home):
    from training.config import TrainConfig
    from training.trainer import train_model

    a, b = _register(tmp_path, tiny_backbone, 1), _register(tmp_path, tiny_backbone, 2)
    data = write_jsonl(tmp_path / "s.jsonl", make_records(48))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=2, batch_size=8,
                                     register=False, work_dir=str(tmp_path / "ws"), seed_quotes="",
                                     teacher=f"{a},{b}"))
    assert result.model is not None and "dev" in result.reports


def test_an_empty_teacher_list_is_refused():
    from models.model_store import ModelNotFound
    from training.distillation import teacher_targets

    with pytest.raises(ModelNotFound, match="several joined by commas"):
        teacher_targets(" , ", [], [])
