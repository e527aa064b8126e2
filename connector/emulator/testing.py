"""Run an emulator inside a test (or the demo): ``with running_emulator() as emu: emu.client()``."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from connector.emulator.certs import CA_FILE
from connector.emulator.server import EmulatorConfig, make_server


class EmulatorHandle:
    """A running emulator: its URL, CA file, control calls and ready clients."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.server, self.app = make_server(config)
        self.url = self.app.base_url
        self.ca_file = str(config.data_dir / CA_FILE)
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"emulator-{config.port}",
        )
        self._thread.start()

    def sync_env(self, client_id: str = "t") -> dict[str, str]:
        """The ``SIS_SYNC_SALESFORCE__*`` settings that point a sis-sync project at this
        emulator (client credentials: the emulator accepts any client id and secret)."""
        return {
            "SIS_SYNC_SALESFORCE__URL": self.url,
            "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
            "SIS_SYNC_SALESFORCE__CLIENT_ID": client_id,
            "SIS_SYNC_SALESFORCE__CLIENT_SECRET": client_id,
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": self.ca_file,
        }

    def session(self) -> requests.Session:
        """A requests session that trusts the emulator's CA.

        ``trust_env`` is off because REQUESTS_CA_BUNDLE would otherwise override ``verify``.
        """
        s = requests.Session()
        s.verify = self.ca_file
        s.trust_env = False
        return s

    def _control(self, method: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        with self.session() as s:
            resp = s.request(method, f"{self.url}/__emulator__/{name}", json=payload, timeout=30)
            resp.raise_for_status()
            return resp.json()

    def stats(self) -> dict[str, Any]:
        """``GET /__emulator__/stats``."""
        return self._control("GET", "stats")

    def reset(self) -> dict[str, Any]:
        """``POST /__emulator__/reset``."""
        return self._control("POST", "reset")

    def faults(self, **settings: Any) -> dict[str, Any]:
        """``POST /__emulator__/faults`` with any of the fault keys."""
        return self._control("POST", "faults", settings)

    def token(self, session: requests.Session | None = None) -> dict[str, Any]:
        """A fresh token response (client-credentials grant)."""
        s = session or self.session()
        resp = s.post(
            f"{self.url}/services/oauth2/token",
            timeout=30,
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.client_id or "emulator",
                "client_secret": self.config.client_secret or "emulator",
            },
        )
        resp.raise_for_status()
        return resp.json()

    def client(self, **kwargs: Any) -> Salesforce:
        """A simple-salesforce client in direct-session mode with a token from this emulator."""
        s = self.session()
        tok = self.token(s)
        return Salesforce(
            session_id=tok["access_token"], instance_url=tok["instance_url"], session=s, **kwargs
        )

    def stop(self) -> None:
        """Stop serving and release the data directory."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
        self.app.close()


@contextmanager
def running_emulator(
    data_dir: Path | str | None = None, **options: Any
) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free 127.0.0.1 port in a background thread.

    Args:
        data_dir: where the org lives (kept); default a temporary directory (removed after).
        **options: any ``EmulatorConfig`` field (``schema_file``, ``jwt_cert``, ``client_id``,
            ``client_secret``, ``daily_api_limit``, ``users``).

    Yields:
        The running emulator's handle.
    """
    temp = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="sfemu-")) if data_dir is None else Path(data_dir)
    handle = EmulatorHandle(EmulatorConfig(data_dir=directory, port=0, **options))
    try:
        yield handle
    finally:
        handle.stop()
        if temp:
            shutil.rmtree(directory, ignore_errors=True)
