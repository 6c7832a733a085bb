"""Model versions: the promotion gate, ``stance models``, ``stance promote TAG``, ``stance rollback``.

A trained model is registered as a *candidate*.  It is promoted (served by
default from the service's next start) only if, on the fixed gate file, its
macro-F1 for each project dyad and for sentiment is at least the promoted
version's minus a tolerance; or with ``--promote force``.  The very first
version is promoted.  The pointer file is replaced atomically, and a
failed or refused retrain never touches it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.errors import StanceError
from models.label_schema import PROJECT_DYADS
from models.model_store import MODEL_NAME, ModelNotFound, exists, promotion_file, promotion_state, resolve

GATE_TOLERANCE = 0.01
GATE_HEADS = (*PROJECT_DYADS, "sentiment")


class PromotionError(StanceError):
    """A promotion or rollback that cannot be done; the message says why."""


@dataclass
class GateResult:
    promoted: bool
    reason: str
    candidate: dict[str, float] = field(default_factory=dict)
    incumbent: dict[str, float] = field(default_factory=dict)
    incumbent_tag: str | None = None
    tolerance: float = GATE_TOLERANCE

    def to_json(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason, "candidate": self.candidate,
                "incumbent": self.incumbent, "incumbent_tag": self.incumbent_tag, "tolerance": self.tolerance}


def gate_scores(report: dict[str, Any]) -> dict[str, float]:
    """Macro-F1 per gate head from an ``evaluate`` report."""
    out = {d: round(report["dyads"][d]["macro_f1"], 4) for d in PROJECT_DYADS if d in report.get("dyads", {})}
    if "sentiment" in report:
        out["sentiment"] = round(report["sentiment"]["macro_f1"], 4)
    return out


def decide(candidate: dict[str, float], incumbent: dict[str, float] | None, tolerance: float = GATE_TOLERANCE,
           incumbent_tag: str | None = None) -> GateResult:
    if not incumbent:
        return GateResult(True, "no promoted version yet", candidate, {}, incumbent_tag, tolerance)
    worse = [h for h in GATE_HEADS if h in incumbent and candidate.get(h, -1.0) < incumbent[h] - tolerance]
    if worse:
        detail = ", ".join(f"{h} {candidate.get(h, float('nan')):.3f} < {incumbent[h]:.3f} - {tolerance:g}" for h in worse)
        return GateResult(False, f"worse than {incumbent_tag} on {detail}", candidate, incumbent, incumbent_tag, tolerance)
    return GateResult(True, f"matches or beats {incumbent_tag} within {tolerance:g} on every head", candidate,
                      incumbent, incumbent_tag, tolerance)


def write_promotion(tag: str, previous: str | None, history: list[str]) -> None:
    """Point the store's default at ``tag``, atomically (temp file + rename)."""
    path = promotion_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous and previous != tag:
        history = [h for h in history if h != previous] + [previous]
    state = {"promoted": tag, "history": history[-50:], "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".promoted-")
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def promote(tag: str) -> str:
    """Make ``tag`` the promoted version (after checking it loads)."""
    from models.network import verify_model_dir

    full, path = resolve(tag)
    verify_model_dir(path)
    state = promotion_state()
    write_promotion(full, state["promoted"], state["history"])
    return full


def rollback() -> str:
    """Back to the version promoted before the current one."""
    state = promotion_state()
    history = [t for t in state["history"] if exists(t)]
    if not history:
        raise PromotionError("nothing to roll back to: no earlier promoted version is in the store")
    target = history.pop()
    path = promotion_file()
    state = {"promoted": target, "history": history, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".promoted-")
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, path)
    return target


def versions() -> list[dict[str, Any]]:
    """Every stored version, newest first, with what an operator compares them by."""
    import bentoml

    promoted = promotion_state()["promoted"]
    out = []
    for m in bentoml.models.list():
        if m.tag.name != MODEL_NAME:
            continue
        meta = dict(m.info.metadata)
        out.append({
            "tag": str(m.tag),
            "promoted": str(m.tag) == promoted,
            "created": m.info.creation_time.isoformat(timespec="seconds"),
            "backbone": meta.get("backbone", ""),
            "data_hash": meta.get("data_hash", ""),
            "metrics": meta.get("gate", {}).get("candidate") or {
                k: v for k, v in meta.get("metrics", {}).items() if k.startswith("test/") and k.endswith("macro_f1")
            },
            "gate": meta.get("gate", {}),
        })
    out.sort(key=lambda r: r["created"], reverse=True)
    return out


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list model versions with metrics, data hash, backbone, promoted")
    models.add_argument("--json", action="store_true", help="print a JSON list of objects")
    models.set_defaults(func=models_main)
    prom = sub.add_parser("promote", help="make TAG the version served by default (from the next start)")
    prom.add_argument("tag")
    prom.set_defaults(func=lambda a: _print_state(promote(a.tag), "promoted"))
    back = sub.add_parser("rollback", help="go back to the previously promoted version")
    back.set_defaults(func=lambda a: _print_state(rollback(), "rolled back to"))


def _print_state(tag: str, verb: str) -> int:
    print(json.dumps({"status": verb.replace(" ", "_"), "tag": tag,
                      "note": "a running service picks it up on restart"}))
    return 0


def models_main(args: argparse.Namespace) -> int:
    rows = versions()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no stance-classifier versions in the store; build one with 'stance train'")
        return 0
    print(f"{'':2}{'tag':<38}{'created':<27}{'backbone':<10}{'RI':>7}{'RIr':>7}{'sent':>7}  data")
    for r in rows:
        m = r["metrics"]
        get = lambda k: m.get(k, m.get(f"test/{k}/macro_f1", float("nan")))  # noqa: E731
        print(f"{'*' if r['promoted'] else ' ':2}{r['tag']:<38}{r['created']:<27}{r['backbone'][:9]:<10}"
              f"{get('russia-israel'):>7.3f}{get('russia-iran'):>7.3f}{get('sentiment'):>7.3f}  {r['data_hash'][:12]}")
    print("* promoted (served by default)")
    return 0


__all__ = ["GateResult", "ModelNotFound", "PromotionError", "decide", "gate_scores", "promote", "rollback", "versions",
           "write_promotion"]
