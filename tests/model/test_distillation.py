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


def _fake_targets(records, shift: float) -> dict:
    """Distinct, valid probabilities per record (as a teacher would give), shifted to tell two apart."""
    out = {}
    for i, r in enumerate(records):
        p = np.array([1.0 + shift, 2.0, 3.0 + (i % 3), 4.0])
        s = np.array([1.0, 2.0 + shift, 3.0])
        out[r.id] = {"stance": {"russia-israel": (p / p.sum()).tolist(), "russia-iran": (p[::-1] / p.sum()).tolist()},
                     "sentiment": (s / s.sum()).tolist()}
    return out


def test_soft_label_files_stand_in_for_stored_teachers_and_are_averaged(tmp_path):
    from training.data import load_records
    from training.distillation import distillation_records, teacher_targets, write_soft_labels

    train = load_records(write_jsonl(tmp_path / "t.jsonl", make_records(8)))
    records = distillation_records(train)
    a = write_soft_labels(tmp_path / "a.json.gz", _fake_targets(records, 0.0), {"trial": "a"}, records)
    b = write_soft_labels(tmp_path / "b.json", _fake_targets(records, 2.0), {"trial": "b"}, records)
    got_records, both = teacher_targets(f"{a},{b}", train, ["russia-israel", "russia-iran"])
    assert [r.id for r in got_records] == [r.id for r in records]
    one, two = _fake_targets(records, 0.0), _fake_targets(records, 2.0)
    for r in records:
        for d in ("russia-israel", "russia-iran"):
            assert np.allclose(both[r.id]["stance"][d], (np.array(one[r.id]["stance"][d]) + two[r.id]["stance"][d]) / 2)
        assert np.allclose(both[r.id]["sentiment"], (np.array(one[r.id]["sentiment"]) + two[r.id]["sentiment"]) / 2)


def test_a_soft_label_file_of_other_data_is_refused_with_what_is_missing(tmp_path):
    from training.data import DataError, load_records
    from training.distillation import distillation_records, teacher_targets, write_soft_labels

    train = load_records(write_jsonl(tmp_path / "t.jsonl", make_records(8)))
    targets = _fake_targets(distillation_records(train), 0.0)
    del targets[train[3].id]
    path = write_soft_labels(tmp_path / "partial.json.gz", targets, {}, distillation_records(train))
    with pytest.raises(DataError, match=rf"no soft labels for 1 of \d+ training quotes \(first: '{train[3].id}'\)"):
        teacher_targets(str(path), train, ["russia-israel"])


def test_soft_labels_written_for_other_words_are_refused_naming_the_quote(tmp_path):
    """Ids alone do not tie soft labels to a quote: an edited corpus that keeps its ids must be relabelled."""
    from dataclasses import replace

    from training.data import DataError, load_records
    from training.distillation import distillation_records, load_soft_labels, teacher_targets, write_soft_labels

    train = load_records(write_jsonl(tmp_path / "t.jsonl", make_records(6)))
    records = distillation_records(train)
    path = write_soft_labels(tmp_path / "s.json.gz", _fake_targets(records, 0.0), {}, records)
    assert len(load_soft_labels(str(path), records)) == len(records)
    edited = [replace(r, context=r.context + " Later he denied it.") if r.id == train[2].id else r for r in train]
    with pytest.raises(DataError, match=rf"1 of \d+ training quotes differ from the words the teacher labelled "
                                        rf"\(first: '{train[2].id}'\)"):
        teacher_targets(str(path), edited, ["russia-israel"])
    with pytest.raises(ValueError, match="not among the records given"):
        write_soft_labels(tmp_path / "x.json.gz", _fake_targets(records, 0.0), {}, records[:3])


def test_a_soft_label_file_in_another_label_order_is_refused(tmp_path):
    import gzip
    import json

    from training.data import DataError, load_records
    from training.distillation import distillation_records, load_soft_labels, write_soft_labels

    train = load_records(write_jsonl(tmp_path / "t.jsonl", make_records(4)))
    path = write_soft_labels(tmp_path / "s.json.gz", _fake_targets(distillation_records(train), 0.0), {},
                             distillation_records(train))
    body = json.loads(gzip.open(path, "rt").read())
    body["stance_labels"] = body["stance_labels"][::-1]
    with gzip.open(path, "wt") as fh:
        json.dump(body, fh)
    with pytest.raises(DataError, match="differ from the schema"):
        load_soft_labels(str(path), distillation_records(train))


def test_a_missing_or_unreadable_soft_label_file_is_a_data_error(tmp_path):
    from training.data import DataError, load_records
    from training.distillation import teacher_targets

    train = load_records(write_jsonl(tmp_path / "t.jsonl", make_records(4)))
    with pytest.raises(DataError, match="no such soft-label file"):
        teacher_targets(str(tmp_path / "nowhere.json.gz"), train, ["russia-israel"])
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a readable soft-label file"):
        teacher_targets(str(tmp_path / "bad.json.gz"), train, ["russia-israel"])
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a soft-label file"):
        teacher_targets(str(tmp_path / "list.json"), train, ["russia-israel"])
