"""The batcher: token budgets, order, coalescing, backpressure, dropping dead work, failures."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor

import numpy as np
import pytest

from embedsvc.encoding.batching import BULK, INTERACTIVE, Batcher
from embedsvc.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

TIMEOUT = 10


class FakeEncoder:
    """Deterministic one-dim vectors (the text's length) and a record of every call."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[list[str], object]] = []
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, texts: list[str], group: object) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(TIMEOUT)
        self.calls.append((list(texts), group))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("boom")
        return np.array([[len(text)] for text in texts], dtype=np.float32)


def tokens(texts: list[str]) -> list[int]:
    return [len(text) for text in texts]


@pytest.fixture
def fake():
    return FakeEncoder()


@pytest.fixture
def make_batcher():
    batchers: list[Batcher] = []

    def make(encode_fn, **kwargs) -> Batcher:
        batchers.append(Batcher(encode_fn, **kwargs))
        return batchers[-1]

    yield make
    for batcher in batchers:
        batcher.close(TIMEOUT)


def hold(fake: FakeEncoder, batcher: Batcher) -> None:
    """Keep the worker busy inside encode_fn so later submissions pile up in the queue."""
    fake.gate.clear()
    batcher.submit(["hold"], [4], "hold")
    assert fake.entered.wait(TIMEOUT)


def test_results_come_back_in_caller_order(fake, make_batcher):
    batcher = make_batcher(fake, max_batch_tokens=8)
    texts = ["bb", "a", "dddd", "ccc", "", "eeeee"]
    result = batcher.submit(texts, tokens(texts), "p").result(TIMEOUT)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result[:, 0], [len(text) for text in texts])


def test_batches_fit_the_padded_token_budget(fake, make_batcher):
    budget = 12
    batcher = make_batcher(fake, max_batch_tokens=budget)
    texts = ["x" * n for n in (1, 7, 3, 3, 2, 6, 1, 4, 20, 5, 2, 2)]
    batcher.submit(texts, tokens(texts), "p").result(TIMEOUT)
    sizes = [len(batch) for batch, _ in fake.calls]
    assert sum(sizes) == len(texts)
    for batch, _ in fake.calls:
        cost = max(len(text) for text in batch) * len(batch)
        assert cost <= budget or len(batch) == 1, batch
    assert fake.calls[0][0] == ["x" * 20]  # longer than the budget: alone
    for batch, _ in fake.calls:  # sorted by length, so padding waste stays small
        assert [len(text) for text in batch] == sorted((len(text) for text in batch), reverse=True)


def test_concurrent_submitters_coalesce(fake, make_batcher):
    batcher = make_batcher(fake, max_batch_tokens=1000)
    hold(fake, batcher)
    submitted = threading.Barrier(21)

    def caller(i: int) -> float:
        future = batcher.submit(["x" * i], [i], "p")
        submitted.wait(TIMEOUT)
        return future.result(TIMEOUT)[0, 0]

    with ThreadPoolExecutor(20) as pool:
        results = pool.map(caller, range(1, 21))
        submitted.wait(TIMEOUT)
        fake.gate.set()
        assert list(results) == list(range(1, 21))
    assert len(fake.calls) == 2  # the held call, then all twenty callers in one batch


def test_groups_are_never_mixed(fake, make_batcher):
    batcher = make_batcher(fake)
    hold(fake, batcher)
    futures = [batcher.submit([f"t{i}"], [2], f"profile-{i % 3}") for i in range(9)]
    fake.gate.set()
    for future in futures:
        future.result(TIMEOUT)
    groups = [group for _, group in fake.calls[1:]]
    assert sorted(groups) == ["profile-0", "profile-1", "profile-2"]
    for texts, group in fake.calls[1:]:
        assert {int(text[1:]) % 3 for text in texts} == {int(group[-1])}


