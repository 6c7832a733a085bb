"""Every ``STANCE_*`` setting, read from the environment once, in one place.

The README's settings table is generated from :data:`SETTINGS` (and a test
checks the two agree), so a setting has one name, one default, one limit and
one description.  A bad value is an error naming the variable and the value.
"""

from __future__ import annotations

from models.errors import StanceError

import functools
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable


class SettingsError(StanceError, ValueError):
    """An environment variable with a value outside its type or range."""


@dataclass(frozen=True)
class Setting:
    env: str
    default: Any
    help: str
    minimum: int | None = None
    choices: tuple[str, ...] = ()


def _int(spec: Setting, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{spec.env} must be an integer, got {raw!r}") from None
    if spec.minimum is not None and value < spec.minimum:
        raise SettingsError(f"{spec.env} must be >= {spec.minimum}, got {value}")
    return value


def _bool(spec: Setting, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{spec.env} must be 1 or 0, got {raw!r}")


def _str(spec: Setting, raw: str) -> str:
    if spec.choices and raw not in spec.choices:
        raise SettingsError(f"{spec.env} must be one of {list(spec.choices)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """The process's settings; field names are the variables without ``STANCE_``, lower-cased."""

    model_tag: str
    device: str
    precision: str
    torch_threads: int
    max_batch_size: int
    max_latency_ms: int
    max_concurrency: int
    request_timeout_s: int
    keep_alive_s: int
    access_log: bool
    trace_predict_paths: bool
    api_key: str
    max_quote_chars: int
    max_speaker_chars: int
    max_context_chars: int
    max_quotes: int
    max_article_chars: int
    max_body_bytes: int
    max_tokens: int
    cache_dir: str
    low_confidence: int


SETTINGS: dict[str, Setting] = {
    "model_tag": Setting("STANCE_MODEL_TAG", "", "model version to serve; default: the promoted one, else the newest"),
    "device": Setting("STANCE_DEVICE", "auto", "`auto` (CUDA if torch sees one), `cpu`, `cuda`, `cuda:1`"),
    "precision": Setting("STANCE_PRECISION", "fp32", "inference precision", choices=("fp32", "bf16")),
    "torch_threads": Setting("STANCE_TORCH_THREADS", 0, "torch intra-op threads; 0 = torch's default", minimum=0),
    "max_batch_size": Setting("STANCE_MAX_BATCH_SIZE", 64, "quotes per forward pass in the service's batcher", minimum=1),
    "max_latency_ms": Setting("STANCE_MAX_LATENCY_MS", 10000, "a request queued longer than this gets 503", minimum=1),
    "max_concurrency": Setting("STANCE_MAX_CONCURRENCY", 64, "requests in flight before 429", minimum=1),
    "request_timeout_s": Setting("STANCE_REQUEST_TIMEOUT_S", 60, "a request running longer gets 504", minimum=1),
    "keep_alive_s": Setting("STANCE_KEEP_ALIVE_S", 75, "idle keep-alive under `stance serve`", minimum=1),
    "access_log": Setting("STANCE_ACCESS_LOG", False, "log every request (costs CPU on the predict paths)"),
    "trace_predict_paths": Setting("STANCE_TRACE_PREDICT_PATHS", False, "trace spans for /classify and /analyze"),
    "api_key": Setting("STANCE_API_KEY", "", "if set, every endpoint but probes, /info, / and docs needs it (the page: /ui?key=…)"),
    "max_quote_chars": Setting("STANCE_MAX_QUOTE_CHARS", 2000, "characters in a quote's `text`", minimum=1),
    "max_speaker_chars": Setting("STANCE_MAX_SPEAKER_CHARS", 300, "characters in `speaker`", minimum=1),
    "max_context_chars": Setting("STANCE_MAX_CONTEXT_CHARS", 4000, "characters in `context`", minimum=1),
    "max_quotes": Setting("STANCE_MAX_QUOTES", 256, "quotes per /classify request", minimum=1),
    "max_article_chars": Setting("STANCE_MAX_ARTICLE_CHARS", 100_000, "characters in an /analyze `article`", minimum=1),
    "max_body_bytes": Setting("STANCE_MAX_BODY_BYTES", 4 * 1024 * 1024, "request body size", minimum=1024),
    "max_tokens": Setting("STANCE_MAX_TOKENS", 0, "token cap per quote at inference; 0 = the model's own", minimum=0),
    "cache_dir": Setting("STANCE_CACHE_DIR", str(Path.home() / ".cache" / "stance"), "where unpacked backbones live"),
    "low_confidence": Setting("STANCE_LOW_CONFIDENCE_PCT", 60, "labels below this probability (%) are flagged", minimum=1),
}

_PARSERS: dict[type, Callable[[Setting, str], Any]] = {int: _int, bool: _bool, str: _str}


def read(environ: dict[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        spec = SETTINGS[f.name]
        raw = (env.get(spec.env) or "").strip()
        values[f.name] = _PARSERS[type(spec.default)](spec, raw) if raw else spec.default
    return Settings(**values)


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    """This process's settings, read once."""
    return read()


def apply_offline_env() -> None:
    """Models come from packages on disk: tell Hugging Face libraries never to reach a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS.values():
        default = spec.default if spec.env != "STANCE_CACHE_DIR" else "~/.cache/stance"
        if isinstance(default, bool):
            default = int(default)
        extra = f" (one of {', '.join(spec.choices)})" if spec.choices else ""
        extra += f" (≥ {spec.minimum})" if spec.minimum is not None else ""
        shown = f"`{default}`" if default != "" else "(unset)"
        rows.append(f"| `{spec.env}` | {shown} | {spec.help}{extra} |")
    return "\n".join(rows)
