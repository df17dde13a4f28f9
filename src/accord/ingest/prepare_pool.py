"""Validate and prepare a STIX file's objects, in worker processes when it is large.

Checking an object and deriving its rows (:func:`accord.store.prepare.prepare`) depends on
the object alone and is most of an import's Python work; the versioning decisions and the
database writes need the store and stay with the single writer. So a large file's segments
go to a pool of forked workers, at most a few segments ahead of the writer (bounded
memory), and come back **in file order**: ``date_added`` and the first error reported do
not depend on the workers' timing. An error in a worker travels back as the same
:class:`InputError` naming the object, and the writer's transaction stores nothing.

Workers are forked: they start at once and share the loaded modules. A process that runs
other threads is not forked (a lock held by another thread would stay held in the child);
it prepares objects itself, as does any small file.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from accord.ingest.stix_scan import Segment, parse_segment, segment_objects
from accord.model.errors import AccordError
from accord.store.prepare import Prepared, prepare

# Below this size a pool's start-up costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
_AHEAD_PER_WORKER = 2


def auto_workers(size: int) -> int:
    """Worker processes for a file of ``size`` bytes: 0 (prepare in-process) for small
    files, single-core machines, or where forking is unsafe."""
    cores = os.cpu_count() or 1
    if size < PARALLEL_MIN_BYTES or cores < 2 or not can_fork():
        return 0
    return cores


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def prepare_segment(segment: Segment, *, parsed: bool = False) -> list[Prepared]:
    """Validate and prepare every object of a segment (raises naming the first bad one).

    ``parsed``: use the objects the scanner parsed rather than parse the text again.
    """
    objects = segment_objects(segment) if parsed else parse_segment(segment)
    first = segment.first
    return [prepare(obj, f"object {first + offset}") for offset, obj in enumerate(objects)]


def _prepare_in_worker(segment: Segment) -> list[tuple[Any, ...]]:
    """:func:`prepare_segment` for the pool. Plain tuples travel back: pickle rebuilds a
    named tuple through a Python-level constructor call per object, a plain one in C."""
    return [tuple(p) for p in prepare_segment(segment)]


_as_prepared = partial(tuple.__new__, Prepared)


def prepared_batches(segments: Iterator[Segment], workers: int) -> Iterator[list[Prepared]]:
    """Prepared objects per segment, in file order; ``workers`` 0 prepares in-process.

    Close the iterator (``contextlib.closing``) when leaving early, which stops the pool.
    """
    if workers <= 0:
        for segment in segments:
            yield prepare_segment(segment, parsed=True)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    window: deque[Future[list[tuple[Any, ...]]]] = deque()
    try:
        for segment in segments:
            # Text re-parses faster in the worker than parsed objects would unpickle.
            job = segment._replace(objects=[]) if segment.data is not None else segment
            window.append(pool.submit(_prepare_in_worker, job))
            if len(window) >= _AHEAD_PER_WORKER * workers:
                yield list(map(_as_prepared, _result(window.popleft())))
        while window:
            yield list(map(_as_prepared, _result(window.popleft())))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future[list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    """A segment's prepared rows; a worker that died (killed, out of memory) is reported
    as such rather than as a bare pool error, and the writer's transaction stores nothing."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise AccordError(
            "a worker process preparing the file stopped unexpectedly (killed, or out of "
            "memory?); nothing was stored. Retry, or import with fewer workers"
        ) from exc
