"""Flat combining: many threads of one process that ask for the same kind of write at the
same moment have it done in one batch, by one of them, on one database connection.

It has no thread of its own. The first request to arrive leads: it waits a short window
for others, runs everything gathered as one batch, hands each request its answer, and
passes the lead to the next request waiting, if any, so that nobody leads for longer than
their own batch. Stock claims (orders.claims) and gift sends (gifting.sends) use it: a hot
row (a flash deal's variant, a viewer's wallet) is locked once per batch instead of once
per request, and a batch costs a few statements and one commit instead of a few per
request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

# What a batch runs: the items, in arrival order, to one outcome per item (an exception
# instance is raised to its caller, anything else returned) and a value handed to `after`.
RunBatch = Callable[[list[Item]], tuple[Sequence[Any], Any]]


class _Waiter(Generic[Item]):
    __slots__ = ("item", "done", "lead", "outcome", "error")

    def __init__(self, item: Item):
        self.item = item
        self.done = threading.Event()
        self.lead = False
        self.outcome: Any = None
        self.error: BaseException | None = None


class Combiner(Generic[Item]):
    """Runs run_batch over the items submitted at the same moment.

    window() is how long a leader waits for company (seconds, read per batch so that
    settings can change it); batch_max caps a batch; a request still queued after
    wait_seconds gives up with busy(). With key, a batch takes at most one item per key
    (the others wait for the next batch): run_batch can then treat each key's row as
    touched once. after(value) runs once the batch's callers have their answers, on the
    leader's thread, before the next batch begins, so that announcements keep the order
    of the commits."""

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        window: Callable[[], float],
        busy: Callable[[], BaseException],
        batch_max: int = 200,
        wait_seconds: float = 30,
        key: Callable[[Item], Hashable] | None = None,
        after: Callable[[Any], None] | None = None,
        leaders: int = 1,
    ) -> None:
        self._run_batch = run_batch
        self._window = window
        self._busy = busy
        self._batch_max = batch_max
        self._wait_seconds = wait_seconds
        self._key = key
        self._after = after
        self._max_leaders = leaders
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item]] = []
        self._leaders = 0

    def submit(self, item: Item) -> Any:
        """The item's outcome, from whichever thread ran its batch."""
        waiter = _Waiter(item)
        with self._lock:
            lead = self._leaders < self._max_leaders
            if lead:
                self._leaders += 1
            else:
                self._queue.append(waiter)
        if lead:
            window = self._window()
            if window:
                time.sleep(window)
        else:
            if not waiter.done.wait(timeout=self._wait_seconds):
                with self._lock:
                    if waiter in self._queue:
                        # Still not taken: give up and leave nothing behind.
                        self._queue.remove(waiter)
                        raise self._busy()
                # Its batch is running right now, or it was just made a leader.
                waiter.done.wait()
            if not waiter.lead:
                return self._answer(waiter)
        self._lead(waiter)
        return self._answer(waiter)

    def _take(self, own: _Waiter[Item]) -> list[_Waiter[Item]]:
        # Called with the lock held: the leader's own request, then what waits.
        room = self._batch_max - 1
        if self._key is None:
            batch = [own, *self._queue[:room]]
            del self._queue[:room]
            return batch
        batch, rest, seen = [own], [], {self._key(own.item)}
        for waiter in self._queue:
            key = self._key(waiter.item)
            if len(batch) <= room and key not in seen:
                seen.add(key)
                batch.append(waiter)
            else:
                rest.append(waiter)
        self._queue[:] = rest
        return batch

    def _lead(self, own: _Waiter[Item]) -> None:
        with self._lock:
            batch = self._take(own)
        value = None
        try:
            outcomes, value = self._run_batch([w.item for w in batch])
            for waiter, outcome in zip(batch, outcomes, strict=True):
                waiter.outcome = outcome
        except BaseException as exc:  # noqa: BLE001 (handed to each request of the batch)
            for waiter in batch:
                waiter.error = exc
        finally:
            with self._lock:
                # The lead passes to the longest waiting, taken out of the queue so that
                # no other leader takes it into a batch meanwhile.
                successor = self._queue.pop(0) if self._queue else None
                if successor is None:
                    self._leaders -= 1
                else:
                    successor.lead = True
            for waiter in batch:
                waiter.done.set()
            try:
                # Before the next batch starts: what batches announce (events with their
                # seqs) goes out in the order they committed.
                if self._after is not None and value is not None:
                    self._after(value)
            finally:
                if successor is not None:
                    successor.done.set()

    @staticmethod
    def _answer(waiter: _Waiter) -> Any:
        if waiter.error is not None:
            raise waiter.error
        if isinstance(waiter.outcome, BaseException):
            raise waiter.outcome
        return waiter.outcome
