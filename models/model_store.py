"""Finding a model version in the BentoML model store (read side only)."""

from __future__ import annotations

import os
from pathlib import Path

MODEL_NAME = "stance-classifier"
MODEL_TAG_ENV = "STANCE_MODEL_TAG"


class ModelNotFound(LookupError):
    """The requested tag is not in the store; the message names the tag and the store."""


def configured_tag() -> str:
    """The tag from ``STANCE_MODEL_TAG``, else the newest ``stance-classifier``."""
    return os.environ.get(MODEL_TAG_ENV, "").strip() or f"{MODEL_NAME}:latest"


def resolve(tag: str | None = None) -> tuple[str, Path]:
    """(full tag, directory) of a stored model."""
    import bentoml
    from bentoml.exceptions import NotFound

    wanted = tag or configured_tag()
    if ":" not in wanted:
        wanted = f"{wanted}:latest"
    try:
        ref = bentoml.models.get(wanted)
    except NotFound as exc:
        raise ModelNotFound(
            f"model {wanted!r} is not in the BentoML model store at "
            f"{os.environ.get('BENTOML_HOME', '~/bentoml')}; list versions with "
            "'bentoml models list' or build one with 'stance train'"
        ) from exc
    return str(ref.tag), Path(ref.path)


def has_any(name: str = MODEL_NAME) -> bool:
    import bentoml

    return any(m.tag.name == name for m in bentoml.models.list())
