"""The one place the command line makes its Rich consoles.

On a terminal Rich wraps long lines at the window's width, which reads well. On a pipe, a log
file or cron (``sis-sync plan > plan.txt``) a wrapped line is broken mid-phrase at 80 columns:
grep, diff and log collectors then see half sentences. So when the stream is not a terminal the
console soft-wraps: every ``print`` writes whole lines. Tables keep the console's width (80, or
``COLUMNS``) either way, so ``status`` still fits an 80-column pane.

With ``--log-format json`` every line on stderr must be one JSON object (docs/operations.md):
a log shipper parses stderr line by line. So the stderr console then writes each line it
renders as ``{"time", "level", "logger", "message"}``, like a log line, whichever command
prints it (``validate``'s problems, ``rejects``' note, ``erase``'s messages …).
"""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

_json_stderr = False  # set by the global --log-format option (connector/cli.py)


def set_json_stderr(on: bool) -> None:
    """Make every stderr console write JSON lines (``--log-format json``) or text."""
    global _json_stderr
    _json_stderr = on


def json_stderr() -> bool:
    """True when stderr carries JSON lines only (``--log-format json``)."""
    return _json_stderr


# A line's first word says how bad it is; the rest is the message.
_LEVELS = (("error:", "ERROR"), ("warning:", "WARNING"))


def json_line(text: str, *, level: str = "", **extra: Any) -> str:
    """``text`` as one JSON log line; its level from an ``error:``/``warning:`` prefix, else
    ``level`` or INFO. The text is the connector's own, which never holds a personal value."""
    message = text
    for prefix, name in _LEVELS:
        if text.lower().startswith(prefix):
            message, level = text[len(prefix) :].lstrip(), name
            break
    data: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level or "INFO",
        "logger": "connector.cli",
        "message": message,
    }
    return json.dumps(data | extra, ensure_ascii=False)


def say(text: str) -> None:
    """One plain line for people on stderr, or one JSON object under ``--log-format json``.

    For ``typer.echo(…, err=True)``-style notes; ``text`` is not Rich markup.
    """
    sys.stderr.write((json_line(text) if _json_stderr else text) + "\n")


class _Console(Console):
    """A Console whose default ``soft_wrap`` follows its stream, asked at each print: the
    commands make their consoles at import, before a test runner or a pipe replaces stdout."""

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        pass  # Console.__init__ sets it; the stream decides


class _StderrConsole(_Console):
    """The stderr console: under ``--log-format json`` each rendered line becomes a JSON line."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print as Rich does, or (JSON mode) render without colour and write JSON lines."""
        if not _json_stderr:
            super().print(*objects, **kwargs)
            return
        buffer = io.StringIO()
        plain = Console(file=buffer, color_system=None, width=self.width, soft_wrap=True)
        kwargs.pop("soft_wrap", None)
        plain.print(*objects, soft_wrap=True, **kwargs)
        for line in buffer.getvalue().splitlines():
            if line.strip():
                self.file.write(json_line(line.rstrip()) + "\n")
        self.file.flush()


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that never wraps a line when it is not a terminal; the
    stderr one writes JSON lines under ``--log-format json``."""
    return _StderrConsole(stderr=True) if stderr else _Console()
