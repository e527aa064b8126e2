"""Calls into a source, plugin or built-in, that keep a plugin's bug from leaking a value.

A source's contract errors (``ConnectorError``: InputError, SourceError …) pass as they are;
any other exception is a plugin bug whose message may quote a row's value (issue #12), so it
becomes a value-free :class:`~connector.errors.PluginError`, its frames logged under ``-v``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from connector.errors import ConnectorError, PluginError
from connector.records import Reject, SourceRecord
from connector.sources.base import Source

plugin_log = logging.getLogger("connector.plugins")


def plugin_failed(source: Source, exc: Exception) -> PluginError:
    """A source's unexpected exception as a value-free PluginError; its frames under ``-v``."""
    kind = getattr(source, "kind", type(source).__name__)
    if plugin_log.isEnabledFor(logging.DEBUG):
        import traceback  # only under -v

        frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        plugin_log.debug(
            "source %s raised %s.%s (message withheld: it may hold a value)\n"
            "Traceback (most recent call last):\n%s",
            kind, type(exc).__module__, type(exc).__qualname__, frames.rstrip(),
        )  # fmt: skip
    return PluginError(kind, exc)


def plugin_call(source: Source, call: Callable[[], object]) -> None:
    """``call()`` of a source (its ``check``): its contract errors pass, anything else is a
    plugin bug whose message may quote a value (issue #12), so it is replaced."""
    try:
        call()
    except ConnectorError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is a plugin bug
        raise plugin_failed(source, exc) from None


def plugin_rows(source: Source) -> Iterator[SourceRecord | Reject]:
    """The rows of ``source.read()``; an unexpected exception while reading, as in
    :func:`plugin_call`. Exceptions of the loop that consumes the rows do not pass here."""
    try:
        yield from source.read()
    except ConnectorError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is a plugin bug
        raise plugin_failed(source, exc) from None
