"""What the service says about itself: the OpenAPI document, the API page at ``/``, the labelling guide.

BentoML generates the OpenAPI document from the API signatures (the input
models carry every limit).  Here it gets the service's own title, version and
description instead of BentoML's badges, a required request body, and every
status code the service really answers with its error shape; so a client, or
a fuzzer fed ``/docs.json``, sees the contract the request guard enforces.
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models import __version__

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "labelling.md"
TITLE = "Geopolitical stance classifier"
DESCRIPTION = """Stance per country pair (dyad) and sentiment of quotes about Russia, Israel and Iran, with calibrated
probabilities. Labels: stance `cooperative`, `hedging`, `adversarial`, `none`; sentiment `positive`, `neutral`,
`negative`; their meaning is the [labelling guide](/labelling).

* `POST /classify`: quotes you already have → labels per dyad and sentiment.
* `POST /analyze`: a whole article → every quotation, its speaker (role, actor), context, offsets and labels.
* `POST /explain`: which words pushed the model toward a label.
* [`GET /ui`](/ui): the analyst's page. `GET /info`: model, dyads, limits. Errors are JSON
  `{"error", "error_type", "field"?, "limit"?}`."""

ERRORS = {
    "400": "invalid JSON, a field of the wrong type or beyond its limit (field and limit named)",
    "401": "missing or wrong API key (only when STANCE_API_KEY is set)",
    "413": "request body over its size limit",
    "415": "content type other than application/json",
    "429": "too many requests in flight; retry after the Retry-After header",
    "503": "overloaded (queued past the latency limit) or the model is still loading",
    "504": "the request ran past the request timeout",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "error_type"],
    "properties": {
        "error": {"type": "string"},
        "error_type": {"type": "string", "enum": ["validation", "unauthorized", "payload_too_large",
                                                 "unsupported_media_type", "overloaded", "timeout", "not_found",
                                                 "method_not_allowed", "internal"]},
        "field": {"type": "string"},
        "limit": {"type": ["integer", "number", "string", "null"]},
    },
}


def request_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The input model's own JSON schema (BentoML's rendering drops ``null`` from optional top-level
    fields, which the service accepts as "absent") and the definitions it refers to."""
    schema = BaseModel.model_json_schema.__func__(model, ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]
    return schema, schema.pop("$defs", {})


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    from service.api_models import INPUT_MODELS

    doc = copy.deepcopy(doc)
    doc["info"] = {"title": TITLE, "version": __version__, "description": DESCRIPTION}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ERROR_SCHEMA
    for path, operations in doc.get("paths", {}).items():
        post = operations.get("post")
        if not post or "requestBody" not in post:
            continue
        post["requestBody"]["required"] = True
        if path in INPUT_MODELS:
            body, defs = request_schema(INPUT_MODELS[path])
            schemas.update(defs)
            post["requestBody"]["content"] = {"application/json": {"schema": body}}
        for code, meaning in ERRORS.items():
            post["responses"][code] = {
                "description": meaning,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }
        for code in ("400", "404", "500"):
            post["responses"].setdefault(code, {})["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return doc


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', text)


def markdown_html(source: str) -> str:
    """Enough Markdown for the project's guide: headings, paragraphs, lists, tables, code."""
    out: list[str] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html.escape("\n".join(lines[i + 1 : j])) + "</pre>")
            i = j + 1
            continue
        m = re.match(r"^(#{1,4})\s+(.*)", line)
        if m:
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.match(r"^\|[\s:|-]+\|$", lines[i]):
                    rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, *body = rows
            out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
                       + "</table>")
            continue
        elif re.match(r"^\s*[-*]\s+", line):
            items = []
            while i < len(lines) and (re.match(r"^\s*[-*]\s+", lines[i]) or (lines[i].startswith("  ") and items)):
                if re.match(r"^\s*[-*]\s+", lines[i]):
                    items.append(re.sub(r"^\s*[-*]\s+", "", lines[i]))
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            out.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + "</ul>")
            continue
        elif line.strip():
            para = [line]
            while i + 1 < len(lines) and lines[i + 1].strip() and not re.match(r"^(#|\||\s*[-*]\s|```)", lines[i + 1]):
                i += 1
                para.append(lines[i])
            out.append("<p>" + _inline(" ".join(para)) + "</p>")
        i += 1
    return "\n".join(out)


_PAGE_STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:52rem;margin:2rem auto;
padding:0 1rem;line-height:1.5;color:#1d2329}code,pre{background:#f2f4f7;padding:0 .25rem}pre{padding:.6rem;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.25rem .5rem;vertical-align:top}a{color:#0b5cad}"""


def api_page() -> str:
    endpoints = markdown_html(DESCRIPTION)
    return (f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{TITLE} {__version__}</title><style>{_PAGE_STYLE}</style>"
            f"<h1>{TITLE} <small>{__version__}</small></h1>{endpoints}"
            "<p>The full contract, with every field's limits: <a href='/docs.json'>/docs.json</a> (OpenAPI 3).</p>"
            "<h2>Try it</h2><pre>curl -s localhost:3000/classify -H 'content-type: application/json' \\\n"
            "  -d '{\"quotes\": [{\"text\": \"We will not allow Syria to become an arena for settling scores,\","
            " \"speaker\": \"Maria Zakharova\"}]}'</pre></html>")


def labelling_page() -> str:
    body = markdown_html(GUIDE.read_text(encoding="utf-8")) if GUIDE.is_file() else "<p>The guide is not installed.</p>"
    return (f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>Labelling guide</title><style>{_PAGE_STYLE}</style>{body}</html>")
