"""The service's micro-batcher: merges concurrent requests, splits big ones, sheds stale ones."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from service.micro_batcher import MicroBatcher, QueueTimeout


class Recorder:
    """A batch function that remembers each batch it ran and can be held back."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.thread_names: set[str] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.thread_names.add(threading.current_thread().name)
        time.sleep(self.delay)
        self.batches.append(list(items))
        return [x * 10 for x in items]


def test_concurrent_requests_share_a_batch_and_get_their_own_results_in_order():
    rec = Recorder(delay=0.05)

    async def main():
        batcher = MicroBatcher(rec, max_batch_size=64, max_queue_s=10)
        first = asyncio.create_task(batcher.submit([1]))  # starts a batch at once
        await asyncio.sleep(0.01)
        rest = await asyncio.gather(*(batcher.submit([k, k + 100]) for k in range(2, 7)), first)
        batcher.shutdown()
        return rest, batcher.stats

    results, stats = asyncio.run(main())
    assert results[:5] == [[k * 10, (k + 100) * 10] for k in range(2, 7)]
    assert results[5] == [10]
    assert rec.batches[0] == [1]  # an idle model does not wait for company
    assert rec.batches[1] == [2, 102, 3, 103, 4, 104, 5, 105, 6, 106]  # arrived while it ran: one batch
    assert stats.batches == 2 and stats.items == 11 and stats.largest == 10
    assert all(name.startswith("stance-model") for name in rec.thread_names)


def test_a_request_over_the_batch_limit_is_split_not_refused():
    rec = Recorder()

    async def main():
        batcher = MicroBatcher(rec, max_batch_size=4, max_queue_s=10)
        out = await batcher.submit(list(range(10)))
        batcher.shutdown()
        return out

    assert asyncio.run(main()) == [x * 10 for x in range(10)]
    assert [len(b) for b in rec.batches] == [4, 4, 2]


def test_requests_that_waited_past_the_limit_are_shed_with_queue_timeout():
    rec = Recorder(delay=0.3)

    async def main():
        batcher = MicroBatcher(rec, max_batch_size=1, max_queue_s=0.1)
        slow = asyncio.create_task(batcher.submit([1]))
        await asyncio.sleep(0.01)
        late = asyncio.create_task(batcher.submit([2]))
        done = await asyncio.gather(slow, late, return_exceptions=True)
        batcher.shutdown()
        return done, batcher.stats

    (ok, shed), stats = asyncio.run(main())
    assert ok == [10]
    assert isinstance(shed, QueueTimeout) and shed.limit_s == 0.1 and shed.waited_s > 0.1
    assert stats.shed == 1 and rec.batches == [[1]]


def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs():
    calls = []

    def flaky(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return items

    async def main():
        batcher = MicroBatcher(flaky, max_batch_size=8, max_queue_s=10)
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit([1])
        out = await batcher.submit([2])
        batcher.shutdown()
        return out

    assert asyncio.run(main()) == [2]


@pytest.mark.parametrize("kwargs", [{"max_batch_size": 0, "max_queue_s": 1}, {"max_batch_size": 1, "max_queue_s": 0}])
def test_bad_limits_are_refused_with_the_value(kwargs):
    with pytest.raises(ValueError, match="got 0"):
        MicroBatcher(lambda x: x, **kwargs)
