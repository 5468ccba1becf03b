"""Write many documents at once, one worker process per core.

Why processes: WeasyPrint is pure Python for layout and holds the GIL, so threads do not
help; each process gets its own DocumentRenderer (parsed CSS, loaded fonts), built once and
reused for every document it renders. A PDF depends only on its context, never on the
process or on what was rendered before, so the files are byte-identical to a serial run
(tests/reports check this).

Workers are started with "spawn": the caller may be a threaded Dagster process, and forking
one is unsafe. Starting costs about a second per worker, so small batches are rendered in
this process instead.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from multiprocessing.util import Finalize
from pathlib import Path

from credits_warehouse.documents.render import DOCUMENT_TEMPLATES, DocumentRenderer

# (kind, context, path): kind is a key of DOCUMENT_TEMPLATES ("statement", "invoice",
# "credit_note").
Job = tuple[str, dict, Path]
Progress = Callable[[int, int], None]

# Below this many documents per worker, starting the workers costs more than it saves.
MIN_JOBS_PER_WORKER = 4
MAX_CHUNK = 4

_worker_renderer: DocumentRenderer | None = None


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def write_documents(
    jobs: Iterable[Job],
    renderer: DocumentRenderer | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Write documents one after another in this process, with one shared renderer."""
    jobs = _checked(jobs)
    renderer = renderer or DocumentRenderer()
    written = []
    for done, (kind, context, path) in enumerate(jobs, start=1):
        written.append(renderer.render_document(kind, context, path))
        if progress:
            progress(done, len(jobs))
    return written


def write_documents_parallel(
    jobs: Iterable[Job],
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Write documents on `workers` processes (default: one per core); paths in job order.

    `progress(done, total)` is called in this process as documents finish. If a document
    fails, the others still pending are cancelled and the error is raised here; the files
    already written are complete (each is written atomically).
    """
    jobs = _checked(jobs)
    workers = default_workers() if workers is None else max(1, workers)
    workers = min(workers, len(jobs) // MIN_JOBS_PER_WORKER)
    if workers <= 1:
        return write_documents(jobs, progress=progress)

    # Chunks amortize sending contexts to the workers; small ones keep the progress bar
    # moving and leave no worker idle while another finishes a long last chunk.
    chunk = max(1, min(MAX_CHUNK, len(jobs) // (workers * 16)))
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    results: dict[int, list[Path]] = {}
    done = 0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    ) as pool:
        futures: dict[Future, int] = {
            pool.submit(_render_chunk, part): index for index, part in enumerate(chunks)
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                index = futures[future]
                results[index] = future.result()
                done += len(chunks[index])
                if progress:
                    progress(done, len(jobs))
    return [path for index in range(len(chunks)) for path in results[index]]


def _checked(jobs: Iterable[Job]) -> list[Job]:
    checked = []
    for kind, context, path in jobs:
        if kind not in DOCUMENT_TEMPLATES:
            raise ValueError(f"unknown document kind {kind!r}")
        checked.append((kind, context, Path(path)))
    return checked


def _init_worker() -> None:
    global _worker_renderer
    _worker_renderer = DocumentRenderer()
    # A pool worker ends with os._exit, past atexit and the garbage collector, so WeasyPrint
    # would never remove its font folder (/tmp/weasyprint-*): drop the renderer in
    # multiprocessing's own exit finalizers instead.
    Finalize(None, _drop_worker_renderer, exitpriority=0)


def _drop_worker_renderer() -> None:
    global _worker_renderer
    _worker_renderer = None


def _render_chunk(jobs: Sequence[Job]) -> list[Path]:
    assert _worker_renderer is not None, "worker not initialized"  # noqa: S101
    return [_worker_renderer.render_document(kind, ctx, path) for kind, ctx, path in jobs]