def test_full_queue_refuses_with_resource_exhausted(fake, make_batcher):
    batcher = make_batcher(fake, max_queue_texts=5)
    hold(fake, batcher)  # the held text counts until it is done
    batcher.submit(["a", "b", "c"], [1, 1, 1], "p")
    with pytest.raises(ResourceExhausted, match="queue is full"):
        batcher.submit(["d", "e"], [1, 1], "p")
    batcher.submit(["d"], [1], "p")
    fake.gate.set()
    deadline = time.monotonic() + TIMEOUT
    while True:  # the budget comes back once the work is done
        try:
            batcher.submit(["a", "b", "c", "d", "e"], [1] * 5, "p").result(TIMEOUT)
            break
        except ResourceExhausted:
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_bad_requests_are_refused(fake, make_batcher):
    batcher = make_batcher(fake, max_queue_texts=3)
    with pytest.raises(InvalidArgument, match="empty"):
        batcher.submit([], [], "p")
    with pytest.raises(InvalidArgument, match="token counts"):
        batcher.submit(["a", "b"], [1], "p")
    with pytest.raises(InvalidArgument, match="smaller requests"):
        batcher.submit(["a"] * 4, [1] * 4, "p")


def test_gone_expired_and_cancelled_work_never_reaches_the_model(fake, make_batcher):
    batcher = make_batcher(fake)
    hold(fake, batcher)
    gone = batcher.submit(["gone"], [4], "p", is_active=lambda: False)
    expired = batcher.submit(["expired"], [7], "p", deadline=time.monotonic() - 1)
    cancelled = batcher.submit(["cancelled"], [9], "p")
    assert cancelled.cancel()
    broken = batcher.submit(["broken"], [6], "p", is_active=lambda: 1 / 0)
    alive = batcher.submit(["alive"], [5], "p", is_active=lambda: True,
                           deadline=time.monotonic() + 60)
    fake.gate.set()
    assert alive.result(TIMEOUT)[0, 0] == 5
    for future in (gone, expired, cancelled, broken):
        with pytest.raises(CancelledError):
            future.result(TIMEOUT)
    seen = {text for texts, _ in fake.calls for text in texts}
    assert seen == {"hold", "alive"}


def test_failing_batch_fails_only_its_requests(make_batcher):
    fake = FakeEncoder(fail_on="poison")
    batcher = make_batcher(fake, max_batch_tokens=6)
    hold(fake, batcher)
    # "poison" (6 tokens) fills a batch by itself; the shorter texts go in later batches.
    victim = batcher.submit(["poison", "ok"], [6, 2], "p")
    bystander = batcher.submit(["fine", "ok"], [4, 2], "p")
    fake.gate.set()
    with pytest.raises(RuntimeError, match="boom"):
        victim.result(TIMEOUT)
    np.testing.assert_array_equal(bystander.result(TIMEOUT)[:, 0], [4, 2])
    assert batcher.submit(["again"], [5], "p").result(TIMEOUT)[0, 0] == 5
    # The victim's "ok" is dropped once its request failed; the worker carries on.
    assert [texts for texts, _ in fake.calls] == [["hold"], ["poison"], ["fine"], ["ok"], ["again"]]


def test_wrong_row_count_fails_the_batch_not_the_worker(make_batcher):
    batcher = make_batcher(lambda texts, group: np.zeros((len(texts) + 1, 2)))
    with pytest.raises(RuntimeError, match="rows"):
        batcher.submit(["a"], [1], "p").result(TIMEOUT)
    batcher.encode_fn = lambda texts, group: np.ones((len(texts), 2))
    assert batcher.submit(["a"], [1], "p").result(TIMEOUT).shape == (1, 2)


def test_close_finishes_queued_work_then_refuses(fake):
    batcher = Batcher(fake)
    hold(fake, batcher)
    queued = batcher.submit(["queued"], [6], "p")
    closer = threading.Thread(target=batcher.close)
    closer.start()
    fake.gate.set()
    closer.join(TIMEOUT)
    assert queued.result(TIMEOUT)[0, 0] == 6
    with pytest.raises(FailedPrecondition, match="shutting down"):
        batcher.submit(["late"], [4], "p")


