"""Configuration: ``sync.yaml`` plus environment variables (DESIGN §4; the names are a contract).

Every setting can be overridden by ``SIS_SYNC_`` + its path in capitals with ``__`` between
levels (``SIS_SYNC_SALESFORCE__URL``, ``SIS_SYNC_STATE__URL``, ``SIS_SYNC_MAPPINGS`` …). Secrets
come only from the environment or from files named by ``*_FILE`` variables; a secret written
into sync.yaml is refused, so that the file can be committed and shared.

Relative paths in sync.yaml (mappings, a SQLite state URL, key and CA files) are relative to the
folder that holds sync.yaml, not to the working directory, so a cron job or a service finds the
same files as the admin who tried the command by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from connector import yamlsafe
from connector.errors import ConfigError
from connector.salesforce.settings import SalesforceSettings

DEFAULT_CONFIG = "sync.yaml"
ENV_PREFIX = "SIS_SYNC_"
# Keys that hold secrets: never accepted from sync.yaml.
_SECRET_KEYS = {"client_secret", "password", "security_token", "secret"}
# Secrets that may also be read from a file named by <VAR>_FILE (container/systemd credentials).
_FILE_SECRETS = (
    "SIS_SYNC_SECRET",
    "SIS_SYNC_SALESFORCE__CLIENT_SECRET",
    "SIS_SYNC_SALESFORCE__PASSWORD",
    "SIS_SYNC_SALESFORCE__SECURITY_TOKEN",
)
# An HMAC-SHA256 key shorter than the hash's output weakens every keyed hash that stands in for
# a student number or an e-mail address (RFC 2104 §3: keys shorter than L bytes are discouraged).
MIN_SECRET_BYTES = 32
# Settings blocks that pydantic-settings also accepts whole, as JSON in one variable.
_BLOCKS = ("state", "salesforce", "jobs", "service")
KEYGEN_COMMAND = 'python -c "import secrets; print(secrets.token_hex(32))"'

# The environment one ``load_settings`` call was handed. A context variable, not os.environ:
# the service reloads settings on SIGHUP and at every firing while runs (threads) are in flight,
# and other threads must never see the process environment change under them.
_HANDED_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("sis_sync_env", default=None)


class _HandedEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading the mapping ``load_settings`` was handed.

    Prefix, ``__`` nesting, case-insensitivity and JSON for complex values stay those of
    :class:`EnvSettingsSource` (so the ``SIS_SYNC_`` names keep their contract); only where the
    variables come from changes. Outside ``load_settings`` it reads ``os.environ`` as usual.
    """

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _HANDED_ENV.get()
        if env is None:
            return super()._load_env_vars()
        return {(k if self.case_sensitive else k.lower()): v for k, v in env.items()}


class StateSettings(BaseModel):
    """Where local state lives: a SQLite file (default) or a PostgreSQL server."""

    model_config = ConfigDict(extra="forbid")
    url: str = "sqlite:///state/sync.db"
    # The folder for files kept beside the state (data-subject request receipts, run reports
    # unless ``reports`` says otherwise). Unset: the SQLite file's folder, or ``state/`` next to
    # sync.yaml for PostgreSQL — read-only under the shipped systemd unit, which sets it.
    dir: Path | None = Field(
        default=None, description="folder for files beside the state (receipts, reports)"
    )


class JobSettings(BaseModel):
    """One scheduled job: a set of mappings to sync, or the retention purge."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    mappings: list[str] | None = None
    purge: bool = False
    cron: str | None = None
    # Full exports: fewer rows than this share of the last good export do not move retention
    # anchors (connector/sync/export_guard.py); a mapping's own min_export_ratio wins.
    min_export_ratio: float | None = Field(default=None, gt=0, le=1)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="Europe/Amsterdam")
        except ValueError as exc:
            raise ValueError(f"not a crontab expression ({exc})") from None
        return value


class ServiceSettings(BaseModel):
    """The scheduled service: where it serves /healthz and /metrics."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)
    timezone: str = "Europe/Amsterdam"


