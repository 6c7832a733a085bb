"""The one place that writes to the BentoML model store.

``bentoml.models.create`` builds the new version in a temporary directory and
moves it into the store only when the ``with`` block ends without an error,
so a failed or interrupted save leaves every existing version untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from models.label_schema import schema_dict
from models.network import StanceModel


def _card(tag: str, metadata: dict[str, Any], report_text: str) -> str:
    cfg = metadata["training_config"]
    return "\n".join(
        [
            f"# {tag}",
            "",
            "Dyadic stance (cooperative / hedging / adversarial / none) and sentiment classifier.",
            "",
            f"- backbone: `{metadata['backbone']}`",
            f"- data: `{cfg['data']}` (sha256 `{metadata['data_hash']}`)",
            f"- trained dyads: {', '.join(metadata['dyads'])}",
            f"- default dyads: {', '.join(metadata['default_dyads'])}",
            f"- epochs {cfg['epochs']}, lr {cfg['learning_rate']}, batch {cfg['batch_size']}, seed {cfg['seed']}",
            "",
            "## Evaluation",
            "",
            "```",
            report_text,
            "```",
            "",
        ]
    )


def _store_safe(value: Any) -> Any:
    """BentoML metadata takes basic types only: None becomes "" (JSON in report.json keeps the nulls)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(k): _store_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_store_safe(v) for v in value]
    return value


def save_to_store(
    model: StanceModel,
    model_name: str,
    training_config: dict[str, Any],
    data_hash: str,
    reports: dict[str, Any],
    headline: dict[str, float],
    report_text: str,
    gate: dict[str, Any] | None = None,
    predictor: Any = None,
    splits: dict[str, Sequence[Any]] | None = None,
) -> tuple[str, str]:
    """Write the model with its card, metadata and ``report.html``; return (new tag, report path)."""
    import bentoml

    from training.report_html import render_report

    metadata: dict[str, Any] = {
        "label_schema": schema_dict(),
        "dyads": list(model.config.dyads),
        "default_dyads": list(model.config.default_dyads),
        "backbone": model.config.backbone,
        "data_hash": data_hash,
        "training_config": training_config,
        "metrics": headline,
        "gate": gate or {},
        "stance_temperature": model.config.stance_temperature,
        "sentiment_temperature": model.config.sentiment_temperature,
    }
    labels = {"task": "dyadic-stance", "framework": "pytorch-safetensors"}
    with bentoml.models.create(model_name, labels=labels, metadata=_store_safe(metadata)) as ref:
        path = Path(ref.path)
        model.save_pretrained(path)
        (path / "report.json").write_text(json.dumps(reports, indent=2))
        (path / "MODEL_CARD.md").write_text(_card(str(ref.tag), metadata, report_text))
        html = render_report(str(ref.tag), metadata, reports, predictor, splits or {})
        (path / "report.html").write_text(html, encoding="utf-8")
        tag = str(ref.tag)
    from models.model_store import resolve

    _, final = resolve(tag)
    return tag, str(final / "report.html")
