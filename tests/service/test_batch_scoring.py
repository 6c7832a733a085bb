"""`stance score`: three formats, every row kept, resume after a crash equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from models.network import StanceModel
from models.predictor import Predictor
from service import batch_scoring
from service.batch_scoring import InputError, run_scoring
from tests.conftest import ROOT, SEED_ARTICLE, SEED_QUOTES, make_records, write_jsonl


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return Predictor(StanceModel.from_pretrained(tiny_model_dir), "tiny:test")


def quotes_frame(n: int = 30) -> pd.DataFrame:
    rows = make_records(n)
    return pd.DataFrame({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
                         "speaker": [r["speaker"] for r in rows], "context": [r["context"] for r in rows],
                         "desk": ["mideast"] * n})


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(l) for l in path.read_text().splitlines()])
    return pd.read_csv(path, dtype={"id": str}) if path.suffix == ".csv" else pd.read_parquet(path)


@pytest.mark.parametrize("fmt_in, fmt_out", [(".jsonl", ".csv"), (".csv", ".parquet"), (".parquet", ".jsonl")])
def test_every_row_kept_with_label_and_score_columns(tmp_path, predictor, fmt_in, fmt_out):
    frame = quotes_frame()
    src = write_input(frame, tmp_path / f"in{fmt_in}")
    summary = run_scoring(predictor, src, tmp_path / f"out{fmt_out}", chunk_size=7, progress=False)
    out = read_output(tmp_path / f"out{fmt_out}")
    assert summary["rows_out"] == len(frame) == len(out)
    assert list(out["id"]) == list(frame["id"])  # input order kept
    assert (out["desk"] == "mideast").all()  # input columns kept
    for col in ("russia-israel_label", "russia-iran_p_hedging", "sentiment_label", "sentiment_p_negative", "model"):
        assert col in out.columns
    assert set(out["russia-iran_label"]) <= {"cooperative", "hedging", "adversarial", "none"}
    # same numbers as the predictor called directly (the HTTP path uses it too)
    from models.input_encoding import QuoteInput

    direct = predictor.predict([QuoteInput(frame.text[3], frame.speaker[3], frame.context[3])])[0]
    assert out["russia-israel_label"][3] == direct.stance["russia-israel"].label
    assert abs(out["russia-israel_p_none"][3] - direct.stance["russia-israel"].scores["none"]) < 1e-6


def test_resume_after_crash_equals_uninterrupted_run(tmp_path, predictor, monkeypatch):
    src = write_input(quotes_frame(40), tmp_path / "in.jsonl")
    run_scoring(predictor, src, tmp_path / "clean.jsonl", chunk_size=6, progress=False)

    real = batch_scoring.score_chunk
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the file
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_scoring, "score_chunk", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_scoring(predictor, src, tmp_path / "resumed.jsonl", chunk_size=6, progress=False)
    assert not (tmp_path / "resumed.jsonl").exists()  # no half-written output
    assert len(list((tmp_path / "resumed.jsonl.parts").glob("part-*.jsonl"))) == 3
    monkeypatch.setattr(batch_scoring, "score_chunk", real)
    summary = run_scoring(predictor, src, tmp_path / "resumed.jsonl", chunk_size=6, progress=False)
    assert summary["resumed_rows"] == 18
    assert (tmp_path / "resumed.jsonl").read_bytes() == (tmp_path / "clean.jsonl").read_bytes()
    assert not (tmp_path / "resumed.jsonl.parts").exists()


def test_kill_9_mid_run_then_rerun_gives_identical_file(tmp_path, tiny_store):
    """A real `stance score` process killed with SIGKILL, then the same command again."""
    home, tag = tiny_store
    src = write_input(quotes_frame(300), tmp_path / "in.csv")
    env = {**os.environ, "BENTOML_HOME": str(home)}
    cmd = [sys.executable, "-m", "service.cli", "score", str(src), str(tmp_path / "out.csv"), "--chunk-size", "20",
           "--batch-size", "4", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = tmp_path / "out.csv.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("part-*.jsonl")))
    assert 2 <= done_before < 15
    assert not (tmp_path / "out.csv").exists()
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout.strip().splitlines()[-1])["resumed_rows"] >= 40
    clean = subprocess.run(cmd[:5] + [str(tmp_path / "clean.csv")] + cmd[6:], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_malformed_row_stops_with_line_number_or_is_skipped_to_rejects(tmp_path, predictor):
    src = tmp_path / "in.jsonl"
    good = [{"id": "a", "text": "We back our partners."}, {"id": "b", "text": "Sanctions will not work."}]
    src.write_text(json.dumps(good[0]) + "\n{broken json\n" + json.dumps({"id": "c", "text": 7}) + "\n" + json.dumps(good[1]) + "\n")
    with pytest.raises(InputError, match=r"line 2: not valid JSON"):
        run_scoring(predictor, src, tmp_path / "out.jsonl", progress=False)
    summary = run_scoring(predictor, src, tmp_path / "out.jsonl", on_error="skip", progress=False)
    assert summary["rows_out"] == 2 and summary["rejected"] == 2
    rejects = [json.loads(l) for l in Path(summary["reject_file"]).read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert "must be a string" in rejects[1]["error"]


def test_cli_reports_bad_input_without_traceback(tmp_path, tiny_store):
    home, _ = tiny_store
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "x"}\n')
    env = {**os.environ, "BENTOML_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "service.cli", "score", str(src), str(tmp_path / "o.csv"), "--no-progress"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "line 1: field 'text' is missing" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "service.cli", "score", str(src), str(tmp_path / "o.csv"),
                          "--model", "stance-classifier:doesnotexist"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "'stance-classifier:doesnotexist' is not in the BentoML model store" in out.stderr


def test_articles_mode_extracts_then_scores_and_keeps_quote_less_rows(tmp_path, predictor):
    src = tmp_path / "arts.jsonl"
    src.write_text(json.dumps({"id": "seed", "article": SEED_ARTICLE.read_text(encoding="utf-8")}) + "\n"
                   + json.dumps({"id": "empty", "article": "No quotes here at all."}) + "\n")
    run_scoring(predictor, src, tmp_path / "out.parquet", articles=True, progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out["id"]).count("seed") == 12
    assert out[out["id"] == "empty"]["quote_text"].isna().all()
    seed_speakers = [json.loads(l)["speaker"] for l in SEED_QUOTES.read_text().splitlines()]
    assert list(out[out["id"] == "seed"]["quote_speaker"]) == seed_speakers