class Settings(BaseSettings):
    """All settings of one installation."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    mappings: Path = Path("mappings")
    state: StateSettings = Field(default_factory=StateSettings)
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    jobs: list[JobSettings] = Field(default_factory=list)
    reports: Path | None = Field(
        default=None, description="folder for run reports; default: next to the state"
    )
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    secret: SecretStr | None = Field(default=None, description="SIS_SYNC_SECRET, for keyed hashes")
    now: datetime | None = Field(default=None, description="SIS_SYNC_NOW: the clock, for previews")
    project_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # The message names the variable and the rule, never the value (nor its length).
        if value is None or not value.get_secret_value():
            return None  # unset: commands that need it refuse (require_secret)
        if len(value.get_secret_value().encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_SECRET_BYTES} bytes long; generate one with "
                f"`{KEYGEN_COMMAND}` and keep it (changing it later makes the connector forget "
                "what it synced)"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then the file's values (passed as init kwargs): env overrides file.
        return (_HandedEnvSource(settings_cls), init_settings)

    def clock(self) -> datetime:
        """The time every command uses: SIS_SYNC_NOW when set, else the real clock (UTC)."""
        if self.now is None:
            return datetime.now(UTC)
        return self.now if self.now.tzinfo else self.now.replace(tzinfo=UTC)

    def job(self, name: str) -> JobSettings:
        """The job called ``name``; ConfigError listing the known jobs otherwise."""
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs) or "(none)"
        raise ConfigError(f"no job {name!r} in the configuration; known jobs: {known}")

    def state_dir(self) -> Path:
        """The folder for local files beside the state (receipts, reports): ``state.dir``
        (``SIS_SYNC_STATE__DIR``) when set, else the SQLite file's folder, else ``state/``
        next to sync.yaml (PostgreSQL state)."""
        if self.state.dir is not None:
            return self.state.dir
        url = self.state.url
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///")).parent
        return self.project_dir / "state"

    def reports_dir(self) -> Path:
        """Where run reports are written."""
        return self.reports if self.reports is not None else self.state_dir() / "reports"


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the key at ``path`` in a composed YAML node tree, or the nearest parent."""
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _read_file_secrets(env: dict[str, str]) -> set[str]:
    """Fill ``env`` from the ``*_FILE`` variables; returns the variables read from a file."""
    read = set()
    for var in _FILE_SECRETS:
        path = env.get(var + "_FILE")
        if path and var not in env:
            try:
                env[var] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from None
            read.add(var)
    return read


def _env_name(loc: tuple[Any, ...]) -> str:
    """The environment variable of a settings path: ``("salesforce", "url")`` → SIS_SYNC_…"""
    return ENV_PREFIX + "__".join(str(p) for p in loc).upper()


def _where(path: Path, root: yaml.Node | None, data: dict, loc: tuple, env: Mapping, files: set):
    """Where a bad value came from: the file and line, or the environment variable."""
    if loc and loc[0] not in data:
        # The value came from the environment (the file does not have the key).
        for n in range(len(loc), 0, -1):
            var = _env_name(loc[:n])
            if var in files:
                return f"{var}_FILE"
            if any(k.upper() == var for k in env):
                return var
        return str(path)
    line = _line_of(root, loc)
    return f"{path}:{line}" if line else str(path)


def _find_secrets(data: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).lower() in _SECRET_KEYS and value not in (None, ""):
                found.append(where)
            found.extend(_find_secrets(value, where))
    return found


