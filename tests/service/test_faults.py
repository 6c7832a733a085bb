"""Faults: broken or missing models, auth, overload, SIGTERM drain, worker death, failed retrains."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, make_records, write_jsonl
from tests.conftest import Server

QUOTE = {"text": "We will not accept any attempt to turn Syria into an arena for settling scores.",
         "speaker": "Russian Foreign Ministry", "context": "The ministry commented on the overnight strikes."}


def serve_and_wait_exit(home: Path, env: dict, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bentoml", "serve", "service.service:StanceService", "--port", "0"],
        cwd=ROOT, env={**os.environ, "BENTOML_HOME": str(home), **env},
        capture_output=True, text=True, timeout=timeout,
    )


def test_missing_tag_fails_start_up_with_a_clear_message(tiny_store):
    home, _ = tiny_store
    out = serve_and_wait_exit(home, {"STANCE_MODEL_TAG": "stance-classifier:doesnotexist"})
    assert out.returncode != 0
    assert "'stance-classifier:doesnotexist' is not in the BentoML model store" in out.stdout + out.stderr


def test_corrupt_model_directory_fails_start_up_once(tiny_store, tmp_path):
    home, tag = tiny_store
    bad_home = tmp_path / "bad"
    shutil.copytree(home / "models", bad_home / "models")
    (bad_home / "models" / tag.replace(":", "/") / "model.safetensors").write_bytes(b"\x00garbage")
    out = serve_and_wait_exit(bad_home, {})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "not a readable safetensors file" in text
    assert text.count("Traceback") <= 1  # one clear failure, not a restart loop


def test_api_key_is_required_when_configured(tiny_store):
    home, _ = tiny_store
    srv = Server(home, {"STANCE_API_KEY": "s3cret"})
    try:
        srv.wait_ready()  # /readyz stays open for probes
        no_key = httpx.post(f"{srv.url}/classify", json={"quotes": [QUOTE]}, timeout=30)
        assert no_key.status_code == 401 and no_key.json()["error_type"] == "unauthorized"
        wrong = httpx.post(f"{srv.url}/classify", json={"quotes": [QUOTE]}, headers={"X-API-Key": "nope"}, timeout=30)
        assert wrong.status_code == 401
        ok = httpx.post(f"{srv.url}/classify", json={"quotes": [QUOTE]},
                        headers={"Authorization": "Bearer s3cret"}, timeout=30)
        assert ok.status_code == 200
    finally:
        srv.stop()


def test_overload_answers_429_fast_and_recovers(tiny_store):
    home, _ = tiny_store
    srv = Server(home, {"STANCE_MAX_CONCURRENCY": "2"})
    try:
        srv.wait_ready()
        body = {"quotes": [{"text": QUOTE["text"] * 20, "context": QUOTE["context"] * 20}] * 128}
        codes: list[int] = []
        refusals: list[dict] = []
        lock = threading.Lock()

        def hit():
            start = time.time()
            r = httpx.post(f"{srv.url}/classify", json=body, timeout=120)
            with lock:
                codes.append(r.status_code)
                if r.status_code != 200:
                    refusals.append({**r.json(), "seconds": time.time() - start})

        threads = [threading.Thread(target=hit) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 429 in codes and 200 in codes
        assert all(c in (200, 429) for c in codes), codes
        assert all(r["error_type"] == "overloaded" and r["limit"] == 2 for r in refusals), refusals
        assert min(r["seconds"] for r in refusals) < 1.0  # refused fast, not queued
        assert httpx.post(f"{srv.url}/classify", json={"quotes": [QUOTE]}, timeout=30).status_code == 200
    finally:
        srv.stop()


def test_sigterm_drains_in_flight_requests(tiny_store):
    home, _ = tiny_store
    srv = Server(home)
    srv.wait_ready()
    body = {"quotes": [{"text": QUOTE["text"] * 25, "context": QUOTE["context"] * 30}] * 256}
    result: dict = {}

    def call():
        try:
            result["resp"] = httpx.post(f"{srv.url}/classify", json=body, timeout=120)
        except httpx.HTTPError as exc:  # pragma: no cover - recorded for the assertion
            result["error"] = exc

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.4)  # the request is accepted and being scored
    os.killpg(srv.proc.pid, signal.SIGTERM)
    t.join(120)
    srv.proc.wait(60)
    assert "error" not in result, result.get("error")
    assert result["resp"].status_code == 200 and len(result["resp"].json()) == 256


def test_killed_worker_is_replaced(tiny_store):
    home, _ = tiny_store
    srv = Server(home)
    try:
        srv.wait_ready()
        children = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert children, "no worker process found"
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        deadline = time.time() + 90
        ok = False
        while time.time() < deadline and not ok:
            try:
                ok = httpx.post(f"{srv.url}/classify", json={"quotes": [QUOTE]}, timeout=10).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.5)
        assert ok, srv.log.read_text()[-2000:]
    finally:
        srv.stop()


def test_failed_retrain_leaves_the_store_untouched(tiny_store, tiny_backbone, tmp_path):
    """A retrain that dies while saving (here: the weights write raises) adds nothing, changes nothing."""
    home, tag = tiny_store
    store = home / "models" / "stance-classifier"
    before = {p.name: (p / "model.safetensors").stat().st_mtime for p in store.iterdir() if p.is_dir()}
    data = write_jsonl(tmp_path / "d.jsonl", make_records(48))
    env = {**os.environ, "BENTOML_HOME": str(home)}
    code = (
        "import sys, models.network as n\n"
        "def boom(self, d): raise OSError('disk full while writing weights')\n"
        "n.StanceModel.save_pretrained = boom\n"
        "from service.cli import main\n"
        f"sys.exit(main(['train', '--data', {str(data)!r}, '--backbone', {tiny_backbone!r}, '--max_steps', '1',"
        f" '--batch_size', '8', '--work_dir', {str(tmp_path / 'run')!r}, '--seed_quotes', '']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "disk full" in out.stderr
    after = {p.name: (p / "model.safetensors").stat().st_mtime for p in store.iterdir() if p.is_dir()}
    assert after == before
    latest = (store / "latest").read_text().strip()
    assert latest == tag.split(":")[1]


def test_no_unsafe_loading_in_the_code():
    sources = [p for d in ("models", "service", "training") for p in (ROOT / d).glob("*.py")]
    text = "\n".join(p.read_text() for p in sources)
    assert not re.search(r"torch\.load\(|pickle\.load|joblib\.load", text)
    assert "trust_remote_code=True" not in text


def test_pickle_weights_are_refused(tiny_model_dir, tmp_path):
    from models.network import ModelLoadError, StanceModel

    shutil.copytree(tiny_model_dir, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    (tmp_path / "m" / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelLoadError, match="lacks model.safetensors"):
        StanceModel.from_pretrained(tmp_path / "m")


def test_load_at_four_times_sustainable_rate_gives_only_200_or_429(tiny_store):
    """The load-test script with small bounds: overload, then normal service right after."""
    home, _ = tiny_store
    srv = Server(home, {"STANCE_MAX_CONCURRENCY": "8"})
    try:
        srv.wait_ready()
        out = subprocess.run([sys.executable, "-m", "benchmarks.load_test", "--url", srv.url, "--duration", "8",
                              "--calibrate-seconds", "2", "--max-requests", "3000"],
                             cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr[-2000:]
        import json as _json

        summary = _json.loads(out.stdout.strip().splitlines()[-1])
        assert set(summary["codes"]) <= {"200", "429"}, summary
        assert summary["after_status"] == 200
    finally:
        srv.stop()
