"""``stance bench``: scoring speed against baselines measured in the same run.

One run, one model, one thread setting.  Rows of the table:

- ``pipeline/1``      transformers.pipeline called per quote (what a user writes first)
- ``pipeline/32``     the same pipeline with batch_size=32
- ``onnxruntime``     ONNX Runtime fp32 on the same encoder weights (exported with torch.onnx)
- ``predictor-stock`` our predictor on the stock transformers forward and torch's default
                      fp32 kernels (MKL): what it was before the fast paths
- ``predictor``       our in-process predictor (length-sorted, dynamically padded batches,
                      packed encoder, Linear layers and the feed-forward GELU through oneDNN)
- ``predictor-long``  the same on the longest fifth of the workload: the FLOP-bound row
- ``predictor-random32`` the same fed random batches of 32, as the service's batcher forms them
- ``predictor-bf16``  the same in bfloat16
- ``cli``             ``stance score`` end to end on a JSONL file (process start and model load included)
- ``http/cN``         the service over HTTP, N concurrent single-quote clients (p50/p95/p99 latency),
                      driven by :mod:`benchmarks.http_load` (its own CPU share is reported)

Baselines see exactly the encoder input our model sees (quote + "speaker: context"
as a text pair), so every row does the same encoder work; the baselines' heads are
a 4-way linear layer, ours the dyad-conditioned stance head.  Also measures this
machine's fp32 matmul rate and reports tokens/s as a share of the model's FLOP
bound (2 x non-embedding parameters FLOPs per token).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from models.input_encoding import QuoteInput, encode_quotes, second_segment
from models.network import StanceModel
from benchmarks.server_harness import ServerProcess
from models.predictor import DEFAULT_BATCH_SIZE, Predictor

ROOT = Path(__file__).resolve().parents[1]
FP32_ROWS = {"predictor", "predictor-stock", "predictor-long"}  # rows measured against the fp32 FLOP bound


# --------------------------------------------------------------- workload
def build_workload(n: int, seed: int = 0) -> list[QuoteInput]:
    """N quotes drawn from the corpus (real length mix: median ~22 words), with speaker and context."""
    from training.data import load_records

    pool = []
    data_dir = ROOT / "training" / "data" / "corpus"
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl"):
        if (data_dir / name).is_file():
            pool.extend(load_records(data_dir / name))
    if not pool:
        pool = load_records(ROOT / "seeds" / "quotes.jsonl")
    rng = random.Random(seed)
    return [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in (rng.choice(pool) for _ in range(n))]


def matmul_gflops(threads: int, size: int = 2048, seconds: float = 1.0, windows: int = 3) -> dict[str, float]:
    """This machine's fp32 matmul rate, through torch's BLAS (``torch.mm``) and through oneDNN.

    Both are measured because they differ: MKL runs AVX2 kernels on AMD CPUs
    while oneDNN uses AVX-512.  Best of several short windows, since a shared
    VM has slow moments; the FLOP bound uses the faster path.
    """
    from models.onednn_linear import OneDNNLinear, onednn_available

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)

    def rate(fn: Callable[[], Any]) -> float:
        fn()
        best = 0.0
        for _ in range(windows):
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                fn()
                n += 1
            best = max(best, 2 * size**3 * n / (time.perf_counter() - start) / 1e9)
        return best

    with torch.inference_mode():
        rates = {"torch_mm": rate(lambda: torch.mm(a, b))}
        if onednn_available():
            onednn = OneDNNLinear(torch.nn.Linear(size, size, bias=False))
            rates["onednn"] = rate(lambda: onednn(a))
    return {k: round(v, 1) for k, v in rates.items()}


def non_embedding_params(model: StanceModel) -> int:
    total = sum(p.numel() for p in model.encoder.parameters())
    emb = sum(p.numel() for p in model.encoder.embeddings.parameters())
    return total - emb


# ----------------------------------------------------------------- timers
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def sequence_classifier(model_dir: Path):
    """A stock BertForSequenceClassification carrying our encoder weights: the pipeline's model."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(str(model_dir), num_labels=4)
    clf = AutoModelForSequenceClassification.from_config(config)
    state = load_file(str(model_dir / "model.safetensors"))
    prefix = clf.base_model_prefix + "."
    clf.load_state_dict({prefix + k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")},
                        strict=False)
    return clf.eval()


def pipeline_inputs(quotes: list[QuoteInput]) -> list[dict[str, str]]:
    return [{"text": q.text, "text_pair": second_segment(q.speaker, q.context)} for q in quotes]


def pipeline_runner(model_dir: Path, tokenizer, quotes: list[QuoteInput], batch_size: int,
                    max_length: int) -> Callable[[], float]:
    """A ``transformers.pipeline`` on our encoder weights; the runner scores ``quotes`` once, returns quotes/s."""
    from transformers import pipeline

    pipe = pipeline("text-classification", model=sequence_classifier(model_dir), tokenizer=tokenizer, device=-1)
    inputs = pipeline_inputs(quotes)
    kwargs = {"truncation": True, "max_length": max_length}
    pipe(inputs[:4], **kwargs)  # warm-up

    def run() -> float:
        if batch_size == 1:
            seconds, _ = timed(lambda: [pipe(x, **kwargs) for x in inputs])
        else:
            seconds, _ = timed(lambda: pipe(inputs, batch_size=batch_size, **kwargs))
        return len(quotes) / seconds

    return run


def onnx_runner(model_dir: Path, tokenizer, quotes: list[QuoteInput], max_length: int, threads: int,
                workdir: Path, batch_size: int = 32) -> Callable[[], float] | str:
    """ONNX Runtime fp32 on the same encoder weights, same length-sorted batches (or why it was skipped).

    Exported with ``torch.onnx`` rather than optimum: optimum pins transformers < 4.58,
    which this project (transformers 5) cannot take.
    """
    try:
        import onnxruntime as ort
    except Exception as exc:  # noqa: BLE001 - optional dependency
        return f"skipped: onnxruntime not importable ({type(exc).__name__})"
    base_encoder = sequence_classifier(model_dir).base_model.eval()

    import inspect

    takes_types = "token_type_ids" in inspect.signature(base_encoder.forward).parameters

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = base_encoder

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if takes_types else {}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state

    encoder = Encoder().eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])
    path = str(workdir / "encoder.onnx")
    dummy = tokenizer(["a quote"], ["a speaker: a context"], return_tensors="pt")
    torch.onnx.export(encoder, tuple(dummy[n] for n in names), path, input_names=names,
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    session.run(None, {n: dummy[n].numpy() for n in names})  # warm-up

    def run() -> float:
        def go():
            enc = encode_quotes(tokenizer, quotes, max_length)  # tokenizing is timed, as in every row
            order = sorted(range(len(quotes)), key=lambda i: len(enc["input_ids"][i]))
            for k in range(0, len(order), batch_size):
                rows = [{key: enc[key][i] for key in names} for i in order[k : k + batch_size]]
                batch = tokenizer.pad(rows, return_tensors="np")
                session.run(None, {n: batch[n].astype(np.int64) for n in names})

        seconds, _ = timed(go)
        return len(quotes) / seconds

    return run


def predictor_variant(model_dir: Path, tag: str, precision: str, batch_size: int, fast: bool = True) -> Predictor:
    return Predictor.from_directory(model_dir, tag, device="cpu", precision=precision, batch_size=batch_size,
                                    onednn=fast, packed_encoder=fast)


def predictor_runner(pred: Predictor, quotes: list[QuoteInput], batch: int | None = None) -> Callable[[], float]:
    """Scores ``quotes`` in one call (sorted, bucketed) or, with ``batch``, in unsorted calls of that size
    (as a server's batcher hands them over); returns quotes/s."""
    pred.predict(quotes[:64])  # warm-up

    def run() -> float:
        if batch is None:
            seconds, _ = timed(lambda: pred.predict(quotes))
        else:
            seconds, _ = timed(lambda: [pred.predict(quotes[k : k + batch]) for k in range(0, len(quotes), batch)])
        return len(quotes) / seconds

    return run


def test_split_f1(pred: Predictor) -> float | None:
    from training.data import load_records
    from training.evaluation import evaluate

    path = ROOT / "training" / "data" / "corpus" / "test.jsonl"
    if not path.is_file():
        return None
    rep = evaluate(pred, load_records(path), list(pred.config.default_dyads))
    return float(np.mean([m["macro_f1"] for m in rep["dyads"].values()]))


def run_cli(tag: str, quotes: list[QuoteInput], env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps({"text": q.text, "speaker": q.speaker, "context": q.context}) + "\n" for q in quotes))
        cmd = [sys.executable, "-m", "service.cli", "score", str(src), str(Path(tmp) / "out.jsonl"), "--model", tag, "--no-progress"]
        seconds, out = timed(lambda: subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True))
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
    return len(quotes) / seconds


