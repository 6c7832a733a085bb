"""``report.html`` for every trained version: one self-contained page a person reads to judge a model.

Confusion matrices and a reliability diagram as inline images (matplotlib,
base64 PNG: no external URL anywhere), per-label precision / recall / F1,
the seed article's real quotes with their predictions, the most confident
errors on the test split, and a side-by-side with the promoted version on the
promotion gate's file.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Sequence

import numpy as np

from models.input_encoding import QuoteInput
from models.label_schema import PROJECT_DYADS, dyad_key

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1d2329;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:right;
vertical-align:top}th{background:#f2f4f7}td.t{text-align:left;max-width:36rem}.ok{color:#17663a}.bad{color:#a11d1d}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid figure{margin:0}img{max-width:100%}code{background:#f2f4f7;padding:0 .2rem}
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _confusion_image(title: str, labels: list[str], matrix: list[list[int]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > m.sum(1)[i] * 0.6 else "black")
    src = _png(fig)
    plt.close(fig)
    return src


def _reliability_image(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, 11)
    for name, (conf, correct) in curves.items():
        xs, ys = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (conf > lo) & (conf <= hi)
            if sel.sum() >= 5:
                xs.append(conf[sel].mean())
                ys.append(correct[sel].mean())
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel("confidence (top label's calibrated probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Reliability on the test split", fontsize=10)
    src = _png(fig)
    plt.close(fig)
    return src


def _metrics_table(report: dict[str, Any]) -> str:
    rows = []
    targets = [(d, m) for d, m in report.get("dyads", {}).items()]
    if "sentiment" in report:
        targets.append(("sentiment", report["sentiment"]))
    for name, m in targets:
        if name not in (*PROJECT_DYADS, "sentiment"):
            continue
        for label, pl in m["per_label"].items():
            rows.append(f"<tr><td class=t>{html.escape(name)}</td><td class=t>{label}</td><td>{pl['precision']:.3f}</td>"
                        f"<td>{pl['recall']:.3f}</td><td>{pl['f1']:.3f}</td><td>{pl['support']}</td></tr>")
    return ("<table><tr><th>target</th><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
            + "".join(rows) + "</table>")


def _headline(reports: dict[str, Any]) -> str:
    rows = []
    for split, rep in reports.items():
        if not isinstance(rep, dict) or "dyads" not in rep:
            continue
        cells = [f"{rep['dyads'][d]['macro_f1']:.3f}" if d in rep["dyads"] else "–" for d in PROJECT_DYADS]
        cells.append(f"{rep['sentiment']['macro_f1']:.3f}" if "sentiment" in rep else "–")
        cal = rep.get("calibration", {})
        rows.append(f"<tr><td class=t>{split} ({rep['n_quotes']})</td>" + "".join(f"<td>{c}</td>" for c in cells)
                    + f"<td>{cal.get('stance_ece', float('nan')):.3f}</td><td>{cal.get('sentiment_ece', float('nan')):.3f}</td></tr>")
    head = "".join(f"<th>{d} macro-F1</th>" for d in PROJECT_DYADS)
    return (f"<table><tr><th>set</th>{head}<th>sentiment macro-F1</th><th>stance ECE</th><th>sentiment ECE</th></tr>"
            + "".join(rows) + "</table>")


def _gate_table(gate: dict[str, Any]) -> str:
    if not gate:
        return "<p>Not gated (not registered through the promotion gate).</p>"
    cand, inc = gate.get("candidate", {}), gate.get("incumbent", {})
    rows = []
    for head in (*PROJECT_DYADS, "sentiment"):
        c, i = cand.get(head), inc.get(head)
        cls = "" if i is None or c is None else ("ok" if c >= i - gate.get("tolerance", 0) else "bad")
        rows.append(f"<tr><td class=t>{head}</td><td class={cls}>{'' if c is None else f'{c:.3f}'}</td>"
                    f"<td>{'' if i is None else f'{i:.3f}'}</td></tr>")
    verdict = "promoted" if gate.get("promoted") else "not promoted"
    return (f"<p><b>{verdict}</b>: {html.escape(str(gate.get('reason', '')))} (gate file: "
            f"<code>{html.escape(str(gate.get('file', '')))}</code>, tolerance {gate.get('tolerance', 0)})</p>"
            f"<table><tr><th>head</th><th>this version</th><th>promoted {html.escape(str(gate.get('incumbent_tag') or '–'))}"
            f"</th></tr>" + "".join(rows) + "</table>")


def _predict(predictor: Any, records: Sequence[Any]) -> list[Any]:
    quotes = [QuoteInput(r.text, r.speaker, r.context, getattr(r, "speaker_actor", "")) for r in records]
    return predictor.predict(quotes, list(PROJECT_DYADS))


def _gold(record: Any, dyad: str) -> str | None:
    key = dyad_key(dyad)
    return next((v for d, v in record.labels.items() if dyad_key(d) == key), None)


def render_report(tag: str, metadata: dict[str, Any], reports: dict[str, Any], predictor: Any,
                  splits: dict[str, Sequence[Any]]) -> str:
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(tag)}</title><style>{_STYLE}</style><body>",
             f"<h1>Model report: {html.escape(tag)}</h1>",
             f"<p>Backbone <code>{html.escape(str(metadata.get('backbone')))}</code>, data sha256 "
             f"<code>{html.escape(str(metadata.get('data_hash', ''))[:16])}</code>, dyads trained: "
             f"{html.escape(', '.join(metadata.get('dyads', [])))}.</p>",
             "<h2>Headline</h2>", _headline(reports),
             "<h2>Against the promoted version</h2>", _gate_table(metadata.get("gate", {}))]
    # the held-out set the figures come from: test, else dev, else the seed article (a tiny --data file
    # may have no test or dev records of its own)
    shown = next((k for k in ("test", "dev", "seed-article")
                  if isinstance(reports.get(k), dict) and reports[k].get("dyads")), "")
    test = reports.get(shown, {}) if shown else {}
    images = []
    for d in PROJECT_DYADS:
        if d in test.get("dyads", {}):
            c = test["dyads"][d]["confusion"]
            images.append(f"<figure><img alt='confusion matrix {d}' src='{_confusion_image(d, c['labels'], c['matrix'])}'></figure>")
    if "sentiment" in test:
        c = test["sentiment"]["confusion"]
        images.append(f"<figure><img alt='confusion matrix sentiment' src='{_confusion_image('sentiment', c['labels'], c['matrix'])}'></figure>")
    parts += [f"<h2>Confusion matrices, {html.escape(shown or 'no evaluated set')} (rows: gold; shade: share of the row)</h2>",
              "<div class=grid>", *images, "</div>"]
    test_records = list(splits.get("test") or [])
    if predictor is not None and test_records:
        preds = _predict(predictor, test_records)
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        errors = []
        for d in PROJECT_DYADS:
            conf, correct = [], []
            for r, p in zip(test_records, preds):
                gold = _gold(r, d)
                if gold is None:
                    continue
                top = p.stance[d]
                conf.append(max(top.scores.values()))
                correct.append(top.label == gold)
                if top.label != gold:
                    errors.append((max(top.scores.values()), d, r, top.label, gold))
            curves[d] = (np.asarray(conf), np.asarray(correct, dtype=float))
        s_conf = [max(p.sentiment.scores.values()) for r, p in zip(test_records, preds) if r.sentiment]
        s_ok = [p.sentiment.label == r.sentiment for r, p in zip(test_records, preds) if r.sentiment]
        curves["sentiment"] = (np.asarray(s_conf), np.asarray(s_ok, dtype=float))
        parts += ["<h2>Calibration</h2>", f"<img alt='reliability diagram' src='{_reliability_image(curves)}'>"]
        errors.sort(key=lambda e: -e[0])
        rows = "".join(
            f"<tr><td>{c:.2f}</td><td class=t>{html.escape(d)}</td><td class=t>{html.escape(r.text[:220])}</td>"
            f"<td class=t>{html.escape(r.speaker)}</td><td class=t>{html.escape(pred)}</td><td class=t>{html.escape(gold)}</td></tr>"
            for c, d, r, pred, gold in errors[:20])
        parts += ["<h2>Most confident errors (test split)</h2>",
                  "<table><tr><th>p</th><th>dyad</th><th>quote</th><th>speaker</th><th>predicted</th><th>gold</th></tr>"
                  + rows + "</table>"]
    parts += [f"<h2>Per-label precision, recall, F1 ({html.escape(shown or 'no evaluated set')})</h2>", _metrics_table(test)]
    seeds = list(splits.get("seed") or [])
    if predictor is not None and seeds:
        preds = _predict(predictor, seeds)
        rows = []
        for r, p in zip(seeds, preds):
            cells = []
            for d in PROJECT_DYADS:
                gold, got = _gold(r, d), p.stance[d].label
                cells.append(f"<td class='t {'ok' if gold == got else 'bad'}'>{got} ({p.stance[d].scores[got]:.2f})"
                             f"{'' if gold == got else f' — gold {gold}'}</td>")
            s_ok = p.sentiment.label == r.sentiment
            cells.append(f"<td class='t {'ok' if s_ok else 'bad'}'>{p.sentiment.label}"
                         f"{'' if s_ok else f' — gold {r.sentiment}'}</td>")
            rows.append(f"<tr><td class=t>{html.escape(r.text[:200])}</td><td class=t>{html.escape(r.speaker)}</td>{''.join(cells)}</tr>")
        head = "".join(f"<th>{d}</th>" for d in PROJECT_DYADS)
        parts += ["<h2>The seed article's real quotes</h2>",
                  f"<table><tr><th>quote</th><th>speaker</th>{head}<th>sentiment</th></tr>" + "".join(rows) + "</table>"]
    parts.append("</body></html>")
    return "\n".join(parts)
