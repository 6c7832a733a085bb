"""Articles of the corpus: whole news passages with gold quotes, speakers and labels.

Writers give each quote as the exact words between its marks (``parts``, several
for a quote split by its attribution), never as offsets; offsets are found here,
so a typo is an error naming the article and the quote instead of a silent
shift.  The same file is the extraction benchmark (quote spans and speakers)
and, cut by the serving extractor, training data (see ``build_corpus``).

Run ``python -m training.articles FILE...`` to validate files and print their mix.
"""

from __future__ import annotations

from models.errors import StanceError
from models.table_io import iter_rows

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from models.label_schema import (
    PROJECT_DYADS,
    SchemaError,
    check_sentiment,
    check_stance,
    split_dyad,
)

OPENING_MARKS = "“\"«„‘'‹"
CLOSING_MARKS = "”\"»“’'›"
STYLES = ("wire", "interview", "liveblog", "analysis", "translation", "feature", "briefing", "snippet")
KINDS = ("direct", "indirect")
_ACTOR_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ArticleError(StanceError, ValueError):
    """An article that does not fit the format; the message names file, article and quote."""


@dataclass(frozen=True)
class GoldQuote:
    """One quotation (or reported statement) of an article, with where it is and its labels."""

    spans: tuple[tuple[int, int], ...]  # content offsets, marks excluded; several for a split quote
    speaker: str
    labels: dict[str, str]
    sentiment: str
    speaker_role: str = ""
    speaker_affiliation: str = ""
    speaker_actor: str = ""
    kind: str = "direct"
    partial: bool = False

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    def text_in(self, article: str) -> str:
        return " ".join(re.sub(r"\s+", " ", article[a:b]) for a, b in self.spans)


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    quotes: tuple[GoldQuote, ...]
    style: str = "wire"
    year: int | None = None
    not_quotes: tuple[str, ...] = ()
    split: str = ""
    where: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def direct(self) -> list[GoldQuote]:
        return [q for q in self.quotes if q.kind == "direct"]


# ------------------------------------------------------------------ parsing
def _field(obj: dict[str, Any], name: str, where: str, kind: type, required: bool = True) -> Any:
    if name not in obj or obj[name] is None:
        if required:
            raise ArticleError(f"{where}: field '{name}' is missing")
        return kind()
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ArticleError(f"{where}: field '{name}' must be {kind.__name__}, got {value!r}")
    return value


