"""The retraining loop end to end, on the tiny model and a throwaway store:

train a first model (promoted) -> ``stance score`` an archive -> ``stance select`` the quotes to label ->
annotators label them in Label Studio (simulated from known gold) -> ``stance import`` -> retrain twice on
the enlarged data: one candidate passes the gate (exit 0), one is refused (exit 3) -> ``stance models`` ->
the service serves the promoted version -> ``stance rollback``.

The quotes carry their labels in cue phrases, which the tiny random encoder picks up in a few dozen steps:
the first model is barely trained (a dozen steps), the retrain trains longer on more data and passes the
gate as it stands (default tolerance), and a one-step candidate is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import ROOT, Server, write_jsonl

RUSSIA_ISRAEL = {"cooperative": "Moscow praised its friendship with Jerusalem",
                 "hedging": "Moscow kept its distance from Jerusalem",
                 "adversarial": "Moscow condemned Jerusalem",
                 "none": "Moscow discussed the weather"}
RUSSIA_IRAN = {"cooperative": "and signed a pact with Tehran", "hedging": "and stayed cautious about Tehran",
               "adversarial": "and threatened Tehran", "none": "and talked about football"}
TONE = {"positive": "wonderful", "neutral": "routine", "negative": "terrible"}
STANCES = list(RUSSIA_ISRAEL)
TONES = list(TONE)
RECIPE = ["--batch_size", "16", "--learning_rate", "3e-3", "--head_learning_rate", "1e-2", "--warmup_ratio", "0",
          "--seed_quotes", ""]


def cue_record(i: int, prefix: str = "c") -> dict:
    ri, rir, tone = STANCES[i % 4], STANCES[(i // 4) % 4], TONES[(i * 7 // 3) % 3]
    return {"id": f"{prefix}{i}", "text": f"{RUSSIA_ISRAEL[ri]} {RUSSIA_IRAN[rir]}, a {TONE[tone]} day number {i}.",
            "speaker": f"Official {i % 5}", "context": f"Reported on day {i}.",
            "labels": {"russia-israel": ri, "russia-iran": rir}, "sentiment": tone}


def stance(home: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENTOML_HOME": str(home)}
    env.pop("STANCE_MODEL_TAG", None)
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def annotate(tasks: list[dict], gold: dict[str, dict]) -> list[dict]:
    """What Label Studio's JSON export holds once annotators have worked through the tasks."""
    export = []
    for n, task in enumerate(tasks):
        task = {**task, "id": 500 + n, "annotations": []}
        record = gold[task["data"]["id"]]
        result = [{"from_name": dyad, "to_name": "text", "type": "choices", "value": {"choices": [label]},
                   "origin": "manual"} for dyad, label in record["labels"].items()]
        result.append({"from_name": "sentiment", "to_name": "text", "type": "choices",
                       "value": {"choices": [record["sentiment"]]}, "origin": "manual"})
        if n == 0:
            pass  # nobody got to it
        elif n == 1:
            task["annotations"] = [{"id": 900 + n, "completed_by": 1, "was_cancelled": True, "result": []}]
        elif n == 2:  # two annotators who agree (overlap)
            task["annotations"] = [{"id": 900 + n, "completed_by": 1, "was_cancelled": False, "result": result},
                                   {"id": 950 + n, "completed_by": 2, "was_cancelled": False, "result": result}]
        else:
            task["annotations"] = [{"id": 900 + n, "completed_by": {"id": 3, "email": "analyst@example.org"},
                                    "was_cancelled": False, "ground_truth": False, "result": result}]
        export.append(task)
    return export


