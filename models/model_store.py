"""Finding a model version in the BentoML model store (read side only).

Every ``stance train`` registers a version; one of them is *promoted*: the
one the service and ``stance score`` use by default.  The promotion pointer
is a small JSON file in the store's home (``<BENTOML_HOME>/stance/promoted.json``,
with the history ``stance rollback`` walks back), written only by
:mod:`training.model_admin`.  Which tag is used: ``STANCE_MODEL_TAG`` if set,
else the promoted version, else the newest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from models.errors import StanceError

MODEL_NAME = "stance-classifier"
MODEL_TAG_ENV = "STANCE_MODEL_TAG"


class ModelNotFound(StanceError, LookupError):
    """The requested tag is not in the store; the message names the tag and the store."""


def store_home() -> Path:
    from bentoml._internal.configuration.containers import BentoMLContainer

    return Path(BentoMLContainer.bentoml_home.get())


def promotion_file() -> Path:
    return store_home() / "stance" / "promoted.json"


def promotion_state() -> dict[str, Any]:
    """``{"promoted": tag or None, "history": [older promoted tags, newest last]}``."""
    path = promotion_file()
    if not path.is_file():
        return {"promoted": None, "history": []}
    try:
        state = json.loads(path.read_text())
    except ValueError as exc:
        raise ModelNotFound(f"{path} is not valid JSON ({exc}); fix it or run 'stance promote TAG'") from None
    return {"promoted": state.get("promoted"), "history": list(state.get("history", []))}


def exists(tag: str) -> bool:
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        bentoml.models.get(tag)
    except NotFound:
        return False
    return True


def promoted_tag() -> str | None:
    tag = promotion_state()["promoted"]
    return tag if tag and exists(tag) else None


def configured_tag() -> str:
    """``STANCE_MODEL_TAG``, else the promoted version, else the newest ``stance-classifier``."""
    from models.settings import settings

    explicit = os.environ.get(MODEL_TAG_ENV, "").strip() or settings().model_tag
    if explicit:
        return explicit
    try:
        promoted = promoted_tag()
    except ModelNotFound:
        promoted = None
    return promoted or f"{MODEL_NAME}:latest"


def split_tags(spec: str) -> list[str]:
    """``A,B`` names an ensemble of stored models (``stance eval --model``, ``stance train --teacher``)."""
    tags = [t.strip() for t in (spec or "").split(",") if t.strip()]
    if not tags:
        raise ModelNotFound(f"expected a model tag, or several joined by commas, got {spec!r}")
    return tags


def resolve(tag: str | None = None) -> tuple[str, Path]:
    """(full tag, directory) of a stored model.

    ``NAME`` means ``NAME:latest``; a bare version (``on7nqsxqaklkaax4``, as ``stance models`` and the
    README print them) means that version of ``stance-classifier``.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    asked = tag or configured_tag()
    candidates = [asked] if ":" in asked else [f"{asked}:latest", f"{MODEL_NAME}:{asked}"]
    for wanted in candidates:
        try:
            ref = bentoml.models.get(wanted)
            break
        except NotFound:
            continue
    else:
        raise ModelNotFound(
            f"model {asked!r} is not in the BentoML model store at {store_home()}; list versions with "
            "'stance models' or build one with 'stance train'"
        )
    return str(ref.tag), Path(ref.path)


def has_any(name: str = MODEL_NAME) -> bool:
    import bentoml

    return any(m.tag.name == name for m in bentoml.models.list())