def _labels(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ArticleError(f"{where}: field 'labels' must be an object of dyad -> stance, got {raw!r}")
    out: dict[str, str] = {}
    for dyad, stance in raw.items():
        try:
            a, b = split_dyad(dyad)
            check_stance(stance, f"labels[{dyad!r}]")
        except SchemaError as exc:
            raise ArticleError(f"{where}: {exc}") from None
        out[f"{a}-{b}"] = stance
    keys = {frozenset(split_dyad(d)) for d in out}
    missing = [d for d in PROJECT_DYADS if frozenset(split_dyad(d)) not in keys]
    if missing:
        raise ArticleError(f"{where}: field 'labels' lacks the project dyads {missing}")
    return out


_TURN_LABEL = re.compile(r"(?:^|\n)[ \t]*[^\n:“”\"«»]{1,60}:[ \t]*$")


def _is_open_mark_before(text: str, pos: int) -> bool:
    """An opening mark, or an interview turn's label ("LAVROV: ", "A: ") at the paragraph's start."""
    if pos > 0 and text[pos - 1] in OPENING_MARKS:
        return True
    line_start = text.rfind("\n", 0, pos) + 1
    return bool(_TURN_LABEL.match(text[max(0, line_start - 1):pos])) if pos > line_start else False


def _is_close_mark_after(text: str, pos: int) -> bool:
    return pos < len(text) and text[pos] in CLOSING_MARKS


def _ends_turn(text: str, start: int, end: int) -> bool:
    """An interview answer runs to the end of its paragraph, with no marks."""
    opened_by_mark = start > 0 and text[start - 1] in OPENING_MARKS
    return not opened_by_mark and (end == len(text) or text[end] == "\n")


def _runs_on(text: str, pos: int) -> bool:
    """A quote running over paragraphs: no closing mark, the paragraph ends, the next one reopens."""
    rest = text[pos:]
    m = re.match(r"[ \t]*\n\s*", rest)
    return bool(m) and pos + m.end() < len(text) and text[pos + m.end()] in OPENING_MARKS


def _locate(text: str, parts: list[str], search_from: int, where: str, kind: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    cursor = search_from
    for k, part in enumerate(parts):
        if not part or part != part.strip():
            raise ArticleError(f"{where}: part {k + 1} {part!r} is empty or has surrounding spaces")
        at = text.find(part, cursor)
        if at < 0:
            hint = " (it occurs earlier: list quotes in article order)" if text.find(part) >= 0 else ""
            raise ArticleError(f"{where}: part {k + 1} {part[:60]!r} is not in the article text{hint}")
        end = at + len(part)
        if kind == "direct":
            if not _is_open_mark_before(text, at):
                raise ArticleError(
                    f"{where}: part {k + 1} {part[:40]!r} at offset {at} does not follow an opening "
                    f"quotation mark (found {text[max(0, at - 1):at]!r}); give exactly the words between the marks"
                )
            if not (_is_close_mark_after(text, end) or _runs_on(text, end) or _ends_turn(text, at, end)):
                raise ArticleError(
                    f"{where}: part {k + 1} ending {part[-40:]!r} at offset {end} is not followed by a closing "
                    f"quotation mark (found {text[end:end + 1]!r}); give exactly the words between the marks"
                )
        spans.append((at, end))
        cursor = end
    return tuple(spans)


def _sentence_separated(text: str, spans: tuple[tuple[int, int], ...]) -> list[tuple[tuple[int, int], ...]]:
    """'“A,” he said. “B.”' is two quotations (the seed article's convention); '“A,” he said, “b.”' is one."""
    pieces: list[list[tuple[int, int]]] = [[spans[0]]]
    for (a0, b0), (a1, b1) in zip(spans, spans[1:]):
        gap = text[b0:a1].strip(" \n\t" + OPENING_MARKS + CLOSING_MARKS)
        last = text[a0:b0].rstrip()
        finished = bool(gap) and gap.endswith((".", "!", "?")) or (not gap and last.endswith((".", "!", "?", "…")))
        if finished and "\n" not in text[b0:a1]:
            pieces.append([(a1, b1)])
        else:
            pieces[-1].append((a1, b1))
    return [tuple(p) for p in pieces]


def parse_article(obj: dict[str, Any], where: str) -> Article:
    art_id = _field(obj, "id", where, str)
    where = f"{where} (article {art_id!r})"
    text = _field(obj, "text", where, str)
    if not text.strip():
        raise ArticleError(f"{where}: field 'text' is empty")
    style = obj.get("style", "wire")
    if style not in STYLES:
        raise ArticleError(f"{where}: field 'style' is {style!r}, not one of {STYLES}")
    raw_quotes = _field(obj, "quotes", where, list)
    not_quotes = tuple(_field(obj, "not_quotes", where, list, required=False))
    quotes: list[GoldQuote] = []
    cursor = 0
    for i, q in enumerate(raw_quotes, start=1):
        qwhere = f"{where} quote {i}"
        if not isinstance(q, dict):
            raise ArticleError(f"{qwhere}: expected an object, got {q!r}")
        parts = q.get("parts")
        if isinstance(parts, str):
            parts = [parts]
        if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
            raise ArticleError(f"{qwhere}: field 'parts' must be a non-empty list of strings, got {parts!r}")
        kind = q.get("kind", "direct")
        if kind not in KINDS:
            raise ArticleError(f"{qwhere}: field 'kind' is {kind!r}, not one of {KINDS}")
        # Direct quotes appear in order; a reported statement may sit anywhere.
        spans = _locate(text, parts, cursor if kind == "direct" else 0, qwhere, kind)
        if kind == "direct":
            cursor = spans[0][0] + 1
        speaker = _field(q, "speaker", qwhere, str).strip()
        if not speaker:
            raise ArticleError(f"{qwhere}: field 'speaker' is empty; name who said it")
        actor = _field(q, "speaker_actor", qwhere, str, required=False).strip()
        if actor and not _ACTOR_RE.match(actor):
            raise ArticleError(f"{qwhere}: field 'speaker_actor' {actor!r} is not a lower-case actor name")
        try:
            sentiment = check_sentiment(q.get("sentiment"), f"{qwhere}: field 'sentiment'")
        except SchemaError as exc:
            raise ArticleError(str(exc)) from None
        partial = q.get("partial", False)
        if not isinstance(partial, bool):
            raise ArticleError(f"{qwhere}: field 'partial' must be true or false, got {partial!r}")
        for piece in _sentence_separated(text, spans) if kind == "direct" else [spans]:
          quotes.append(
            GoldQuote(
                spans=piece,
                speaker=speaker,
                labels=_labels(q.get("labels"), qwhere),
                sentiment=sentiment,
                speaker_role=_field(q, "speaker_role", qwhere, str, required=False).strip(),
                speaker_affiliation=_field(q, "speaker_affiliation", qwhere, str, required=False).strip(),
                speaker_actor=actor,
                kind=kind,
                partial=partial and piece is not None and piece[0] == spans[0],
            )
          )
    article = Article(
        id=art_id,
        text=text,
        quotes=tuple(quotes),
        style=style,
        year=obj.get("year"),
        not_quotes=not_quotes,
        split=str(obj.get("split", "")),
        where=where,
        extra={k: v for k, v in obj.items() if k not in {"id", "text", "quotes", "style", "year", "not_quotes", "split"}},
    )
    if style != "snippet":  # a re-cut passage may hold other, unlabelled quotations
        _check_exhaustive(article)
    _check_overlaps(article)
    return article


# -------------------------------------------------------------- exhaustive
_PAIRS = [("“", "”"), ("«", "»"), ("„", "“"), ("‹", "›")]


def marked_spans(text: str) -> list[tuple[int, int]]:
    """Content spans between quotation marks, found simply: what gold must account for.

    Curly, guillemet and low-high pairs; straight double quotes paired in order
    within a paragraph; single curly quotes only where the opening one follows a
    non-letter and the closing one precedes a non-letter (so apostrophes are not
    marks).  Marks nested inside a found span are not reported again.
    """
    found: list[tuple[int, int]] = []
    for para_start, para in _paragraphs(text):
        i = 0
        while i < len(para):
            ch = para[i]
            close = None
            if ch in "“«„‹":
                close = dict(_PAIRS)[ch]
            elif ch == '"':
                close = '"'
            elif ch == "‘" and (i == 0 or not para[i - 1].isalnum()):
                close = "’"
            if close is None:
                i += 1
                continue
            j = i + 1
            while j < len(para):
                if para[j] in (close if ch != "„" else "“”"):
                    if close != "’" or j + 1 >= len(para) or not para[j + 1].isalnum():
                        break
                j += 1
            if j >= len(para):  # unclosed in this paragraph: a quote running on, or a stray mark
                found.append((para_start + i + 1, para_start + len(para)))
                break
            found.append((para_start + i + 1, para_start + j))
            i = j + 1
    return found


def _paragraphs(text: str) -> Iterable[tuple[int, str]]:
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _check_exhaustive(article: Article) -> None:
    covered = [span for q in article.direct for span in q.spans]
    allowed = {s.strip() for s in article.not_quotes}
    for a, b in marked_spans(article.text):
        content = article.text[a:b].strip()
        if not content:
            continue
        if any(a < qb and b > qa for qa, qb in covered):
            continue
        if content in allowed or content.rstrip(".,;:!?") in allowed:
            continue
        raise ArticleError(
            f"{article.where}: text in quotation marks at offset {a}, {content[:60]!r}, is neither a gold quote's "
            "part nor listed in 'not_quotes'"
        )


def _check_overlaps(article: Article) -> None:
    spans = sorted((a, b, i) for i, q in enumerate(article.direct) for a, b in q.spans)
    for (a1, b1, i1), (a2, b2, i2) in zip(spans, spans[1:]):
        if a2 < b1 and i1 != i2:
            raise ArticleError(f"{article.where}: direct quotes {i1 + 1} and {i2 + 1} overlap at offset {a2}")


# ------------------------------------------------------------------ loading
def load_articles(paths: str | Path | Sequence[str | Path]) -> list[Article]:
    """Every article of the given JSONL files (or of every ``*.jsonl`` in a directory), validated."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.jsonl")) if p.is_dir() else [p])
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for file in files:
        for row in iter_rows(file):
            where = row.where(file)
            if row.data is None:
                raise ArticleError(f"{where}: {row.error}")
            obj = row.data
            article = parse_article(obj, where)
            if article.id in seen:
                raise ArticleError(f"{where}: duplicate article id {article.id!r} (first at {seen[article.id]})")
            seen[article.id] = where
            articles.append(article)
    return articles


# ------------------------------------------------------ re-cut loose quotes
def _same_quote(old: str, new: str) -> bool:
    """The re-cut keeps the words; only the final punctuation and the first letter's case may change."""
    def norm(t: str) -> str:
        t = re.sub(r"\s+", " ", t).strip().rstrip(".,;:!?…—– ")
        return t[:1].lower() + t[1:]

    return norm(old) == norm(new)


def snippet_from_recut(record: Any, recut: dict[str, Any], where: str) -> Article:
    """A loose quote rewritten as a short passage: the record's labels, the passage's words and speaker."""
    passage = recut.get("passage")
    parts = recut.get("parts")
    if isinstance(parts, str):
        parts = [parts]
    if not isinstance(passage, str) or not passage.strip():
        raise ArticleError(f"{where}: field 'passage' must be a non-empty string")
    if not isinstance(parts, list) or not parts:
        raise ArticleError(f"{where}: field 'parts' must be a non-empty list of strings")
    if not _same_quote(record.text, " ".join(parts)):
        raise ArticleError(
            f"{where}: parts {' '.join(parts)[:80]!r} are not the record's words {record.text[:80]!r} "
            "(only the final punctuation may change)"
        )
    quote = {
        "parts": parts,
        "labels": dict(record.labels),
        "sentiment": record.sentiment or "neutral",
        **{k: recut.get(k, "") for k in ("speaker", "speaker_role", "speaker_affiliation", "speaker_actor")},
    }
    obj = {
        "id": f"snip-{record.id}",
        "style": "snippet",
        "text": passage,
        "quotes": [quote],
        "split": record.extra.get("split", ""),
        "record_id": record.id,
        **{k: record.extra[k] for k in ("year", "topic") if k in record.extra},
    }
    return parse_article(obj, where)


def load_recuts(path: str | Path, records: Sequence[Any]) -> list[Article]:
    by_id = {r.id: r for r in records}
    out: list[Article] = []
    seen: set[str] = set()
    for row in iter_rows(Path(path)):
        where = row.where(path)
        if row.data is None:
            raise ArticleError(f"{where}: {row.error}")
        obj = row.data
        rid = obj.get("id") if isinstance(obj, dict) else None
        if rid not in by_id:
            raise ArticleError(f"{where}: id {rid!r} is not a record of the loose corpus")
        if rid in seen:
            raise ArticleError(f"{where}: id {rid!r} is re-cut twice")
        seen.add(rid)
        out.append(snippet_from_recut(by_id[rid], obj, f"{where} (record {rid!r})"))
    return out


def summary(articles: Sequence[Article]) -> str:
    words = sorted(len(a.text.split()) for a in articles)
    quotes = [q for a in articles for q in a.quotes]
    lines = [
        f"{len(articles)} articles, {len(quotes)} quotes "
        f"({sum(q.kind == 'direct' for q in quotes)} direct, {sum(q.kind == 'indirect' for q in quotes)} indirect)",
    ]
    if words:
        lines.append(f"words per article: min {words[0]}, median {words[len(words) // 2]}, max {words[-1]}")
    for dyad in PROJECT_DYADS:
        c = Counter(q.labels.get(dyad, "?") for q in quotes)
        lines.append(f"{dyad}: {dict(c.most_common())}")
    lines.append(f"sentiment: {dict(Counter(q.sentiment for q in quotes).most_common())}")
    both = sum(all(q.labels[d] != 'none' for d in PROJECT_DYADS) for q in quotes)
    neither = sum(all(q.labels[d] == 'none' for d in PROJECT_DYADS) for q in quotes)
    if quotes:
        lines.append(f"stance on both project dyads: {both / len(quotes):.0%}; none on both: {neither / len(quotes):.0%}")
    other = Counter(d for q in quotes for d in q.labels if d not in PROJECT_DYADS)
    lines.append(f"other dyads: {dict(other.most_common(12))}")
    lines.append(f"styles: {dict(Counter(a.style for a in articles).most_common())}")
    lines.append(f"partial quotes: {sum(q.partial for q in quotes)}; split quotes: {sum(len(q.spans) > 1 for q in quotes)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m training.articles FILE_OR_DIR ... | --recut RECUT.jsonl ...", file=sys.stderr)
        return 2
    try:
        if argv[0] == "--recut":
            from training.data import load_records

            records = load_records(Path(__file__).parent / "data" / "loose")
            articles = [a for f in argv[1:] for a in load_recuts(f, records)]
        else:
            articles = load_articles(argv)
    except ArticleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(articles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
