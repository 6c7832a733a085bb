"""Request and response models of the HTTP API, with their limits and examples.

The limits live here, once, read from :mod:`models.settings`: the request
models enforce them, the OpenAPI schema at ``/docs.json`` states them
(lengths, counts, patterns), the request guard reports them by name.  The
input models are what BentoML builds its schema from *and* what the guard
validates with, and a body the guard has validated is handed on parsed, so
each body is parsed once.

A JSON ``null`` for an optional field means the field is absent.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from _bentoml_sdk.io_models import IODescriptor  # BentoML's base for an API's input spec (no public alias)
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from models.label_schema import STANCE_LABELS, SchemaError, split_dyad
from models.settings import settings

_S = settings()
MAX_QUOTE_CHARS = _S.max_quote_chars
MAX_SPEAKER_CHARS = _S.max_speaker_chars
MAX_CONTEXT_CHARS = _S.max_context_chars
MAX_QUOTES_PER_REQUEST = _S.max_quotes
MAX_ARTICLE_CHARS = _S.max_article_chars
MAX_DYADS_PER_QUOTE = 16
MAX_BODY_BYTES = _S.max_body_bytes
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

# Two different lower-case actor names joined by one hyphen; the negative lookahead refuses "iran-iran".
DYAD_PATTERN = r"^(?!([a-z][a-z0-9_]{0,39})-\1$)[a-z][a-z0-9_]{0,39}-[a-z][a-z0-9_]{0,39}$"
ACTOR_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
NOT_BLANK = r"\S"

EXAMPLE_QUOTE = {
    "text": "They repeated Russia’s commitment to maintaining Israel’s national security,",
    "speaker": "Benjamin Netanyahu",
    "context": "The discussions centered around Iran and the situation in Syria, Netanyahu tweeted after the meeting.",
}

StanceLabel = Literal[STANCE_LABELS]  # type: ignore[valid-type]
Dyad = Annotated[str, Field(pattern=DYAD_PATTERN, description="two actors joined by a hyphen, e.g. 'russia-iran'")]
DyadList = Annotated[
    Optional[list[Dyad]],
    Field(
        default=None,
        max_length=MAX_DYADS_PER_QUOTE,
        description="dyads to label, e.g. ['russia-iran', 'india-pakistan']; default: the model's default dyads",
    ),
]


def _null_is_empty(value: Any) -> Any:
    return "" if value is None else value


def _check_dyads(value: Optional[list[str]]) -> Optional[list[str]]:
    if value is None:
        return value
    for name in value:
        try:
            split_dyad(name)
        except SchemaError as exc:
            raise ValueError(str(exc)) from None
    return value


def _blank(name: str) -> PydanticCustomError:
    """Blank text is a too-short string: the error carries the minimum, like an empty one."""
    return PydanticCustomError("string_too_short", f"{name} is empty or only whitespace", {"min_length": 1})


class QuoteIn(BaseModel):
    """One quote to classify."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re", json_schema_extra={"example": EXAMPLE_QUOTE})

    text: Annotated[
        str, Field(min_length=1, max_length=MAX_QUOTE_CHARS, pattern=NOT_BLANK, description="the quoted words")
    ]
    speaker: Annotated[Optional[str], Field(max_length=MAX_SPEAKER_CHARS, description="who said it")] = ""
    context: Annotated[
        Optional[str], Field(max_length=MAX_CONTEXT_CHARS, description="the article's sentences around the quote")
    ] = ""
    speaker_actor: Annotated[
        Optional[str],
        Field(pattern=ACTOR_PATTERN, description="the actor the speaker speaks for, e.g. 'russia' (optional)"),
    ] = None
    dyads: DyadList = None

    @field_validator("speaker", "context", mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any) -> Any:
        return _null_is_empty(value)

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


class _ParsedOnce(IODescriptor):
    """An API input the request guard has already validated is taken from the request, not parsed again."""

    SCOPE_KEY: ClassVar[str] = "stance.parsed_input"

    @classmethod
    async def from_http_request(cls, request: Any, serde: Any) -> IODescriptor:
        parsed = request.scope.get(cls.SCOPE_KEY)
        if isinstance(parsed, cls):
            return parsed
        return await super().from_http_request(request, serde)


class ClassifyInput(_ParsedOnce):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re", json_schema_extra={"example": {"quotes": [EXAMPLE_QUOTE]}})

    quotes: Annotated[list[QuoteIn], Field(min_length=1, max_length=MAX_QUOTES_PER_REQUEST)]


class AnalyzeInput(_ParsedOnce):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    article: Annotated[
        str, Field(min_length=1, max_length=MAX_ARTICLE_CHARS, pattern=NOT_BLANK, description="raw article text")
    ]
    dyads: DyadList = None
    include_indirect: Annotated[
        Optional[bool], Field(description="also return reported speech without quotation marks (kind 'indirect')")
    ] = False

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

    @field_validator("include_indirect", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value


class ExplainInput(_ParsedOnce):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    quote: QuoteIn
    dyad: Dyad
    label: Annotated[Optional[StanceLabel], Field(description="default: the predicted label")] = None

    @field_validator("dyad")
    @classmethod
    def _valid_dyad(cls, value: str) -> str:
        return _check_dyads([value])[0]  # type: ignore[index]

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value not in STANCE_LABELS:
            raise ValueError(f"label {value!r} is not one of {list(STANCE_LABELS)}")
        return value


class LabelOut(BaseModel):
    label: str
    scores: dict[str, float] = Field(description="probability per label, highest first")
    low_confidence: bool = Field(description="the top probability is below STANCE_LOW_CONFIDENCE_PCT")


class DyadOut(LabelOut):
    trained: bool = Field(description="False when the model never saw this dyad in training")


class QuoteOut(BaseModel):
    stance: dict[str, DyadOut]
    sentiment: LabelOut
    model: str = Field(description="tag of the model version that answered")


class AnalyzedQuote(QuoteOut):
    text: str
    speaker: str
    speaker_role: str = Field(description="the speaker's office as the article states it, or ''")
    speaker_affiliation: str = Field(description="the body the speaker belongs to, or ''")
    speaker_actor: str = Field(description="the actor the speaker speaks for ('russia'), or '' when not inferable")
    context: str
    kind: str = Field(description="'direct' (in quotation marks or an interview answer) or 'indirect' (reported speech)")
    partial: bool = Field(description="a fragment quoted inside a sentence")
    start: int = Field(description="character offset of the first quoted character")
    end: int = Field(description="character offset just past the last quoted character")
    spans: list[list[int]] = Field(description="[start, end) of each piece of a quote split by its attribution")


class AnalyzeOut(BaseModel):
    quotes: list[AnalyzedQuote]
    model: str


class TokenWeight(BaseModel):
    text: str
    start: int = Field(description="character offset in the quote text, or in the context when segment is 'context'")
    end: int
    weight: float = Field(description="how much this word pushed toward the label (negative: away from it)")
    segment: str = Field(description="'quote' or 'context'")


class ExplainOut(BaseModel):
    dyad: str
    label: str
    probability: float
    method: str
    tokens: list[TokenWeight]
    model: str


INPUT_MODELS: dict[str, type[_ParsedOnce]] = {
    "/classify": ClassifyInput,
    "/analyze": AnalyzeInput,
    "/explain": ExplainInput,
}
