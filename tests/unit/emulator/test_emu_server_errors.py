"""The emulator's server on a failure while it answers: a client that went away is a debug
line, not a traceback on stderr (a killed client was printed as two tracebacks per request)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from connector.emulator.server import EmulatorConfig, make_server


@pytest.fixture
def server(tmp_path: Path):
    srv, _app = make_server(EmulatorConfig(data_dir=tmp_path, port=0))
    yield srv
    srv.server_close()


@pytest.mark.parametrize(
    "gone", [ssl.SSLEOFError(8, "EOF occurred"), BrokenPipeError(), ConnectionResetError()]
)
def test_a_client_gone_mid_answer_is_a_debug_line(server, gone, capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="connector.emulator.server")
    try:
        raise gone
    except OSError:
        server.handle_error(None, ("127.0.0.1", 40000))
    assert capsys.readouterr().err == ""
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "gone" in caplog.records[0].getMessage()


def test_any_other_failure_is_logged_with_its_traceback(server, capsys, caplog):
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 40000))
    assert capsys.readouterr().err == ""
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
