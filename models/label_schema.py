"""The one label schema: dyads, stance and sentiment labels, the record type.

Everything that reads or writes labels (training, the service, the batch CLI)
imports these names, so a label is spelled in exactly one place.  The
definitions themselves live in ``annotation-guidelines.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

STANCE_LABELS: tuple[str, ...] = ("cooperative", "hedging", "adversarial", "none")
SENTIMENT_LABELS: tuple[str, ...] = ("positive", "neutral", "negative")
PROJECT_DYADS: tuple[str, ...] = ("russia-israel", "russia-iran")

STANCE2ID: dict[str, int] = {label: i for i, label in enumerate(STANCE_LABELS)}
SENTIMENT2ID: dict[str, int] = {label: i for i, label in enumerate(SENTIMENT_LABELS)}

# Index used in label tensors for "this dyad is unknown for this record".
UNKNOWN_LABEL_ID = -100

# Words that describe an actor to the network.  A dyad is embedded from the
# text of its two actors, so these phrases let "Tehran" and "Iran" meet; an
# actor missing here is described by its own name, which is how a dyad the
# model never saw still gets an answer.
ACTOR_DESCRIPTIONS: dict[str, str] = {
    "russia": "Russia, Moscow, the Kremlin, Russian",
    "israel": "Israel, Jerusalem, Israeli",
    "iran": "Iran, Tehran, Iranian",
    "turkey": "Turkey, Ankara, Turkish",
    "us": "the United States, Washington, American",
    "china": "China, Beijing, Chinese",
    "saudi": "Saudi Arabia, Riyadh, Saudi",
    "ukraine": "Ukraine, Kyiv, Ukrainian",
    "syria": "Syria, Damascus, Syrian",
    "uae": "the United Arab Emirates, Abu Dhabi, Emirati",
    "egypt": "Egypt, Cairo, Egyptian",
    "eu": "the European Union, Brussels, European",
    "india": "India, New Delhi, Indian",
    "hezbollah": "Hezbollah, Lebanese Shiite movement",
    "hamas": "Hamas, Palestinian movement in Gaza",
    "qatar": "Qatar, Doha, Qatari",
    "azerbaijan": "Azerbaijan, Baku, Azerbaijani",
    "armenia": "Armenia, Yerevan, Armenian",
    "uk": "the United Kingdom, Britain, London, British",
    "france": "France, Paris, French",
    "germany": "Germany, Berlin, German",
}

_ACTOR_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SchemaError(ValueError):
    """A value that does not fit the label schema; the message names it."""


def actor_description(actor: str) -> str:
    return ACTOR_DESCRIPTIONS.get(actor, actor.replace("_", " "))


def split_dyad(name: str) -> tuple[str, str]:
    """``"russia-iran"`` -> ``("russia", "iran")``; rejects anything else with the value."""
    if not isinstance(name, str):
        raise SchemaError(f"dyad must be a string like 'russia-iran', got {name!r}")
    parts = name.strip().lower().split("-")
    if len(parts) != 2 or not all(_ACTOR_RE.match(p) for p in parts):
        raise SchemaError(
            f"dyad {name!r} is not two lower-case actor names joined by one hyphen "
            "(e.g. 'russia-iran'; use '_' inside a name: 'saudi_arabia')"
        )
    if parts[0] == parts[1]:
        raise SchemaError(f"dyad {name!r} names the same actor twice")
    return parts[0], parts[1]


def dyad_key(name: str) -> frozenset[str]:
    """Dyads are unordered: 'turkey-russia' and 'russia-turkey' share a key."""
    return frozenset(split_dyad(name))


def canonical_dyad(name: str, known: tuple[str, ...] | list[str] = PROJECT_DYADS) -> str:
    """The spelling a dyad is reported under: a known spelling if one matches, else as given."""
    key = dyad_key(name)
    for candidate in known:
        if dyad_key(candidate) == key:
            return candidate
    a, b = split_dyad(name)
    return f"{a}-{b}"


def check_stance(value: Any, where: str) -> str:
    if value not in STANCE2ID:
        raise SchemaError(f"{where}: stance label {value!r} is not one of {list(STANCE_LABELS)}")
    return value


def check_sentiment(value: Any, where: str) -> str:
    if value not in SENTIMENT2ID:
        raise SchemaError(
            f"{where}: sentiment label {value!r} is not one of {list(SENTIMENT_LABELS)}"
        )
    return value


@dataclass(frozen=True)
class QuoteRecord:
    """One labelled quote, as in the guidelines' record format."""

    id: str
    text: str
    labels: Mapping[str, str]
    sentiment: str
    speaker: str = ""
    context: str = ""
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "speaker": self.speaker,
            "context": self.context,
            "labels": dict(self.labels),
            "sentiment": self.sentiment,
            "source": self.source,
        }
        out.update(self.extra)
        return out


def schema_dict() -> dict[str, Any]:
    """What a saved model records about the labels it was trained with."""
    return {
        "stance_labels": list(STANCE_LABELS),
        "sentiment_labels": list(SENTIMENT_LABELS),
        "project_dyads": list(PROJECT_DYADS),
    }
