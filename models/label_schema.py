"""The one label schema: dyads, stance and sentiment labels, the record type.

Everything that reads or writes labels (training, the service, the batch CLI)
imports these names, so a label is spelled in exactly one place.  The
definitions themselves live in ``annotation-guidelines.md``.
"""

from __future__ import annotations

from models.errors import StanceError

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
    "nato": "NATO, the North Atlantic alliance",
    "jordan": "Jordan, Amman, Jordanian",
    "lebanon": "Lebanon, Beirut, Lebanese",
    "iraq": "Iraq, Baghdad, Iraqi",
    # Described so that users naming them get a sensible query; never labelled in the corpus.
    "pakistan": "Pakistan, Islamabad, Pakistani",
    "brazil": "Brazil, Brasilia, Brazilian",
    "argentina": "Argentina, Buenos Aires, Argentine",
    "japan": "Japan, Tokyo, Japanese",
    "korea": "South Korea, Seoul, Korean",
    # Actors used only as absent pairs in training (negative sampling), so that a dyad whose
    # actors the text never mentions learns to answer `none`.
    "canada": "Canada, Ottawa, Canadian",
    "mexico": "Mexico, Mexico City, Mexican",
    "australia": "Australia, Canberra, Australian",
    "nigeria": "Nigeria, Abuja, Nigerian",
    "indonesia": "Indonesia, Jakarta, Indonesian",
    "spain": "Spain, Madrid, Spanish",
    "italy": "Italy, Rome, Italian",
    "poland": "Poland, Warsaw, Polish",
    "venezuela": "Venezuela, Caracas, Venezuelan",
    "cuba": "Cuba, Havana, Cuban",
    "kazakhstan": "Kazakhstan, Astana, Kazakh",
    "belarus": "Belarus, Minsk, Belarusian",
    "georgia": "Georgia, Tbilisi, Georgian",
    "vietnam": "Vietnam, Hanoi, Vietnamese",
    "thailand": "Thailand, Bangkok, Thai",
    "south_africa": "South Africa, Pretoria, South African",
    "ethiopia": "Ethiopia, Addis Ababa, Ethiopian",
    "kenya": "Kenya, Nairobi, Kenyan",
    "chile": "Chile, Santiago, Chilean",
    "colombia": "Colombia, Bogota, Colombian",
    "norway": "Norway, Oslo, Norwegian",
    "greece": "Greece, Athens, Greek",
    "serbia": "Serbia, Belgrade, Serbian",
    "sweden": "Sweden, Stockholm, Swedish",
    "morocco": "Morocco, Rabat, Moroccan",
}

# Never labelled and never sampled in training: dyads of these actors measure how the model
# answers a dyad it has truly never seen (the README's "unseen dyads" figures).
HELD_OUT_ACTORS: frozenset[str] = frozenset({"pakistan", "brazil", "argentina", "japan", "korea"})
PROJECT_ACTORS: frozenset[str] = frozenset({"russia", "israel", "iran"})

_ACTOR_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SchemaError(StanceError, ValueError):
    """A value that does not fit the label schema; the message names it."""


def actor_description(actor: str) -> str:
    return ACTOR_DESCRIPTIONS.get(actor, actor.replace("_", " "))


def actor_display(actor: str) -> str:
    """The actor's name as a reader writes it: 'russia' -> 'Russia', 'us' -> 'the United States'."""
    return actor_description(actor).split(",")[0].strip()


def actor_terms(actor: str) -> tuple[str, ...]:
    """Lower-case words that name an actor in text (its description's names and demonyms)."""
    return tuple(t.strip().lower().removeprefix("the ") for t in actor_description(actor).split(",") if t.strip())


def check_actor(name: str) -> str:
    """A lower-case actor name ('russia', 'saudi_arabia'); rejects anything else with the value."""
    if not isinstance(name, str) or not _ACTOR_RE.match(name):
        raise SchemaError(f"actor {name!r} is not a lower-case name (letters, digits, '_'; e.g. 'russia')")
    return name


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
    speaker_actor: str = ""  # the actor the speaker speaks for ("russia"), when known
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
        if self.speaker_actor:
            out["speaker_actor"] = self.speaker_actor
        out.update(self.extra)
        return out


def schema_dict() -> dict[str, Any]:
    """What a saved model records about the labels it was trained with."""
    return {
        "stance_labels": list(STANCE_LABELS),
        "sentiment_labels": list(SENTIMENT_LABELS),
        "project_dyads": list(PROJECT_DYADS),
    }
