"""The BentoML service: thin HTTP over the shared predictor.

The model is declared at class scope so ``bentoml build`` packs it; which
version comes from ``STANCE_MODEL_TAG`` (default: the promoted
``stance-classifier``, else the newest).  Every quote, from ``/classify`` or
found by ``/analyze``, goes through one :class:`MicroBatcher`: concurrent
requests are merged into one forward pass on one model thread, and a request
larger than the batch limit is split, never refused.  ``GET /ui`` is the
analyst's page, shipped with the service and needing no network.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from models.settings import apply_offline_env, settings

apply_offline_env()

import bentoml  # noqa: E402

from models.input_encoding import QuoteInput  # noqa: E402
from models.label_schema import SchemaError  # noqa: E402
from models.model_store import configured_tag  # noqa: E402
from models.predictor import Predictor, QuotePrediction  # noqa: E402
from models.quote_extraction import extract_quotes  # noqa: E402
from service import request_guard  # noqa: E402
from service.api_models import (  # noqa: E402
    LIMITS,
    AnalyzedQuote,
    AnalyzeInput,
    AnalyzeOut,
    ClassifyInput,
    ExplainInput,
    ExplainOut,
    QuoteIn,
    QuoteOut,
)
from service.micro_batcher import MicroBatcher, QueueTimeout  # noqa: E402

log = logging.getLogger("stance.service")

SETTINGS = settings()
UI_PAGE = Path(__file__).resolve().parent / "ui" / "index.html"
SERVICE_DESCRIPTION = """Stance and sentiment of quotes about Russia, Israel and Iran (and any other country pair).

* `POST /classify` — quotes you already have (text, optional speaker, speaker_actor, context, dyads) → stance per dyad
  (`cooperative`, `hedging`, `adversarial`, `none`) and sentiment (`positive`, `neutral`, `negative`), with calibrated
  probabilities and a low-confidence flag.
* `POST /analyze` — a whole article → every quotation with its speaker, role, actor, context, offsets and labels.
* `POST /explain` — which words of a quote (and its context) pushed the model toward a label.
* `GET /ui` — the analyst's page: paste an article, see every quote, its speaker and labels, and why.
* `GET /info` — model tag, dyads, labels and limits.

Labels mean what the project's labelling guide says (docs/labelling.md in the repository)."""


def _low(scores: dict[str, float]) -> bool:
    return max(scores.values()) * 100 < SETTINGS.low_confidence


def _to_out(pred: QuotePrediction) -> dict:
    return {
        "stance": {
            d: {"label": s.label, "scores": s.scores, "trained": s.trained, "low_confidence": _low(s.scores)}
            for d, s in pred.stance.items()
        },
        "sentiment": {"label": pred.sentiment.label, "scores": pred.sentiment.scores,
                      "low_confidence": _low(pred.sentiment.scores)},
        "model": pred.model,
    }