def test_a_pass_holds_at_most_max_pass_texts(fake, make_batcher):
    """Many short queued texts are not padded together into one huge pass."""
    batcher = make_batcher(fake, max_batch_tokens=10_000, max_pass_texts=4)
    hold(fake, batcher)
    futures = [batcher.submit(["x" * (i + 1)], [i + 1], "p") for i in range(10)]
    fake.gate.set()
    for future in futures:
        future.result(TIMEOUT)
    sizes = [len(batch) for batch, _ in fake.calls[1:]]
    assert sizes and max(sizes) <= 4 and sum(sizes) == 10


def test_interactive_work_is_served_between_passes_of_bulk_work(fake, make_batcher):
    """A query waits for at most one pass of an upsert, not for the whole upsert."""
    batcher = make_batcher(fake, max_batch_tokens=10_000, max_pass_texts=2)
    hold(fake, batcher)  # the worker is busy inside a pass
    bulk = batcher.submit([f"doc{i}" for i in range(6)], [4] * 6, "p", priority=BULK)
    query = batcher.submit(["query"], [5], "p", priority=INTERACTIVE)
    fake.gate.set()
    assert query.result(TIMEOUT)[0, 0] == 5
    bulk.result(TIMEOUT)
    calls = [texts for texts, _ in fake.calls]
    assert calls[0] == ["hold"] and calls[1] == ["query"]
    assert sum(len(texts) for texts in calls[2:]) == 6


def test_a_query_arriving_mid_upsert_goes_before_its_remaining_passes(make_batcher):
    fake = FakeEncoder()
    batcher = make_batcher(fake, max_batch_tokens=10_000, max_pass_texts=2)
    fake.gate.clear()
    bulk = batcher.submit([f"doc{i}" for i in range(6)], [4] * 6, "p", priority=BULK)
    assert fake.entered.wait(TIMEOUT)  # the first bulk pass is running
    query = batcher.submit(["query"], [5], "p", priority=INTERACTIVE)
    fake.gate.set()
    assert query.result(TIMEOUT)[0, 0] == 5
    bulk.result(TIMEOUT)
    calls = [texts for texts, _ in fake.calls]
    assert len(calls) == 4 and calls[1] == ["query"]


class SteppedEncoder:
    """Each forward pass waits for a permit; passes are recorded in the order they start."""

    def __init__(self) -> None:
        self.permits = threading.Semaphore(0)
        self.started: list[list[str]] = []
        self.changed = threading.Condition()

    def __call__(self, texts: list[str], group: object) -> np.ndarray:
        with self.changed:
            self.started.append(list(texts))
            self.changed.notify_all()
        assert self.permits.acquire(timeout=TIMEOUT)
        return np.ones((len(texts), 1), dtype=np.float32)

    def wait_started(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.started) >= count, TIMEOUT)


def test_a_stream_of_queries_does_not_starve_bulk_work(make_batcher):
    stepped = SteppedEncoder()
    batcher = make_batcher(stepped)
    hold = batcher.submit(["hold"], [4], "p", priority=BULK)
    stepped.wait_started(1)
    bulk = batcher.submit(["bulk"], [4], "p", priority=BULK)
    first = batcher.submit(["query 1"], [4], "p", priority=INTERACTIVE)
    stepped.permits.release()  # "hold" ends; the queued query goes first
    stepped.wait_started(2)
    second = batcher.submit(["query 2"], [4], "p", priority=INTERACTIVE)  # more keep coming
    stepped.permits.release(3)
    for future in (hold, bulk, first, second):
        future.result(TIMEOUT)
    assert stepped.started == [["hold"], ["query 1"], ["bulk"], ["query 2"]]
