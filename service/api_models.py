"""Request and response models of the HTTP API, with their limits and examples.

The limits live here, once: the request models enforce them, the request
guard reports them by name, the README table is checked against them.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from models.label_schema import SchemaError, split_dyad


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


MAX_QUOTE_CHARS = _env_int("STANCE_MAX_QUOTE_CHARS", 2000)
MAX_SPEAKER_CHARS = 300
MAX_CONTEXT_CHARS = _env_int("STANCE_MAX_CONTEXT_CHARS", 4000)
MAX_QUOTES_PER_REQUEST = _env_int("STANCE_MAX_QUOTES", 256)
MAX_ARTICLE_CHARS = _env_int("STANCE_MAX_ARTICLE_CHARS", 100_000)
MAX_DYADS_PER_QUOTE = 16
MAX_BODY_BYTES = _env_int("STANCE_MAX_BODY_BYTES", 4 * 1024 * 1024)
MAX_JSON_DEPTH = 16

# field name -> (limit, unit): what a 4xx error reports for that field
LIMITS: dict[str, tuple[int, str]] = {
    "text": (MAX_QUOTE_CHARS, "characters"),
    "speaker": (MAX_SPEAKER_CHARS, "characters"),
    "context": (MAX_CONTEXT_CHARS, "characters"),
    "quotes": (MAX_QUOTES_PER_REQUEST, "quotes per request"),
    "article": (MAX_ARTICLE_CHARS, "characters"),
    "dyads": (MAX_DYADS_PER_QUOTE, "dyads"),
    "body": (MAX_BODY_BYTES, "bytes"),
    "depth": (MAX_JSON_DEPTH, "levels of JSON nesting"),
}

EXAMPLE_QUOTE = {
    "text": "They repeated Russia’s commitment to maintaining Israel’s national security,",
    "speaker": "Benjamin Netanyahu",
    "context": "The discussions centered around Iran and the situation in Syria, Netanyahu tweeted after the meeting.",
}


def _check_dyads(value: Optional[list[str]]) -> Optional[list[str]]:
    if value is None:
        return value
    for name in value:
        try:
            split_dyad(name)
        except SchemaError as exc:
            raise ValueError(str(exc)) from None
    return value


class QuoteIn(BaseModel):
    """One quote to classify."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE_QUOTE})

    text: Annotated[str, Field(min_length=1, max_length=MAX_QUOTE_CHARS, description="the quoted words")]
    speaker: Annotated[str, Field(max_length=MAX_SPEAKER_CHARS, description="who said it")] = ""
    context: Annotated[
        str, Field(max_length=MAX_CONTEXT_CHARS, description="the article's sentences around the quote")
    ] = ""
    dyads: Annotated[
        Optional[list[str]],
        Field(
            default=None,
            max_length=MAX_DYADS_PER_QUOTE,
            description="dyads to label, e.g. ['russia-iran', 'russia-turkey']; default: the model's default dyads",
        ),
    ] = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise _blank("text")
        return value

    @field_validator("dyads")
    @classmethod
    def _valid_dyads(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        return _check_dyads(value)


def _blank(name: str) -> PydanticCustomError:
    """Blank text is a too-short string: the error carries the minimum, like an empty one."""
    return PydanticCustomError(
        "string_too_short", f"{name} is empty or only whitespace", {"min_length": 1}
    )


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"quotes": [EXAMPLE_QUOTE]}})

    quotes: Annotated[list[QuoteIn], Field(min_length=1, max_length=MAX_QUOTES_PER_REQUEST)]


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article: Annotated[str, Field(min_length=1, max_length=MAX_ARTICLE_CHARS, description="raw article text")]
    dyads: Annotated[Optional[list[str]], Field(default=None, max_length=MAX_DYADS_PER_QUOTE)] = None

    @field_validator("article")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise _blank("article")
        return value

    @field_validator("dyads")
    @classmethod
    def _valid_dyads(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        return _check_dyads(value)


class LabelOut(BaseModel):
    label: str
    scores: dict[str, float] = Field(description="probability per label, highest first")


class DyadOut(LabelOut):
    trained: bool = Field(description="False when the model never saw this dyad in training")


class QuoteOut(BaseModel):
    stance: dict[str, DyadOut]
    sentiment: LabelOut
    model: str = Field(description="tag of the model version that answered")


class AnalyzedQuote(QuoteOut):
    text: str
    speaker: str
    context: str
    start: int = Field(description="character offset of the first quoted character")
    end: int = Field(description="character offset just past the last quoted character")


class AnalyzeOut(BaseModel):
    quotes: list[AnalyzedQuote]
    model: str
