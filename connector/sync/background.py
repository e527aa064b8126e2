"""One task at a time beside the run's own thread, its outcome taken on that thread.

The consent stage writes a chunk of consent records (three Bulk jobs, each mostly waiting on
Salesforce) while the engine maps the next batches: before, a 100,000-person first load stood
still for ~70 s of its 113 s on 42 such jobs, one after another. A task runs in one worker
thread; its exception is raised where the caller settles it, so a failure is the run's, as if
the task had run inline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class Background:
    """At most one task running in a worker thread (see the module docstring).

    Args:
        name: The worker thread's name prefix (shown by py-spy and in thread dumps).
        inline: Run each task in the caller's thread when it is started (a dry run, which
            waits on nothing, keeps to one thread).
    """

    def __init__(self, name: str, *, inline: bool = False):
        self.name, self.inline = name, inline
        self._pool: ThreadPoolExecutor | None = None
        self._task: Future[None] | None = None

    @property
    def busy(self) -> bool:
        """A task is running (one that is done is not, settled or not: settle takes its
        outcome)."""
        return self._task is not None and not self._task.done()

    def start(self, task: Callable[[], None]) -> None:
        """Run ``task`` in the worker; the previous one is settled first (waited for)."""
        self.settle()
        if self.inline:
            task()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._task = self._pool.submit(task)

    def settle(self) -> None:
        """Wait for the task, if any; its exception is raised here."""
        task, self._task = self._task, None
        if task is not None:
            task.result()

    def close(self) -> None:
        """Wait for the task and stop the worker. An exception of the task is logged, not
        raised: close runs when the run is failing already, and that failure is the one
        to report."""
        try:
            self.settle()
        except Exception as exc:  # noqa: BLE001 - the run's own error is on its way up
            # The type only: a message may quote a value (errors never carry personal data by
            # design, but this line is not the place to find out).
            kind = type(exc).__name__
            log.warning("%s: a task failed while the run stopped (%s)", self.name, kind)
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True)
