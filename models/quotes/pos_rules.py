"""The model's own tag -> part-of-speech rules, applied by table lookup instead of spaCy's Matcher.

``en_core_web_sm``'s attribute ruler sets ``pos_`` from the tagger's fine tags
with ~100 token patterns; run through the generic Matcher it cost about a
seventh of the pipeline on long articles.  Here the same patterns (read from the
loaded ruler, not copied) are grouped by tag once, so each token checks only the
few that can apply.  Later patterns win, as in the ruler.  A test checks that
every token gets the part of speech the ruler gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

_ANY = "\0any"


@dataclass(frozen=True)
class _Rule:
    order: int
    tests: tuple[tuple[Callable[[Any], bool], ...], ...]  # one tuple of checks per pattern token
    index: int  # which token of the match gets the part of speech
    pos: str


def _check(attr: str, value: Any) -> Callable[[Any], bool]:
    get: Callable[[Any], Any] = {
        "TAG": lambda t: t.tag_, "LOWER": lambda t: t.lower_, "DEP": lambda t: t.dep_,
        "IS_SPACE": lambda t: t.is_space, "ORTH": lambda t: t.text,
    }[attr]
    if isinstance(value, dict):
        if "IN" in value:
            allowed = frozenset(value["IN"])
            return lambda t: get(t) in allowed
        if "NOT_IN" in value:
            banned = frozenset(value["NOT_IN"])
            return lambda t: get(t) not in banned
        raise ValueError(f"unsupported attribute-ruler predicate {value!r} on {attr}")
    return lambda t: get(t) == value


class PosRules:
    """Compiled from an ``AttributeRuler``; call on a tagged and parsed ``Doc``."""

    def __init__(self, ruler: Any) -> None:
        single: list[tuple[list[str] | None, _Rule]] = []
        self.multi: list[_Rule] = []
        for order, spec in enumerate(ruler.patterns):
            pos = spec["attrs"].get("POS")
            if pos is None:
                continue
            for pattern in spec["patterns"]:
                tests = tuple(tuple(_check(k, v) for k, v in tok.items()) for tok in pattern)
                rule = _Rule(order, tests, spec.get("index", 0), pos)
                if len(pattern) > 1:
                    self.multi.append(rule)
                    continue
                tag = pattern[0].get("TAG")
                tags = [tag] if isinstance(tag, str) else list(tag["IN"]) if isinstance(tag, dict) and "IN" in tag else None
                single.append((tags, rule))
        every_tag = {t for tags, _ in single if tags for t in tags}
        self.by_tag: dict[str, list[_Rule]] = {}
        for tag in every_tag | {_ANY}:
            self.by_tag[tag] = [r for tags, r in single if tags is None or tag in tags]

    def __call__(self, doc: Any) -> Any:
        best: dict[int, tuple[int, str]] = {}
        tokens = list(doc)  # list indexing: Doc.__getitem__ builds a new Token on every call
        for token in tokens:
            rules = self.by_tag.get(token.tag_) or self.by_tag[_ANY]
            for rule in reversed(rules):  # the last matching pattern wins
                if all(test(token) for test in rule.tests[0]):
                    best[token.i] = (rule.order, rule.pos)
                    break
        for rule in self.multi:
            width = len(rule.tests)
            first = rule.tests[0]
            for start in range(len(tokens) - width + 1):
                if not all(test(tokens[start]) for test in first):
                    continue
                if all(all(test(tokens[start + k]) for test in rule.tests[k]) for k in range(1, width)):
                    i = start + rule.index
                    if i not in best or best[i][0] < rule.order:
                        best[i] = (rule.order, rule.pos)
        for i, (_, pos) in best.items():
            doc[i].pos_ = pos
        return doc
