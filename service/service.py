"""The BentoML service: thin HTTP over the shared predictor.

The model is declared at class scope so ``bentoml build`` packs it; which
version comes from ``STANCE_MODEL_TAG`` (default: the newest
``stance-classifier``).  Every quote, from ``/classify`` or found by
``/analyze``, goes through one :class:`MicroBatcher`: concurrent requests are
merged into one forward pass on one model thread, and a request larger than
the batch limit is split, never refused.
"""

from __future__ import annotations

import asyncio
import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bentoml  # noqa: E402

from models.input_encoding import QuoteInput  # noqa: E402
from models.label_schema import SchemaError  # noqa: E402
from models.model_store import configured_tag  # noqa: E402
from models.predictor import Predictor, QuotePrediction  # noqa: E402
from models.quote_extraction import extract_quotes  # noqa: E402
from service import request_guard  # noqa: E402
from service.micro_batcher import MicroBatcher, QueueTimeout  # noqa: E402
from service.api_models import (  # noqa: E402
    LIMITS,
    AnalyzedQuote,
    AnalyzeOut,
    QuoteIn,
    QuoteOut,
)

log = logging.getLogger("stance.service")

MAX_BATCH_SIZE = int(os.environ.get("STANCE_MAX_BATCH_SIZE", "64"))
MAX_LATENCY_MS = int(os.environ.get("STANCE_MAX_LATENCY_MS", "10000"))
MAX_CONCURRENCY = int(os.environ.get("STANCE_MAX_CONCURRENCY", "64"))
REQUEST_TIMEOUT_S = int(os.environ.get("STANCE_REQUEST_TIMEOUT_S", "60"))
TORCH_THREADS = int(os.environ.get("STANCE_TORCH_THREADS", "0"))
DEVICE = os.environ.get("STANCE_DEVICE", "auto")
PRECISION = os.environ.get("STANCE_PRECISION", "fp32")
# Per-request access logging and (unexported) trace spans cost about a third of the
# HTTP layer's CPU on the predict paths; opt back in when an operator reads them.
ACCESS_LOG = os.environ.get("STANCE_ACCESS_LOG", "0") == "1"
TRACE_PREDICT_PATHS = os.environ.get("STANCE_TRACE_PREDICT_PATHS", "0") == "1"


def _to_out(pred: QuotePrediction) -> dict:
    return {
        "stance": {
            d: {"label": s.label, "scores": s.scores, "trained": s.trained} for d, s in pred.stance.items()
        },
        "sentiment": {"label": pred.sentiment.label, "scores": pred.sentiment.scores},
        "model": pred.model,
    }


@bentoml.service(
    name="stance_classifier",
    # The request guard answers 429 past MAX_CONCURRENCY with the service's error shape;
    # BentoML's own limit is a backstop above it.
    traffic={"timeout": REQUEST_TIMEOUT_S, "max_concurrency": 4 * MAX_CONCURRENCY},
    workers=1,
    logging={"access": {"enabled": ACCESS_LOG}},
    tracing={"excluded_urls": [] if TRACE_PREDICT_PATHS else ["/classify", "/analyze"]},
)
class StanceService:
    bento_model = bentoml.models.BentoModel(configured_tag())

    def __init__(self) -> None:
        import torch

        if TORCH_THREADS > 0:
            torch.set_num_threads(TORCH_THREADS)
        tag = str(self.bento_model.tag)
        self.predictor = Predictor.from_directory(self.bento_model.path, tag, device=DEVICE, precision=PRECISION)
        cfg = self.predictor.config
        request_guard.SERVICE_INFO.update(
            {
                "model": tag,
                "backbone": cfg.backbone,
                "device": str(self.predictor.model.device),
                "precision": PRECISION,
                "dyads": cfg.dyads,
                "default_dyads": cfg.default_dyads,
                "stance_labels": cfg.stance_labels,
                "sentiment_labels": cfg.sentiment_labels,
                "id2label": {"stance": dict(enumerate(cfg.stance_labels)),
                             "sentiment": dict(enumerate(cfg.sentiment_labels))},
                "limits": {name: {"limit": lim, "unit": unit} for name, (lim, unit) in LIMITS.items()},
                "max_batch_size": MAX_BATCH_SIZE,
            }
        )
        self.batcher: MicroBatcher[tuple[QuoteInput, list[str] | None], QuotePrediction] = MicroBatcher(
            self._predict_batch, max_batch_size=MAX_BATCH_SIZE, max_queue_s=MAX_LATENCY_MS / 1000
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

    @bentoml.api
    async def classify(self, quotes: list[QuoteIn]) -> list[QuoteOut]:
        """Stance per dyad and sentiment for each quote, with calibrated scores."""
        preds = await self._predict([(QuoteInput(q.text, q.speaker, q.context), q.dyads) for q in quotes])
        return [QuoteOut.model_validate(_to_out(p)) for p in preds]

    @bentoml.api
    async def analyze(self, article: str, dyads: list[str] | None = None) -> AnalyzeOut:
        """Find the article's quotations, attribute them, and classify each."""
        found = await asyncio.to_thread(extract_quotes, article)
        preds = await self._predict([(QuoteInput(q.text, q.speaker, q.context), dyads) for q in found])
        quotes = [
            AnalyzedQuote.model_validate(
                {**_to_out(p), "text": q.text, "speaker": q.speaker, "context": q.context,
                 "start": q.start, "end": q.end}
            )
            for q, p in zip(found, preds)
        ]
        return AnalyzeOut(quotes=quotes, model=self.predictor.model_tag)


StanceService.add_asgi_middleware(request_guard.RequestGuard)
for _api in StanceService.apis.values():
    # Both endpoints answer JSON.  Declaring it saves BentoML from rebuilding the
    # output's JSON schema on every response just to learn the media type.
    _api.output_spec.media_type = "application/json"


def _check_model_before_workers_start() -> None:
    """A broken model must stop start-up with one clear line, not a worker restart loop."""
    from bentoml.exceptions import NotFound

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
            f"({os.environ.get('BENTOML_HOME', '~/bentoml')}); see 'bentoml models list' or run 'stance train'"
        ) from None
    except ModelLoadError as exc:
        raise RuntimeError(f"cannot serve {configured_tag()}: {exc}") from None


_check_model_before_workers_start()
