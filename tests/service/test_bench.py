"""`stance bench` runs end to end on a small workload and writes the figures it prints.

Speed itself is never asserted here (that is what the benchmark is for); this
checks the harness measures every row it is asked for, on the same model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_writes_rows_ratios_and_flop_bound(tiny_store, tmp_path):
    home, tag = tiny_store
    out = tmp_path / "bench.json"
    env = {**os.environ, "BENTOML_HOME": str(home)}
    run = subprocess.run(
        [sys.executable, "-m", "service.cli", "bench", "--model", tag, "-n", "48", "--per-quote-n", "8",
         "--rounds", "1", "--skip", "onnxruntime,cli,http", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["model"] == tag and summary["workload"]["n"] == 48
    rows = summary["rows"]
    assert {"pipeline/1", "pipeline/32", "predictor", "predictor-stock", "predictor-long", "predictor-random32"} <= set(rows)
    assert all(row["quotes_per_s"] > 0 for row in rows.values() if isinstance(row["quotes_per_s"], float))
    assert 0 < rows["predictor"]["flop_bound_share"]
    assert summary["machine"]["fp32_matmul_gflops"] == max(summary["machine"]["fp32_matmul_gflops_by_path"].values())
    assert {"predictor_vs_pipeline_per_quote", "predictor_vs_pipeline_batched"} <= set(summary["ratios"])
    assert "| predictor |" in run.stdout