def run_http(tag: str, quotes: list[QuoteInput], levels: list[int], requests_per_level: int, env: dict,
             rounds: int = 1) -> dict[str, Any]:
    import httpx
    import psutil

    server = ServerProcess(env={**env, "STANCE_MODEL_TAG": tag})
    url, proc = server.url, server.proc
    peak_rss = 0
    stop = threading.Event()

    def watch_memory():
        nonlocal peak_rss
        while not stop.is_set():
            try:
                p = psutil.Process(proc.pid)
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak_rss = max(peak_rss, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    threading.Thread(target=watch_memory, daemon=True).start()
    results: dict[str, Any] = {}
    try:
        server.wait_ready()
        from benchmarks.http_load import encode_posts, run_closed_loop

        posts = encode_posts(url, "/classify", [
            {"quotes": [{"text": q.text, "speaker": q.speaker, "context": q.context}]} for q in quotes
        ])
        # Warm-up over the workload: oneDNN builds a kernel per new matrix shape, and the
        # in-process rows it is compared with have already seen every shape.
        run_closed_loop(url, posts, 8, min(len(posts), 400))
        single = run_closed_loop(url, posts[:SINGLE_QUOTES], 1, SINGLE_QUOTES)
        results["single_quote_p50_ms"] = single.percentile_ms(0.5)
        # Rounds, interleaved and best kept, as for the in-process rows it is compared with.
        for _ in range(rounds):
            for level in levels:
                summary = run_closed_loop(url, posts, level, requests_per_level).summary()
                if summary["quotes_per_s"] > results.get(f"c{level}", {}).get("quotes_per_s", 0.0):
                    results[f"c{level}"] = summary
    finally:
        stop.set()
        server.stop()
    results["peak_rss_mib"] = round(peak_rss / 2**20, 1)
    return results


SINGLE_QUOTES = 50  # the single-quote latency and the bare forward pass it is compared with use the same quotes


def bare_forward_ms(pred: Predictor, quotes: list[QuoteInput]) -> float:
    """Median in-process time of one quote's prediction, over the quotes the HTTP single-quote run sends."""
    pred.predict(quotes[:1])
    times = [timed(lambda q=q: pred.predict([q]))[0] for q in quotes]
    return statistics.median(times) * 1000


# ------------------------------------------------------------------- main
def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure scoring speed against same-run baselines (pip install -e '.[bench]')",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG or newest)")
    parser.add_argument("-n", type=int, default=20000, help="quotes in the workload")
    parser.add_argument("--per-quote-n", type=int, default=1000, help="quotes for the slow per-quote baseline")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--http-levels", default="1,8,32,64")
    parser.add_argument("--http-requests", type=int, default=600, help="requests per concurrency level")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per in-process row (best kept)")
    parser.add_argument("--skip", default="", help="comma-separated rows to skip (e.g. onnxruntime,http)")
    parser.add_argument("--json", default="bench_results/latest.json")
    parser.set_defaults(func=bench_main)


