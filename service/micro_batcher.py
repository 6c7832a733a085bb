"""Greedy micro-batching for the model: one model thread, and whatever arrives while it runs is the next batch.

BentoML's adaptive batcher decides when to release a batch by polling its
queue every millisecond and by waiting as long as recent batches waited.  On a
two-core machine both cost us: the poll takes the GIL from the forward pass,
and the learned wait is added to a lone request's latency (a single quote took
twice a bare forward pass).  Here the model thread never waits for company:
an idle model takes a request at once, a busy one finds the next batch queued
when it finishes.  Requests larger than ``max_batch_size`` are split into
chunks, never refused and never run as one giant tensor.
"""

from __future__ import annotations

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
T = TypeVar("T")


class QueueTimeout(Exception):
    """A request waited longer than ``max_queue_s`` for the model; the service answers 503."""

    def __init__(self, waited_s: float, limit_s: float) -> None:
        super().__init__(f"waited {waited_s:.1f} s for the model, over the limit of {limit_s:g} s")
        self.waited_s = waited_s
        self.limit_s = limit_s


@dataclass
class _Job(Generic[In, Out]):
    items: list[In]
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    """How batches formed (batches run, items, largest, requests shed); read by tests and when debugging."""

    batches: int = 0
    items: int = 0
    largest: int = 0
    shed: int = 0

    @property
    def mean_batch(self) -> float:
        return self.items / self.batches if self.batches else 0.0


class MicroBatcher(Generic[In, Out]):
    """Runs ``run_batch`` on one dedicated thread over batches of queued items, in arrival order."""

    def __init__(self, run_batch: Callable[[list[In]], list[Out]], max_batch_size: int, max_queue_s: float) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_queue_s <= 0:
            raise ValueError(f"max_queue_s must be > 0, got {max_queue_s}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_queue_s = max_queue_s
        self.stats = BatchStats()
        self._queue: collections.deque[_Job[In, Out]] = collections.deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stance-model")
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None

    async def submit(self, items: Sequence[In]) -> list[Out]:
        """Results for ``items``, in order, once the model thread has run every chunk of them."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if self._loop_task is None or self._loop_task.done():
            self._wake = asyncio.Event()
            self._loop_task = loop.create_task(self._serve_forever())
        jobs = [
            _Job(list(items[start : start + self.max_batch_size]), loop.create_future())
            for start in range(0, len(items), self.max_batch_size)
        ]
        self._queue.extend(jobs)
        assert self._wake is not None
        self._wake.set()
        try:
            parts = await asyncio.gather(*(job.future for job in jobs))
        except BaseException:
            for job in jobs:  # the caller is gone or one chunk failed: drop the rest of its chunks
                job.future.cancel()
            raise
        return [out for part in parts for out in part]

    async def run_exclusive(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the model thread, between batches: work that needs the whole model (an
        explanation's dozens of forward passes) never runs beside a batch and never starves it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    def _next_batch(self) -> list[_Job[In, Out]]:
        """Queued jobs, oldest first, up to ``max_batch_size`` items; sheds jobs that waited too long."""
        now = time.monotonic()
        batch: list[_Job[In, Out]] = []
        size = 0
        while self._queue:
            job = self._queue[0]
            if job.future.done():  # cancelled: its client went away
                self._queue.popleft()
                continue
            waited = now - job.enqueued
            if waited > self.max_queue_s:
                self._queue.popleft()
                job.future.set_exception(QueueTimeout(waited, self.max_queue_s))
                self.stats.shed += 1
                continue
            if batch and size + len(job.items) > self.max_batch_size:
                break
            self._queue.popleft()
            batch.append(job)
            size += len(job.items)
        return batch

    async def _serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._next_batch()
                if not batch:
                    continue
                items = [item for job in batch for item in job.items]
                try:
                    outputs = await loop.run_in_executor(self._executor, self.run_batch, items)
                    if len(outputs) != len(items):
                        raise RuntimeError(f"batch function returned {len(outputs)} results for {len(items)} items")
                except Exception as exc:  # noqa: BLE001 - handed to every caller in the batch
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                self.stats.batches += 1
                self.stats.items += len(items)
                self.stats.largest = max(self.stats.largest, len(items))
                start = 0
                for job in batch:
                    if not job.future.done():
                        job.future.set_result(outputs[start : start + len(job.items)])
                    start += len(job.items)

    def shutdown(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
        for job in self._queue:
            job.future.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
