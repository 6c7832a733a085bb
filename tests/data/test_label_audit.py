"""The label audit: blind queues, two-of-three verdicts, and held-out labels never changed by a model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.label_schema import SENTIMENT_LABELS, STANCE_LABELS
from training import build_corpus
from training.label_audit import (
    BLIND_FIELDS,
    AuditError,
    corpus_labels,
    flags_from,
    queue_rows,
    read_readings,
    verdicts,
)

ROOT = Path(__file__).resolve().parents[2]


def record(rid: str, ri: str, rir: str, sentiment: str) -> dict:
    return {"id": rid, "text": f"quote {rid}", "speaker": "Someone", "speaker_actor": "russia",
            "context": "He said.", "labels": {"russia-israel": ri, "russia-iran": rir}, "sentiment": sentiment}


def one_hot(labels, names) -> np.ndarray:
    out = np.full((len(labels), len(names)), 0.05)
    for k, name in enumerate(labels):
        out[k, names.index(name)] = 0.85
    return out


@pytest.fixture
def records():
    return [record("a", "none", "cooperative", "neutral"), record("b", "hedging", "none", "negative"),
            record("c", "none", "none", "neutral"), record("d", "adversarial", "none", "negative")]


def test_flags_are_the_cells_where_the_model_disagrees(records):
    stance = np.stack([one_hot(["none", "cooperative", "none", "adversarial"], STANCE_LABELS),
                       one_hot(["hedging", "none", "none", "none"], STANCE_LABELS)], axis=1)
    sentiment = one_hot(["neutral", "negative", "positive", "negative"], SENTIMENT_LABELS)
    flags = flags_from(records, stance, sentiment)
    assert [(f.id, f.head, f.corpus, f.model) for f in flags] == [
        ("a", "russia-iran", "cooperative", "hedging"),
        ("b", "russia-israel", "hedging", "cooperative"),
        ("c", "sentiment", "neutral", "positive"),
    ]
    assert flags[0].probability == pytest.approx(0.85)


def test_queue_is_blind_mixes_controls_and_is_repeatable(records):
    rows, controls = queue_rows(records, {"a", "b"}, control_share=1 / 3, seed=5)
    assert {r["id"] for r in rows} == {"a", "b"} | set(controls)
    assert len(controls) == 1 and controls[0] in {"c", "d"}
    for r in rows:
        assert set(r) == set(BLIND_FIELDS)  # no labels travel to the reader
    assert queue_rows(records, {"a", "b"}, 1 / 3, 5) == (rows, controls)
    with pytest.raises(AuditError, match="control_share"):
        queue_rows(records, {"a"}, 1.0, 5)


def test_only_reader_and_model_together_overturn_a_label(records):
    flags = [
        {"id": "a", "head": "russia-iran", "corpus": "cooperative", "model": "hedging", "probability": 0.7},
        {"id": "b", "head": "russia-israel", "corpus": "hedging", "model": "cooperative", "probability": 0.9},
        {"id": "c", "head": "sentiment", "corpus": "neutral", "model": "positive", "probability": 0.6},
    ]
    readings = {
        "a": {"russia-israel": "none", "russia-iran": "hedging", "sentiment": "neutral"},  # sides with model
        "b": {"russia-israel": "hedging", "russia-iran": "none", "sentiment": "negative"},  # sides with corpus
        "c": {"russia-israel": "none", "russia-iran": "none", "sentiment": "negative"},  # neither
        "d": {"russia-israel": "hedging", "russia-iran": "none", "sentiment": "negative"},  # a control
    }
    found, summary = verdicts(flags, ["d"], corpus_labels(records), readings, "reader")
    assert [(v["id"], v["head"], v["final"], v["rule"]) for v in found] == [("a", "russia-iran", "hedging", "AUDIT")]
    assert summary.changed == 1 and summary.flagged_read == 3 and summary.controls_read == 1
    assert summary.control_cells_agree["russia-israel"] == 0.0  # d: corpus adversarial, reader hedging
    assert summary.control_cells_agree["sentiment"] == 1.0
    assert summary.sided["sentiment"]["other"] == 1


def test_reader_file_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "reader-1.jsonl"
    bad.write_text(json.dumps({"id": "a", "labels": {"russia-israel": "none", "russia-iran": "friendly"},
                               "sentiment": "neutral"}) + "\n")
    with pytest.raises(AuditError, match=r"reader-1.jsonl:1 labels.russia-iran.*'friendly'"):
        read_readings([bad])
    bad.write_text("{not json\n")
    with pytest.raises(AuditError, match=r"reader-1.jsonl:1: not JSON"):
        read_readings([bad])


def test_builder_refuses_an_audit_verdict_on_held_out_records(monkeypatch):
    dev_id = next(json.loads(line)["id"] for line in (ROOT / "training/data/corpus/dev.jsonl").open())
    verdict = {"id": dev_id, "head": "russia-iran", "corpus": "none", "second_reader": "hedging",
               "final": "hedging", "rule": "AUDIT", "applied": True}
    monkeypatch.setattr(build_corpus, "adjudicated", lambda *p: {(dev_id, "russia-iran"): verdict})
    with pytest.raises(ValueError, match=f"{dev_id}.*dev split"):
        build_corpus.build()


def test_stored_audit_verdicts_touch_training_records_only():
    path = build_corpus.AUDIT_VERDICTS
    if not path.is_file():
        pytest.skip("no audit verdicts stored")
    held_out = {json.loads(line)["id"] for split in ("dev", "test")
                for line in (ROOT / f"training/data/corpus/{split}.jsonl").open()}
    train = {json.loads(line)["id"]: json.loads(line) for line in (ROOT / "training/data/corpus/train.jsonl").open()}
    rows = [json.loads(line) for line in path.open() if line.strip()]
    assert rows and not {r["id"] for r in rows} & held_out
    for r in rows:  # the stored training split carries every verdict
        stored = train[r["id"]]
        got = stored["sentiment"] if r["head"] == "sentiment" else stored["labels"][r["head"]]
        assert got == r["final"] and stored["adjudicated"][r["head"]] == "AUDIT", r


def test_cli_names_the_missing_reader_files(tmp_path):
    (tmp_path / "flags.json").write_text(json.dumps(
        {"model": "x", "data": str(ROOT / "training/data/corpus/train.jsonl"), "controls": [], "flags": []}))
    proc = subprocess.run([sys.executable, "-m", "service.cli", "audit", "verdicts", "--dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "no reader-*.jsonl files" in proc.stderr and str(tmp_path) in proc.stderr


def test_cli_queue_names_a_data_path_that_is_not_a_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "service.cli", "audit", "queue", "--data", str(tmp_path),
                           "--out", str(tmp_path / "q")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "--data" in proc.stderr and "not a file" in proc.stderr
