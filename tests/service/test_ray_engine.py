"""``stance score --engine ray``: the same bytes as the default engine, and the same input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_records

try:
    import ray  # noqa: F401
    import ray.data  # noqa: F401

    RAY_MISSING = ""
except ImportError as exc:  # the extra is optional: pip install -e '.[ray]'
    RAY_MISSING = f"ray[data] is not installed ({exc}); pip install -e '.[ray]'"

pytestmark = pytest.mark.skipif(bool(RAY_MISSING), reason=RAY_MISSING or "ray installed")


def score(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENTOML_HOME": str(home)}
    env.pop("STANCE_MODEL_TAG", None)
    env.pop("RAY_ADDRESS", None)  # a local cluster, whatever the machine is attached to
    return subprocess.run([sys.executable, "-m", "service.cli", "score", *args, "--no-progress"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def archive(path: Path, n: int, bad: dict[int, str]) -> Path:
    """``n`` quote rows, varied columns (a row may lack speaker or carry extra fields); ``bad``: line -> raw text."""
    lines = []
    for i, r in enumerate(make_records(n)):
        row = {"id": r["id"], "text": r["text"], "context": r["context"], "n": i}
        if i % 3:
            row["speaker"] = r["speaker"]
        if i % 11 == 0:
            row["desk"] = "mideast ✓"
        if i % 17 == 0:
            row["speaker_actor"] = "russia"
        lines.append(bad.get(i + 1, json.dumps(row, ensure_ascii=False)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ray_engine_writes_the_default_engines_bytes(tmp_path, tiny_store):
    home, tag = tiny_store
    src = archive(tmp_path / "archive.jsonl", 2000, {700: '{"id": "broken", "text": ', 1500: '{"id": "x", "text": ""}'})
    options = ["--chunk-size", "256", "--on-error", "skip", "--dyads", "russia-iran,israel-iran,russia-turkey"]
    local = score(home, str(src), str(tmp_path / "local.jsonl"), *options)
    assert local.returncode == 0, local.stderr[-3000:]
    distributed = score(home, str(src), str(tmp_path / "ray.jsonl"), *options, "--engine", "ray")
    assert distributed.returncode == 0, distributed.stderr[-3000:]

    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "ray.jsonl.rejects.jsonl").read_bytes() == (tmp_path / "local.jsonl.rejects.jsonl").read_bytes()
    summary = json.loads(distributed.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "ray" and summary["actors"] >= 1
    assert (summary["model"], summary["rows_in"], summary["rows_out"], summary["rejected"]) == (tag, 2000, 1998, 2)
    assert not (tmp_path / "ray.jsonl.parts").exists()
    rows = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["n"] for r in rows] == [i for i in range(2000) if i + 1 not in (700, 1500)]  # input order


def test_ray_engine_stops_on_a_bad_row_as_the_default_engine_does(tmp_path, tiny_store):
    home, _ = tiny_store
    src = archive(tmp_path / "archive.jsonl", 300, {250: '{"id": "q", "text": 7}'})
    runs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "out.csv"
        out.parent.mkdir()
        runs[engine] = score(home, str(src), str(out), "--chunk-size", "100", "--engine", engine)
        assert runs[engine].returncode == 2, runs[engine].stderr[-3000:]
        assert not out.exists()
    message = [p.stderr.strip().splitlines()[-1] for p in runs.values()]
    assert message[0] == message[1]
    assert message[0].endswith("line 250: field 'text' must be a string, got int; fix the row or re-run with --on-error skip")
    # the chunks before the bad one are kept for a re-run, the same files with the same bytes
    kept = {engine: {p.name: p.read_bytes() for p in (tmp_path / engine / "out.csv.parts").iterdir()} for engine in runs}
    assert sorted(kept["ray"]) == ["manifest.json", "part-000000.jsonl", "part-000001.jsonl"]
    assert kept["ray"] == kept["local"]