def bench_main(args: argparse.Namespace) -> int:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    torch.set_num_threads(args.threads)

    from models import model_store

    tag, model_dir = model_store.resolve(args.model)
    quotes = build_workload(args.n)
    env = {**os.environ, "STANCE_TORCH_THREADS": str(args.threads)}
    rows: dict[str, dict[str, Any]] = {}
    base = predictor_variant(model_dir, tag, "fp32", args.batch_size)
    tokenizer = base.model.tokenizer
    max_length = base.config.max_length
    enc = encode_quotes(tokenizer, quotes, max_length)
    mean_tokens = float(np.mean([len(x) for x in enc["input_ids"]]))
    per_quote_passes = 1
    if base.config.dyad_in_text:
        # One encoder pass per default dyad, each a little longer (the dyad heads the second segment):
        # tokens/s and the FLOP bound count every pass; the one-pass rows (pipeline, onnxruntime) are skipped.
        passes = [encode_quotes(tokenizer, quotes, max_length, dyads=[d] * len(quotes)) for d in base.config.default_dyads]
        enc, per_quote_passes = passes[0], len(passes)
        mean_tokens = float(np.mean([sum(len(p["input_ids"][i]) for p in passes) for i in range(len(quotes))]))
        skip |= {"pipeline", "onnxruntime"}
        print(f"dyad-in-text model: {len(passes)} encoder passes per quote ({', '.join(base.config.default_dyads)}); "
              "pipeline and onnxruntime rows skipped (they run one)", flush=True)
    print(f"workload: {len(quotes)} quotes, mean {mean_tokens:.1f} tokens (quote + speaker + context), "
          f"threads {args.threads}, model {tag}", flush=True)

    matmul = matmul_gflops(args.threads)
    flops_per_token = 2 * non_embedding_params(base.model)

    def record(name: str, qps: float | str, **extra: Any) -> None:
        rows[name] = {"quotes_per_s": qps if isinstance(qps, str) else round(qps, 1), **extra}
        print(f"  {name:<16} {rows[name]}", flush=True)

    # Every in-process row is measured ``--rounds`` times, interleaved, and keeps its best round:
    # a shared VM has slow minutes, and interleaving gives each row the same chance at a fast one.
    runners: dict[str, Callable[[], float] | str] = {}
    notes: dict[str, dict[str, Any]] = {}
    variants: dict[str, Predictor] = {"predictor": base}
    per_quote = quotes[: args.per_quote_n]
    if "pipeline" not in skip:
        runners["pipeline/1"] = pipeline_runner(model_dir, tokenizer, per_quote, 1, max_length)
        notes["pipeline/1"] = {"n": len(per_quote)}
        runners["pipeline/32"] = pipeline_runner(model_dir, tokenizer, quotes, 32, max_length)
    onnx_dir = tempfile.TemporaryDirectory()
    if "onnxruntime" not in skip:
        runners["onnxruntime"] = onnx_runner(model_dir, tokenizer, quotes, max_length, args.threads,
                                             Path(onnx_dir.name), args.batch_size)
    if "stock" not in skip:
        variants["predictor-stock"] = predictor_variant(model_dir, tag, "fp32", args.batch_size, fast=False)
        runners["predictor-stock"] = predictor_runner(variants["predictor-stock"], quotes)
    runners["predictor"] = predictor_runner(base, quotes)
    by_length = sorted(range(len(quotes)), key=lambda i: len(enc["input_ids"][i]))
    long_ids = by_length[-max(1, len(quotes) // 5):]
    runners["predictor-long"] = predictor_runner(base, [quotes[i] for i in long_ids])
    notes["predictor-long"] = {"n": len(long_ids),
                               "mean_tokens": round(float(np.mean([len(enc["input_ids"][i]) for i in long_ids])) * per_quote_passes, 1)}
    runners["predictor-random32"] = predictor_runner(base, per_quote, batch=32)
    notes["predictor-random32"] = {"n": len(per_quote)}
    for precision in ("bf16",):
        if precision not in skip:
            variants[f"predictor-{precision}"] = predictor_variant(model_dir, tag, precision, args.batch_size)
            runners[f"predictor-{precision}"] = predictor_runner(variants[f"predictor-{precision}"], quotes)

    best: dict[str, float] = {}
    for round_no in range(args.rounds):
        for name, run in runners.items():
            if not isinstance(run, str):
                best[name] = max(best.get(name, 0.0), run())
        print(f"  round {round_no + 1}/{args.rounds}: " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()), flush=True)
    onnx_dir.cleanup()
    for name, run in runners.items():
        if isinstance(run, str):
            record(name, run)
            continue
        extra = {**notes.get(name, {"n": len(quotes)})}
        if name.startswith("predictor") and name != "predictor-random32":
            extra["tokens_per_s"] = round(best[name] * extra.get("mean_tokens", mean_tokens))
        if name in variants and name != "predictor-stock":
            extra["macro_f1_test"] = test_split_f1(variants[name])
        record(name, best[name], **extra)
    qps = best["predictor"]
    if "cli" not in skip:
        record("cli", run_cli(tag, quotes, env), n=len(quotes))
    http: dict[str, Any] = {}
    if "http" not in skip:
        http = run_http(tag, quotes, [int(x) for x in args.http_levels.split(",")], args.http_requests, env,
                        args.rounds)
        http["bare_forward_ms"] = round(bare_forward_ms(base, quotes[:SINGLE_QUOTES]), 2)
        for key, value in http.items():
            if key.startswith("c"):
                rows[f"http/{key}"] = value
    # measured again at the end: the bound is the machine's best, not a slow moment's
    matmul = {k: max(v, matmul.get(k, 0.0)) for k, v in matmul_gflops(args.threads).items()}
    gflops = max(matmul.values())
    for name in FP32_ROWS & rows.keys():
        rows[name]["flop_bound_share"] = round(rows[name]["tokens_per_s"] * flops_per_token / (gflops * 1e9), 3)
    summary = {
        "model": tag,
        "machine": {"cpu": _cpu_name(), "threads": args.threads,
                    "fp32_matmul_gflops": round(gflops, 1), "fp32_matmul_gflops_by_path": matmul},
        "workload": {"n": len(quotes), "mean_tokens": round(mean_tokens, 1)},
        "flops_per_token": flops_per_token,
        "rows": rows,
        "http": http,
    }
    pq = rows.get("pipeline/1", {}).get("quotes_per_s")
    pb = rows.get("pipeline/32", {}).get("quotes_per_s")
    ours = rows["predictor"]["quotes_per_s"]
    ratios = {}
    if isinstance(pq, float):
        ratios["predictor_vs_pipeline_per_quote"] = round(ours / pq, 2)
    if isinstance(pb, float):
        ratios["predictor_vs_pipeline_batched"] = round(ours / pb, 2)
    ort = rows.get("onnxruntime", {}).get("quotes_per_s")
    if isinstance(ort, float):
        ratios["predictor_vs_onnxruntime"] = round(ours / ort, 2)
    for precision in ("bf16",):
        if f"predictor-{precision}" in rows:
            ratios[f"{precision}_vs_fp32"] = round(rows[f"predictor-{precision}"]["quotes_per_s"] / ours, 2)
    if "c32" in http:
        ratios["http_c32_vs_predictor"] = round(http["c32"]["quotes_per_s"] / ours, 2)
        ratios["single_quote_p50_vs_bare_forward"] = round(http["single_quote_p50_ms"] / http["bare_forward_ms"], 2)
    summary["ratios"] = ratios
    print()
    print(format_table(summary))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_table(summary: dict[str, Any]) -> str:
    lines = [f"| path | quotes/s | notes |", "|---|---:|---|"]
    for name, row in summary["rows"].items():
        notes = ", ".join(f"{k}={v}" for k, v in row.items() if k != "quotes_per_s")
        lines.append(f"| {name} | {row['quotes_per_s']} | {notes} |")
    lines.append("")
    m = summary["machine"]
    by_path = ", ".join(f"{k} {v}" for k, v in m.get("fp32_matmul_gflops_by_path", {}).items())
    lines.append(f"{m['cpu']}: fp32 matmul {m['fp32_matmul_gflops']} GFLOP/s ({by_path}) on {m['threads']} threads; "
                 f"{summary['flops_per_token'] / 1e6:.1f} MFLOP/token")
    for k, v in summary.get("ratios", {}).items():
        lines.append(f"{k}: {v}")
    if summary.get("http"):
        lines.append(f"service peak RSS under load: {summary['http'].get('peak_rss_mib')} MiB; "
                     f"single-quote p50 {summary['http'].get('single_quote_p50_ms')} ms vs bare forward "
                     f"{summary['http'].get('bare_forward_ms')} ms")
    return "\n".join(lines)