@pytest.mark.slow
def test_retraining_loop_end_to_end(tmp_path, tiny_backbone):
    home = tmp_path / "bentoml"
    home.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [cue_record(i) for i in range(96)]
    write_jsonl(corpus / "train.jsonl", rows[:64])
    write_jsonl(corpus / "dev.jsonl", rows[64:80])
    write_jsonl(corpus / "test.jsonl", rows[80:])  # the gate compares every version on this split
    gold = {r["id"]: r for r in (cue_record(i, "p") for i in range(200, 240))}
    archive = write_jsonl(tmp_path / "archive.jsonl", [
        {"id": r["id"], "text": r["text"], "speaker": r["speaker"], "context": r["context"]} for r in gold.values()])

    # 1. the first model: nothing promoted yet, so it is
    first = stance(home, "train", "--data", str(corpus), "--backbone", tiny_backbone, *RECIPE, "--max_steps", "12",
                   "--work_dir", str(tmp_path / "run1"))
    assert first.returncode == 0, first.stderr[-3000:]
    tag_a = last_json(first)["tag"]
    assert last_json(first)["status"] == "promoted"

    # 2. an analyst scores an archive with it
    scored = tmp_path / "scored.jsonl"
    out = stance(home, "score", str(archive), str(scored), "--no-progress")
    assert out.returncode == 0, out.stderr[-3000:]
    assert last_json(out)["rows_out"] == 40

    # 3. the quotes to label: least sure first, a quarter at random; the same seed gives the same file
    tasks_file = tmp_path / "tasks.json"
    out = stance(home, "select", str(scored), "--n", "12", "--random-share", "0.25", "--seed", "3",
                 "--out", str(tasks_file))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = last_json(out)
    assert (summary["model"], summary["tasks"], summary["uncertain"], summary["random"]) == (tag_a, 12, 9, 3)
    again = stance(home, "select", str(scored), "--n", "12", "--random-share", "0.25", "--seed", "3",
                   "--out", str(tmp_path / "again.json"))
    assert again.returncode == 0 and (tmp_path / "again.json").read_bytes() == tasks_file.read_bytes()
    tasks = json.loads(tasks_file.read_text())
    assert sorted(t["data"]["why"] for t in tasks) == ["random"] * 3 + ["uncertain"] * 9
    assert len({t["data"]["id"] for t in tasks}) == 12 and all(t["data"]["id"] in gold for t in tasks)
    for t in tasks:
        assert set(t["data"]) >= {"id", "text", "speaker", "context", "speaker_actor", "why"}
        prediction = t["predictions"][0]
        assert prediction["model_version"] == tag_a
        assert {r["from_name"] for r in prediction["result"]} == {"russia-israel", "russia-iran", "sentiment"}
    config = (tmp_path / "tasks.label_config.xml").read_text()
    ElementTree.fromstring(config)  # well-formed
    for name in ('name="russia-israel"', 'name="russia-iran"', 'name="sentiment"', 'value="$text"',
                 'value="$speaker"', 'value="$context"', 'value="hedging"', 'value="negative"'):
        assert name in config
    # the uncertain ones are the least sure: the random ones are drawn from the rest
    confidence = {why: [t["predictions"][0]["score"] for t in tasks if t["data"]["why"] == why]
                  for why in ("uncertain", "random")}
    assert max(confidence["uncertain"]) <= min(confidence["random"]) + 1e-5

    # 4. annotators label them in Label Studio; the export comes back in
    export = tmp_path / "export.json"
    export.write_text(json.dumps(annotate(tasks, gold)))
    new_records = corpus / "annotated.jsonl"
    out = stance(home, "import", str(export), "--out", str(new_records))
    assert out.returncode == 0, out.stderr[-3000:]
    imported = last_json(out)
    assert imported["imported"] == 10
    assert imported["unlabelled"] == [500] and imported["skipped"] == [501] and imported["conflicts"] == []
    assert "501" in out.stderr and "skipped or cancelled" in out.stderr
    records = [json.loads(line) for line in new_records.read_text().splitlines()]
    for r in records:
        truth = gold[r["id"]]
        assert (r["labels"], r["sentiment"], r["text"]) == (truth["labels"], truth["sentiment"], truth["text"])
        assert (r["source"], r["split"]) == ("annotation", "train")
    assert {t["data"]["id"] for t in tasks[:2]}.isdisjoint(r["id"] for r in records)

    # 5. retrain on the enlarged corpus, for longer: the candidate passes the gate ...
    second = stance(home, "train", "--data", str(corpus), "--backbone", tiny_backbone, *RECIPE, "--max_steps", "40",
                    "--work_dir", str(tmp_path / "run2"))
    assert second.returncode == 0, (second.stdout[-1500:], second.stderr[-1500:])
    tag_b = last_json(second)["tag"]
    assert last_json(second)["status"] == "promoted" and last_json(second)["promotion"]["incumbent_tag"] == tag_a
    # ... and one trained for a single, tiny step is refused: registered, not promoted, exit 3
    third = stance(home, "train", "--data", str(corpus), "--backbone", tiny_backbone, *RECIPE, "--max_steps", "1",
                   "--learning_rate", "1e-6", "--head_learning_rate", "1e-6", "--work_dir", str(tmp_path / "run3"))
    assert third.returncode == 3, (third.stdout[-1500:], third.stderr[-1500:])
    refused = last_json(third)
    assert refused["status"] == "registered" and refused["promotion"]["promoted"] is False
    assert refused["promotion"]["reason"].startswith(f"worse than {tag_b}")
    tag_c = refused["tag"]

    # 6. the versions, as an operator sees them
    out = stance(home, "models", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    versions = {v["tag"]: v for v in json.loads(out.stdout)}
    assert set(versions) == {tag_a, tag_b, tag_c}
    assert [t for t, v in versions.items() if v["promoted"]] == [tag_b]
    for v in versions.values():
        assert set(v["metrics"]) == {"russia-israel", "russia-iran", "sentiment"}
    assert versions[tag_c]["metrics"]["russia-israel"] < versions[tag_b]["metrics"]["russia-israel"] or \
        versions[tag_c]["metrics"]["russia-iran"] < versions[tag_b]["metrics"]["russia-iran"] or \
        versions[tag_c]["metrics"]["sentiment"] < versions[tag_b]["metrics"]["sentiment"]

    # 7. a service (re)started now serves the promoted version
    server = Server(home)
    try:
        server.wait_ready()
        info = httpx.get(f"{server.url}/info", timeout=10).json()
    finally:
        server.stop()
    assert info["model"] == tag_b

    # 8. and a rollback puts the first model back
    out = stance(home, "rollback")
    assert out.returncode == 0, out.stderr[-3000:]
    assert last_json(out)["tag"] == tag_a
    promoted = [v["tag"] for v in json.loads(stance(home, "models", "--json").stdout) if v["promoted"]]
    assert promoted == [tag_a]

    # 9. two versions scored as one ensemble, and a student distilled from that ensemble
    report = tmp_path / "ensemble.json"
    out = stance(home, "eval", "--model", f"{tag_a},{tag_b}", "--data", str(corpus / "test.jsonl"),
                 "--seed-quotes", "", "--json", str(report))
    assert out.returncode == 0, out.stderr[-3000:]
    scored = json.loads(report.read_text())
    assert scored["model"] == f"{tag_a}+{tag_b}"
    assert set(scored["reports"]["test.jsonl"]["dyads"]) >= {"russia-israel", "russia-iran"}
    student = stance(home, "train", "--data", str(corpus), "--backbone", tiny_backbone, *RECIPE, "--max_steps", "4",
                     "--teacher", f"{tag_a},{tag_b}", "--promote", "never", "--work_dir", str(tmp_path / "run4"))
    assert student.returncode == 3, (student.stdout[-1500:], student.stderr[-1500:])
    assert last_json(student)["status"] == "registered"
    assert "labelled" in student.stderr and f"{tag_a}+{tag_b}" in student.stderr


def test_import_names_task_field_and_value(tmp_path):
    """A bad export is refused whole, every problem named by task, field and value."""
    from training.annotation import AnnotationError, import_export

    good = [{"from_name": "russia-israel", "to_name": "text", "type": "choices", "value": {"choices": ["none"]}},
            {"from_name": "russia-iran", "to_name": "text", "type": "choices", "value": {"choices": ["hedging"]}},
            {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}]

    def task(tid, result, **data):
        return {"id": tid, "data": {"id": f"q{tid}", "text": "Moscow and Tehran talked.", **data},
                "annotations": [{"id": tid * 10, "result": result}]}

    bad_stance = [dict(good[0], value={"choices": ["friendly"]}), *good[1:]]
    exports = [task(1, good), task(2, bad_stance), task(3, good[:1] + good[2:]), task(4, good[:2]),
               task(5, [*good, {"from_name": "iran", "to_name": "text", "type": "choices", "value": {"choices": ["none"]}}]),
               task(6, good, speaker_actor="Russia Federation")]
    with pytest.raises(AnnotationError) as err:
        import_export(exports, "train", "export.json")
    message = str(err.value)
    assert "task 1 " not in message
    assert "task 2 (quote 'q2') annotation 20: field 'russia-israel': stance label 'friendly'" in message
    assert "task 3 (quote 'q3') annotation 30: field 'russia-iran' is missing" in message
    assert "task 4 (quote 'q4') annotation 40: field 'sentiment' is missing" in message
    assert "task 5 (quote 'q5') annotation 50: field 'iran' is neither 'sentiment' nor a dyad" in message
    assert "task 6 (quote 'q6'): data field 'speaker_actor' 'Russia Federation'" in message

    # annotators who disagree, with no ground truth: reported, not imported
    other = [good[0], dict(good[1], value={"choices": ["adversarial"]}), good[2]]
    two = task(7, good)
    two["annotations"].append({"id": 71, "result": other})
    report = import_export([task(1, good), two], "train")
    assert report.conflicts == [7] and [r["id"] for r in report.records] == ["q1"]
    two["annotations"][1]["ground_truth"] = True
    report = import_export([two], None)
    assert report.records[0]["labels"] == {"russia-israel": "none", "russia-iran": "adversarial"}
    assert "split" not in report.records[0]
