"""Dataset loading: every validation error names file, line, field and value; splits are deterministic."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from tests.conftest import make_records, write_jsonl
from training.data import DataError, load_records, split_records


def _write(tmp_path, rows, name="d.jsonl"):
    return write_jsonl(tmp_path / name, rows)


def test_valid_jsonl_loads_all_records(tmp_path):
    rows = make_records(12)
    recs = load_records(_write(tmp_path, rows))
    assert [r.id for r in recs] == [r["id"] for r in rows]
    assert recs[0].labels == rows[0]["labels"]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r["labels"].update({"russia-iran": "friendly"}), r"line 2: field 'labels'.*'friendly'"),
        (lambda r: r.pop("text"), r"line 2: field 'text' is missing"),
        (lambda r: r.update(text="   "), r"line 2: field 'text' is empty"),
        (lambda r: r.update(text=17), r"line 2: field 'text' must be a string, got int 17"),
        (lambda r: r.update(sentiment="angry"), r"line 2: .*sentiment label 'angry'"),
        (lambda r: r.update(labels={"russia_israel": "none"}), r"line 2: field 'labels'.*'russia_israel'"),
        (lambda r: r.update(labels={}), r"line 2: field 'labels' is empty"),
        (lambda r: r.update(labels={"russia-iran": "none", "iran-russia": "hedging"}), r"names dyad 'iran-russia' twice"),
    ],
)
def test_each_validation_error_names_line_field_and_value(tmp_path, mutate, expected):
    rows = make_records(3)
    mutate(rows[1])
    path = _write(tmp_path, rows)
    with pytest.raises(DataError, match=expected) as info:
        load_records(path)
    assert str(path) in str(info.value)


def test_duplicate_ids_name_both_lines(tmp_path):
    rows = make_records(3)
    rows[2]["id"] = rows[0]["id"]
    with pytest.raises(DataError, match=r"line 3: duplicate id 'r0' \(first at .* line 1\)"):
        load_records(_write(tmp_path, rows))


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="holds no records"):
        load_records(path)


def test_bad_json_and_bad_utf8_are_errors(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(make_records(1)[0]) + "\n{not json\n")
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        load_records(path)
    path.write_bytes(b'{"id": "x", "text": "\xff\xfe"}\n')
    with pytest.raises(DataError, match=r"line 1: not valid UTF-8"):
        load_records(path)


def test_csv_and_parquet_use_label_columns_and_blank_is_unknown(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "text": ["We back Tehran fully", "Ankara is a partner"],
            "speaker": ["x", ""],
            "sentiment": ["positive", "neutral"],
            "label_russia-iran": ["cooperative", "none"],
            "label_russia-turkey": ["", "cooperative"],
        }
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.replace({"": None}).to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        recs = load_records(tmp_path / name)
        assert recs[0].labels == {"russia-iran": "cooperative"}, name
        assert recs[1].labels == {"russia-iran": "none", "russia-turkey": "cooperative"}, name
    bad = frame.copy()
    bad.loc[1, "label_russia-iran"] = "allied"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad.csv line 3: field 'labels'.*'allied'"):
        load_records(tmp_path / "bad.csv")


def test_split_is_deterministic_stratified_and_order_free(tmp_path):
    rows = make_records(200)
    a = split_records(load_records(_write(tmp_path, rows, "a.jsonl")), ["russia-israel", "russia-iran"], seed=7)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    b = split_records(load_records(_write(tmp_path, shuffled, "b.jsonl")), ["russia-israel", "russia-iran"], seed=7)
    for (name, xs), (_, ys) in zip(a.items(), b.items()):
        assert sorted(r.id for r in xs) == sorted(r.id for r in ys), name
    assert len(a.train) + len(a.dev) + len(a.test) == 200
    assert not {r.id for r in a.train} & {r.id for r in a.test}
    # stratified: every russia-israel label reaches the test split
    assert {r.labels["russia-israel"] for r in a.test} == {"cooperative", "hedging", "adversarial", "none"}
    c = split_records(load_records(_write(tmp_path, rows, "c.jsonl")), ["russia-israel", "russia-iran"], seed=8)
    assert sorted(r.id for r in c.test) != sorted(r.id for r in a.test)


def test_records_own_split_field_is_used(tmp_path):
    rows = make_records(6)
    for i, r in enumerate(rows):
        r["split"] = ["train", "dev", "test"][i % 3]
    s = split_records(load_records(_write(tmp_path, rows)), ["russia-israel"])
    assert [r.id for r in s.dev] == ["r1", "r4"]


def test_unknown_dyads_are_masked_and_absent_actor_dyads_are_none(tmp_path, tiny_backbone):
    """A dyad a record does not label is unknown (masked), never none; a dyad of two actors the
    record never mentions is added as none (the negatives that teach 'not in the text')."""
    from transformers import AutoTokenizer

    from models.label_schema import STANCE2ID, UNKNOWN_LABEL_ID
    from training.batching import NEGATIVE_ACTORS, BatchingConfig, StanceCollator

    rows = make_records(4, extra_dyad="russia-turkey")
    recs = load_records(_write(tmp_path, rows))
    collate = StanceCollator(AutoTokenizer.from_pretrained(tiny_backbone), recs, ["russia-iran", "russia-turkey"],
                             BatchingConfig(64, negatives_per_record=1), seed=3)
    batch = collate([{"idx": 0}, {"idx": 1}])
    col = batch["dyads"].index("russia-turkey")
    assert batch["stance_labels"][1, col] == UNKNOWN_LABEL_ID  # r1 has no russia-turkey label
    assert batch["stance_labels"][0, col] != UNKNOWN_LABEL_ID
    negatives = [j for j, d in enumerate(batch["dyads"]) if set(d.split("-")) <= set(NEGATIVE_ACTORS)]
    assert negatives, batch["dyads"]
    for j in negatives:
        row_labels = batch["stance_labels"][:, j]
        assert set(row_labels.tolist()) <= {STANCE2ID["none"], UNKNOWN_LABEL_ID}
        assert float(batch["stance_weights"][:, j].max()) == 0.5
