"""ASGI middleware in front of the BentoML app: auth, size limits, validation, one error shape.

Every error the service returns has one JSON shape, as text-embeddings-inference
does::

    {"error": "...", "error_type": "validation|payload_too_large|unsupported_media_type|
               unauthorized|overloaded|timeout|not_found|internal", "field": "...", "limit": ...}

Requests are checked here, before BentoML parses them, against the same
pydantic models the API declares, so a bad request never reaches the model
and a too-large one is refused before it is read in full.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError

from models.label_schema import SchemaError, split_dyad
from models.settings import settings
from service.api_models import (
    INPUT_MODELS,
    LIMITS,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    NOT_BLANK,
)

API_KEY_ENV = "STANCE_API_KEY"
OPEN_PATHS = {"/livez", "/readyz", "/healthz", "/metrics", "/", "/docs.json", "/info", "/labelling"}
GUARDED_POSTS: dict[str, type[BaseModel]] = dict(INPUT_MODELS)

# Filled in by the service once its model is loaded; GET /info reads it.
SERVICE_INFO: dict[str, Any] = {}


def _api_page() -> str:
    from service.openapi_doc import api_page

    return api_page()


def _labelling_page() -> str:
    from service.openapi_doc import labelling_page

    return labelling_page()


# GET pages the service answers itself (BentoML's own index page loads a tracking script from the network).
STATIC_PAGES = {"/": _api_page, "/labelling": _labelling_page}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_STATUS_TYPES = {
    400: "validation",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
    429: "overloaded",
    503: "overloaded",
    504: "timeout",
}


def error_body(message: str, error_type: str, field: str | None = None, limit: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message, "error_type": error_type}
    if field is not None:
        body["field"] = field
    if limit is not None:
        body["limit"] = limit
    return body


class RequestError(Exception):
    def __init__(self, status: int, message: str, error_type: str, field: str | None = None, limit: Any = None):
        super().__init__(message)
        self.status = status
        self.body = error_body(message, error_type, field, limit)
        self.body_read = False  # set when the refusal came after the whole body was read (see _reply_refusal)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON, stopping early past ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_error(exc: ValidationError) -> RequestError:
    first = exc.errors(include_url=False)[0]
    field = _field_path(tuple(first.get("loc", ())))
    name = next((str(p) for p in reversed(first.get("loc", ())) if isinstance(p, str)), "")
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    status = 400  # a field past its limit is invalid input; 413 is kept for a body over its size limit
    limit = LIMITS.get(name, (None,))[0] if kind in ("too_long", "string_too_long") else None
    message = f"{field or 'body'}: {first.get('msg', 'invalid value')}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NOT_BLANK:
        # Blank text is a too-short string: the error carries the minimum, like an empty one.
        kind, ctx = "string_too_short", {"min_length": 1}
        message = f"{field}: {name} is empty or only whitespace"
    elif kind == "string_pattern_mismatch" and name == "dyads" or (kind == "string_pattern_mismatch" and name == "dyad"):
        try:
            split_dyad(first.get("input"))
            message = f"{field}: {first.get('input')!r} is not a dyad of two different actors"
        except SchemaError as schema_exc:
            message = f"{field}: {schema_exc}"
    if limit is not None:
        message += f" (limit: {limit} {LIMITS[name][1]})"
    if kind in ("too_short", "string_too_short"):
        limit = ctx.get("min_length")
        if limit is not None:
            message += f" (minimum: {limit})"
    if kind == "extra_forbidden":
        message = f"{field}: unknown field; allowed fields are listed in the OpenAPI schema at /docs.json"
    return RequestError(status, message, "validation", field or None, limit)


async def _read_body(receive: Receive, keep: bool = True) -> bytes:
    """The whole request body (or, ``keep=False``, read off and dropped), within MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError(400, "client disconnected before sending the body", "validation", "body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"body is over the limit of {MAX_BODY_BYTES} bytes",
                               "payload_too_large", "body", MAX_BODY_BYTES)
        if keep:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def check_body(path: str, raw: bytes) -> BaseModel:
    """Decode and validate a JSON body for a guarded endpoint; the parsed input, or RequestError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body is not valid UTF-8 (byte {exc.start})", "validation", "body") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "validation", "depth", MAX_JSON_DEPTH) from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           "validation", "body") from None
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "validation", "depth", MAX_JSON_DEPTH)
    if not isinstance(data, dict):
        raise RequestError(400, f"body must be a JSON object, got {type(data).__name__}", "validation", "body")
    try:
        return GUARDED_POSTS[path].model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _key_from_query(scope: Scope) -> dict[str, str]:
    """The analyst's page may be opened as /ui?key=...: a browser cannot add a header to a page load."""
    from urllib.parse import parse_qs

    key = parse_qs(scope.get("query_string", b"").decode(errors="replace")).get("key", [""])[0]
    return {"x-api-key": key} if key else {}


