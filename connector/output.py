"""The one place the command line makes its Rich consoles.

On a terminal Rich wraps long lines at the window's width, which reads well. On a pipe, a log
file or cron (``sis-sync plan > plan.txt``) a wrapped line is broken mid-phrase at 80 columns:
grep, diff and log collectors then see half sentences. So when the stream is not a terminal the
console soft-wraps: every ``print`` writes whole lines. Tables keep the console's width (80, or
``COLUMNS``) either way, so ``status`` still fits an 80-column pane.
"""

from __future__ import annotations

from rich.console import Console


class _Console(Console):
    """A Console whose default ``soft_wrap`` follows its stream, asked at each print: the
    commands make their consoles at import, before a test runner or a pipe replaces stdout."""

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        pass  # Console.__init__ sets it; the stream decides


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that never wraps a line when it is not a terminal."""
    return _Console(stderr=stderr)
