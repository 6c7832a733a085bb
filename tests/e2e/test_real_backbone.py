"""The real all-MiniLM-L6-v2 backbone, end to end: train a few steps, register, evaluate, serve, classify."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, SEED_QUOTES, make_records, write_jsonl
from tests.conftest import Server

CORPUS_TRAIN = ROOT / "training" / "data" / "corpus" / "train.jsonl"


@pytest.mark.slow
def test_train_register_eval_and_serve_real_backbone(tmp_path):
    home = tmp_path / "bentoml"
    home.mkdir()
    if CORPUS_TRAIN.is_file():  # a small slice of each split, laid out as the corpus is
        data = tmp_path / "slice"
        data.mkdir()
        for split, n in (("train", 96), ("dev", 24), ("test", 24)):
            lines = (CORPUS_TRAIN.parent / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:n]
            (data / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        data = write_jsonl(tmp_path / "slice.jsonl", make_records(96))
    env = {**os.environ, "BENTOML_HOME": str(home)}
    report = tmp_path / "report.json"
    train = subprocess.run(
        [sys.executable, "-m", "service.cli", "train", "--data", str(data), "--max_steps", "6", "--batch_size", "8",
         "--work_dir", str(tmp_path / "run"), "--report_json", str(report), "--backbone", "minilm"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert train.returncode == 0, train.stderr[-4000:]
    assert "seed-article" in train.stderr  # the real-text line is in every report (the report goes to stderr)
    result = json.loads(train.stdout.strip().splitlines()[-1])  # one line of JSON for schedulers
    assert result["status"] == "promoted" and result["promotion"]["reason"] == "no promoted version yet"
    tag = result["tag"]
    html = (home / "models" / tag.split(":")[0] / tag.split(":")[1] / "report.html").read_text()
    assert "Confusion matrices" in html and "data:image/png;base64," in html
    # self-contained: no stylesheet, script, image or font fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//|<link|<script|@import""", html), "report loads a resource"

    listed = subprocess.run([sys.executable, "-m", "bentoml", "models", "list", "-o", "json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert tag in listed.stdout
    import yaml  # bentoml depends on pyyaml

    model_yaml = yaml.safe_load((home / "models" / tag.split(":")[0] / tag.split(":")[1] / "model.yaml").read_text())
    meta = model_yaml["metadata"]
    assert meta["label_schema"]["stance_labels"] == ["cooperative", "hedging", "adversarial", "none"]
    assert len(meta["data_hash"]) == 64
    assert "test/russia-israel/macro_f1" in meta["metrics"]
    assert meta["backbone"] == "minilm"  # the name given to --backbone (models/backbones.py pins what it loads)
    assert json.loads(report.read_text())["seed-article"]["n_quotes"] == 12

    ev = subprocess.run([sys.executable, "-m", "service.cli", "eval", "--model", tag, "--data", str(SEED_QUOTES)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "russia-israel" in ev.stdout and "ECE" in ev.stdout

    # `bentoml build` packs service, code and this model; the Bento serves the same API.
    build = subprocess.run([sys.executable, "-m", "bentoml", "build", "-o", "tag"], cwd=ROOT,
                           env={**env, "STANCE_MODEL_TAG": tag}, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    bento_tag = build.stdout.strip().splitlines()[-1].replace("__tag__:", "").strip()
    assert bento_tag.startswith("stance_classifier:")
    bento_yaml = next((home / "bentos" / "stance_classifier").glob("*/bento.yaml")).read_text()
    assert tag in bento_yaml
    bento_src = next((home / "bentos" / "stance_classifier").glob("*/src"))
    shipped = {str(p.relative_to(bento_src)) for p in bento_src.rglob("*") if p.is_file()}
    assert "service/service.py" in shipped and "service/ui/index.html" in shipped and "docs/labelling.md" in shipped
    assert not [p for p in shipped if p.startswith(("benchmarks/", "training/", "tests/"))], sorted(shipped)
    assert not {"service/cli.py", "service/batch_scoring.py", "service/bootstrap.py"} & shipped

    srv = Server(home, target=bento_tag)
    try:
        srv.wait_ready()
        seed = json.loads(SEED_QUOTES.read_text(encoding="utf-8").splitlines()[2])
        resp = httpx.post(f"{srv.url}/classify", json={"quotes": [{k: seed[k] for k in ("text", "speaker", "context")}]},
                          timeout=60)
        assert resp.status_code == 200, resp.text
        out = resp.json()[0]
        assert out["model"] == tag
        assert set(out["stance"]) >= {"russia-israel", "russia-iran"}
    finally:
        srv.stop()