class RequestGuard:
    """The middleware itself; BentoML adds it with ``add_asgi_middleware``."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.max_in_flight = settings().max_concurrency
        self.in_flight = 0
        self._openapi_doc: dict[str, Any] | None = None

    async def _reply_page(self, send: Send, path: str) -> None:
        payload = STATIC_PAGES[path]().encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _openapi(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        """BentoML's generated OpenAPI document, made to say what this service is and what it answers."""
        if self._openapi_doc is None:
            chunks: list[bytes] = []

            async def capture(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await self.app(scope, receive, capture)
            from service.openapi_doc import complete

            self._openapi_doc = complete(json.loads(b"".join(chunks)))
        return self._openapi_doc

    async def _reply(self, send: Send, status: int, body: dict[str, Any], headers: list | None = None) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
                + (headers or []),
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _authorised(headers: dict[str, str]) -> bool:
        key = settings().api_key
        if not key:
            return True
        given = headers.get("x-api-key", "")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), key.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])}
        try:
            if path.rstrip("/") == "/ui" and method == "GET":
                headers = {**headers, **_key_from_query(scope)}
            if path not in OPEN_PATHS and not self._authorised(headers):
                raise RequestError(401, f"missing or wrong API key: send it as 'Authorization: Bearer <key>' "
                                        f"or 'X-API-Key' (set by {API_KEY_ENV})", "unauthorized", "authorization")
            if path == "/info" and method == "GET":
                if not SERVICE_INFO:
                    raise RequestError(503, "model is still loading", "overloaded")
                await self._reply(send, 200, SERVICE_INFO)
                return
            if method == "GET" and path in STATIC_PAGES:
                await self._reply_page(send, path)
                return
            if method == "GET" and path == "/docs.json":
                await self._reply(send, 200, await self._openapi(scope, receive))
                return
            if path in GUARDED_POSTS:
                if method != "POST":
                    raise RequestError(405, f"{path} takes POST, not {method}", "method_not_allowed")
                if self.in_flight >= self.max_in_flight:
                    raise RequestError(429, f"more than {self.max_in_flight} requests in flight; retry with backoff",
                                       "overloaded", "concurrency", self.max_in_flight)
                self.in_flight += 1
                try:
                    receive = await self._checked_body(headers, receive, path, scope)
                    await self.app(scope, receive, self._normalising_send(send))
                finally:
                    self.in_flight -= 1
                return
        except RequestError as exc:
            await self._reply_refusal(receive, send, exc)
            return
        await self.app(scope, receive, self._normalising_send(send))

    async def _reply_refusal(self, receive: Receive, send: Send, exc: RequestError) -> None:
        """Answer a refused request so the client can safely reuse its connection.

        A refusal sent before the request body was read would leave the body
        unread on a keep-alive connection; the server then closes it, and a
        client that already reused it gets a bare transport error instead of
        our 4xx.  So read off (and discard) a body of allowed size first, and
        otherwise tell the client the connection closes.  Overload refusals (429)
        never read the body: shedding load must stay cheap, and a refused request
        that lingers reading its body would trip BentoML's own concurrency limit.
        """
        headers = [(b"retry-after", b"1")] if exc.status == 429 else []
        if exc.status == 405:
            headers.append((b"allow", b"POST"))
        reusable = exc.body_read or (exc.status not in (413, 429) and await self._drain(receive))
        if not reusable:
            headers.append((b"connection", b"close"))
        await self._reply(send, exc.status, exc.body, headers)

    @staticmethod
    async def _drain(receive: Receive) -> bool:
        try:
            await _read_body(receive, keep=False)
        except RequestError:
            return False
        return True

    async def _checked_body(self, headers: dict[str, str], receive: Receive, path: str, scope: Scope) -> Receive:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError(415, f"content-type must be application/json, got {ctype or 'none'!r}",
                               "unsupported_media_type", "content-type")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestError(413, f"body of {declared} bytes is over the limit of {MAX_BODY_BYTES} bytes",
                               "payload_too_large", "body", MAX_BODY_BYTES)
        raw = await _read_body(receive)
        try:
            scope[INPUT_MODELS[path].SCOPE_KEY] = check_body(path, raw)  # BentoML takes it from here, unparsed
        except RequestError as exc:
            exc.body_read = True
            raise
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        return replay

    def _normalising_send(self, send: Send) -> Send:
        """Rewrite BentoML's own 4xx/5xx bodies ('{"error": ...}' or a list) into the one shape."""
        state: dict[str, Any] = {"status": 200, "start": None, "chunks": []}

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if message["status"] < 400:
                    await send(message)
                else:
                    state["start"] = message
                return
            if message["type"] == "http.response.body" and state["start"] is not None:
                state["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                status = state["status"]
                raw = b"".join(state["chunks"])
                try:
                    parsed = json.loads(raw or b"{}")
                except ValueError:
                    parsed = {"error": raw.decode(errors="replace")[:500]}
                if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
                    parsed = parsed[0]
                if not isinstance(parsed, dict):
                    parsed = {"error": str(parsed)}
                if "error_type" not in parsed:
                    kind = _STATUS_TYPES.get(status, "internal" if status >= 500 else "validation")
                    message_text = str(parsed.get("error") or parsed.get("detail") or "request failed")
                    if status == 503:
                        message_text = "service is overloaded or not ready; retry with backoff"
                    parsed = error_body(message_text, kind)
                payload = json.dumps(parsed).encode()
                start = state["start"]
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
                if status in (429, 503):
                    headers.append((b"retry-after", b"1"))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
            await send(message)

        return wrapped