def _resolve(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _is_bad_json(name: str, value: str) -> bool:
    """Whether ``name`` sets a whole settings block (a JSON value) and ``value`` is no JSON."""
    block = name.upper().removeprefix(ENV_PREFIX).lower()
    if not name.upper().startswith(ENV_PREFIX) or block not in _BLOCKS:
        return False
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def load_settings(
    config_path: Path | str | None = None,
    *,
    env: dict[str, str] | None = None,
    require_file: bool = True,
) -> Settings:
    """Read sync.yaml (``--config``, ``SIS_SYNC_CONFIG`` or ``./sync.yaml``) and the environment.

    Raises ConfigError (exit 2) naming the file, line and setting for every problem at once.
    """
    env = dict(os.environ if env is None else env)
    from_files = _read_file_secrets(env)
    path = Path(config_path or env.get("SIS_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
            data, root = yamlsafe.compose(text, empty={})  # aliases bounded: exit 2, not OOM
        except UnicodeDecodeError as exc:
            at = path.read_bytes().count(b"\n", 0, exc.start) + 1
            raise ConfigError(f"{path}:{at}: not valid UTF-8: save the file as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(
                f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        if root is not None and (twice := yamlsafe.duplicate_keys(root)):
            # The later one would win without a word: a second `state:` block pointed runs at
            # an empty state (found by an outsider, F6); mappings refuse the same.
            raise ConfigError(
                "\n".join(
                    f"{path}:{line}: {key}: duplicate key (the file sets it twice)"
                    for key, line in twice
                )
            )
    elif require_file:
        raise ConfigError(
            f"{path}: no configuration file here; create one with `sis-sync init DIR` "
            "or name one with --config / SIS_SYNC_CONFIG"
        )
    leaked = _find_secrets(data)
    if leaked:
        lines = [
            f"{path}:{_line_of(root, tuple(k.split('.'))) or '?'}: {k}: secrets may not be written "
            f"in the configuration file; set {ENV_PREFIX}{k.upper().replace('.', '__')} instead"
            for k in leaked
        ]
        raise ConfigError("\n".join(lines))

    # Only our own variables, and never through os.environ (see _HANDED_ENV).
    token = _HANDED_ENV.set({k: v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)})
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        # err["msg"] only: err["input"] (and str(exc)) would echo the value, a secret included.
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            problems.append(
                f"{_where(path, root, data, loc, env, from_files)}: {key}: {err['msg']}"
            )
        raise ConfigError("\n".join(problems)) from None
    except SettingsError:
        # A complex setting given as JSON in one variable (SIS_SYNC_SALESFORCE='{…}') that is
        # not valid JSON. The JSON error would quote the text: name the variable only.
        bad = [k.upper() for k, v in env.items() if _is_bad_json(k, v)]
        raise ConfigError(
            f"{', '.join(bad) or 'a ' + ENV_PREFIX + '* variable'}: not valid JSON; set its "
            f"settings one by one instead ({ENV_PREFIX}SALESFORCE__URL …)"
        ) from None
    finally:
        _HANDED_ENV.reset(token)

    base = path.resolve().parent if path.is_file() else Path.cwd()
    settings.project_dir = base
    settings.mappings = _resolve(base, settings.mappings) or base / "mappings"
    settings.reports = _resolve(base, settings.reports)
    settings.state.dir = _resolve(base, settings.state.dir)
    sf = settings.salesforce
    sf.private_key_file = _resolve(base, sf.private_key_file)
    sf.ca_bundle = _resolve(base, sf.ca_bundle)
    if settings.state.url.startswith("sqlite:///") and not settings.state.url.startswith(
        "sqlite:////"
    ):
        rel = settings.state.url.removeprefix("sqlite:///")
        if rel != ":memory:":
            settings.state.url = "sqlite:///" + str((base / rel).resolve())
    return settings


def require_secret(settings: Settings) -> str:
    """The keyed-hash secret; a run refuses to start without one (ConfigError)."""
    if settings.secret is None or not settings.secret.get_secret_value():
        raise ConfigError(
            "SIS_SYNC_SECRET is not set: it keys the hashes that stand in for personal data in "
            "state and reports. Set it (or SIS_SYNC_SECRET_FILE) to a random value of at least "
            f"{MIN_SECRET_BYTES} bytes, e.g. from `{KEYGEN_COMMAND}`, and keep it: changing it "
            "later makes the connector forget what it synced."
        )
    return settings.secret.get_secret_value()
