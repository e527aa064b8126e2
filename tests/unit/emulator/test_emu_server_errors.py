"""The emulator's server on a failure while it answers: a client that went away is a debug
line, not a traceback on stderr (a killed client was printed as two tracebacks per request)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

import connector.emulator.server as server_module
from connector.emulator.server import EmulatorConfig, make_server


class _Log:
    """Records the server logger's calls (the suite's other tests leave handlers of their own
    on the logging tree; this test is about what the server says, not where it goes)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("debug", kwargs))

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("error", kwargs))


@pytest.fixture
def server(tmp_path: Path, monkeypatch):
    srv, _app = make_server(EmulatorConfig(data_dir=tmp_path, port=0))
    log = _Log()
    monkeypatch.setattr(server_module, "log", log)
    yield srv, log
    srv.server_close()


@pytest.mark.parametrize(
    "gone", [ssl.SSLEOFError(8, "EOF occurred"), BrokenPipeError(), ConnectionResetError()]
)
def test_a_client_gone_mid_answer_is_a_debug_line(server, gone, capsys):
    srv, log = server
    try:
        raise gone
    except OSError:
        srv.handle_error(None, ("127.0.0.1", 40000))
    assert capsys.readouterr().err == ""  # socketserver's default prints the traceback here
    assert log.calls == [("debug", {})]


def test_any_other_failure_is_logged_with_its_traceback(server, capsys):
    srv, log = server
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        srv.handle_error(None, ("127.0.0.1", 40000))
    assert capsys.readouterr().err == ""
    ((level, kwargs),) = log.calls
    assert level == "error" and isinstance(kwargs["exc_info"], ValueError)
