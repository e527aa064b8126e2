"""``sis-sync emulator``: run the local Salesforce emulator until interrupted.

``connector.emulator`` is imported inside the command only: every other ``sis-sync`` command
(and ``--help``) starts without loading the emulator.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from connector.errors import ConfigError


def emulator(
    port: Annotated[int, typer.Option(help="HTTPS port on 127.0.0.1.")] = 8443,
    data: Annotated[Path, typer.Option(help="Directory for the org's data and ca.pem.")] = Path(
        "emulator-data"
    ),
    schema: Annotated[
        Path | None,
        typer.Option(
            help="JSON/YAML file adding fields and objects (docs/emulator.md); "
            "'eda' for the shipped EDA org."
        ),
    ] = None,
    person_accounts: Annotated[
        bool,
        typer.Option(
            "--person-accounts",
            help="Turn person accounts on, with the Education Cloud objects (docs/emulator.md).",
        ),
    ] = False,
    jwt_cert: Annotated[
        Path | None, typer.Option(help="Certificate (PEM) whose key signs JWT bearer assertions.")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="Only this client id may get tokens.")
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="Only this client secret may get tokens.")
    ] = None,
    daily_api_limit: Annotated[int, typer.Option(help="Daily API call allocation.")] = 100_000,
) -> None:
    """Run a Salesforce org on 127.0.0.1 over HTTPS (for tests, the demo and integrators)."""
    from connector.emulator.schemas import builtin_schema
    from connector.emulator.server import EmulatorConfig, make_server
    from connector.emulator.wire import EmulatorConfigError

    if schema is not None and not schema.is_file():
        schema = builtin_schema(str(schema)) or schema

    if jwt_cert is not None and not jwt_cert.is_file():
        raise ConfigError(f"--jwt-cert {jwt_cert}: no such file")
    if schema is not None and not schema.is_file():
        raise ConfigError(f"--schema {schema}: no such file")
    config = EmulatorConfig(
        data_dir=data,
        port=port,
        schema_file=schema,
        person_accounts=person_accounts,
        jwt_cert=jwt_cert,
        client_id=client_id,
        client_secret=client_secret,
        daily_api_limit=daily_api_limit,
    )
    try:
        server, app = make_server(config)
    except EmulatorConfigError as exc:
        raise ConfigError(str(exc)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    logging.getLogger(__name__).info("emulator listening on %s", app.base_url)
    typer.echo(f"Salesforce emulator on {app.base_url}  (trust {data / 'ca.pem'}; Ctrl-C stops)")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()