@bentoml.service(
    name="stance_classifier",
    # The request guard answers 429 past max_concurrency with the service's error shape;
    # BentoML's own limit is a backstop above it.
    traffic={"timeout": SETTINGS.request_timeout_s, "max_concurrency": 4 * SETTINGS.max_concurrency},
    workers=1,
    logging={"access": {"enabled": SETTINGS.access_log}},
    tracing={"excluded_urls": [] if SETTINGS.trace_predict_paths else ["/classify", "/analyze", "/explain"]},
)
class StanceService:
    bento_model = bentoml.models.BentoModel(configured_tag())

    def __init__(self) -> None:
        import torch

        if SETTINGS.torch_threads > 0:
            torch.set_num_threads(SETTINGS.torch_threads)
        tag = str(self.bento_model.tag)
        self.predictor = Predictor.from_directory(
            self.bento_model.path, tag, device=SETTINGS.device, precision=SETTINGS.precision,
            max_tokens=SETTINGS.max_tokens,
        )
        cfg = self.predictor.config
        request_guard.SERVICE_INFO.update(
            {
                "model": tag,
                "backbone": cfg.backbone,
                "device": str(self.predictor.model.device),
                "precision": SETTINGS.precision,
                "low_confidence_below": SETTINGS.low_confidence / 100,
                "dyads": cfg.dyads,
                "default_dyads": cfg.default_dyads,
                "stance_labels": cfg.stance_labels,
                "sentiment_labels": cfg.sentiment_labels,
                "id2label": {"stance": dict(enumerate(cfg.stance_labels)),
                             "sentiment": dict(enumerate(cfg.sentiment_labels))},
                "limits": {name: {"limit": lim, "unit": unit} for name, (lim, unit) in LIMITS.items()},
                "max_batch_size": SETTINGS.max_batch_size,
            }
        )
        self.batcher: MicroBatcher[tuple[QuoteInput, list[str] | None], QuotePrediction] = MicroBatcher(
            self._predict_batch, max_batch_size=SETTINGS.max_batch_size, max_queue_s=SETTINGS.max_latency_ms / 1000
        )
        log.info("loaded %s on %s", tag, self.predictor.model.device)

    def _predict_batch(self, items: list[tuple[QuoteInput, list[str] | None]]) -> list[QuotePrediction]:
        """Runs on the batcher's model thread; requests with different dyads share one pass."""
        return self.predictor.predict([q for q, _ in items], per_quote_dyads=[d for _, d in items])

    async def _predict(self, items: list[tuple[QuoteInput, list[str] | None]]) -> list[QuotePrediction]:
        # Resolved here, per request, so one request's bad dyad cannot fail the batch it would share.
        for dyads in {tuple(d) for _, d in items if d}:
            try:
                self.predictor.resolve_dyads(dyads)
            except SchemaError as exc:
                raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        try:
            return await self.batcher.submit(items)
        except QueueTimeout as exc:
            raise bentoml.exceptions.ServiceUnavailable(f"overloaded: {exc}; retry with backoff") from None

    @bentoml.api(input_spec=ClassifyInput)
    async def classify(self, quotes: list[QuoteIn]) -> list[QuoteOut]:
        """Stance per dyad and sentiment for each quote, with calibrated scores."""
        preds = await self._predict(
            [(QuoteInput(q.text, q.speaker or "", q.context or "", q.speaker_actor or ""), q.dyads) for q in quotes]
        )
        return [QuoteOut.model_validate(_to_out(p)) for p in preds]

    @bentoml.api(input_spec=AnalyzeInput)
    async def analyze(self, article: str, dyads: list[str] | None = None, include_indirect: bool = False) -> AnalyzeOut:
        """Find the article's quotations, attribute them, and classify each."""
        found = await asyncio.to_thread(extract_quotes, article, bool(include_indirect))
        preds = await self._predict(
            [(QuoteInput(q.text, q.speaker, q.context, q.speaker_actor), dyads) for q in found]
        )
        quotes = [
            AnalyzedQuote.model_validate(
                {**_to_out(p), "text": q.text, "speaker": q.speaker, "speaker_role": q.speaker_role,
                 "speaker_affiliation": q.speaker_affiliation, "speaker_actor": q.speaker_actor,
                 "context": q.context, "kind": q.kind, "partial": q.partial, "start": q.start, "end": q.end,
                 "spans": [list(s) for s in q.spans]}
            )
            for q, p in zip(found, preds)
        ]
        return AnalyzeOut(quotes=quotes, model=self.predictor.model_tag)

    @bentoml.api(input_spec=ExplainInput)
    async def explain(self, quote: QuoteIn, dyad: str, label: str | None = None) -> ExplainOut:
        """How much each word of the quote (and of its context) pushed the model toward a label."""
        from models.explanation import explain as explain_quote

        try:
            self.predictor.resolve_dyads([dyad])
        except SchemaError as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        q = QuoteInput(quote.text, quote.speaker or "", quote.context or "", quote.speaker_actor or "")
        result = await self.batcher.run_exclusive(lambda: explain_quote(self.predictor, q, dyad, label))
        return ExplainOut.model_validate({**result, "model": self.predictor.model_tag})


StanceService.add_asgi_middleware(request_guard.RequestGuard)
for _api in StanceService.apis.values():
    # Both endpoints answer JSON.  Declaring it saves BentoML from rebuilding the
    # output's JSON schema on every response just to learn the media type.
    _api.output_spec.media_type = "application/json"


def _ui_app():
    """The analyst's page as one static file: everything it needs is inline, nothing is fetched."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, PlainTextResponse
    from starlette.routing import Route

    async def page(request):
        if not UI_PAGE.is_file():
            return PlainTextResponse("the analyst's page is not installed", status_code=404)
        return FileResponse(UI_PAGE, media_type="text/html; charset=utf-8")

    return Starlette(routes=[Route("/", page)])


def _check_model_before_workers_start() -> None:
    """A broken model must stop start-up with one clear line, not a worker restart loop."""
    from bentoml.exceptions import NotFound

    from models.model_store import store_home
    from models.network import ModelLoadError, verify_model_dir

    declared = StanceService.inner.bento_model
    try:
        stored = declared.stored
        if stored is None:
            raise NotFound(configured_tag())
        verify_model_dir(stored.path)
    except NotFound:
        raise RuntimeError(
            f"cannot serve: model {configured_tag()!r} is not in the BentoML model store "
            f"({store_home()}); see 'stance models' or run 'stance train'"
        ) from None
    except ModelLoadError as exc:
        raise RuntimeError(f"cannot serve {configured_tag()}: {exc}") from None


StanceService.mount_asgi_app(_ui_app(), path="/ui")
_check_model_before_workers_start()
