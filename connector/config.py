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

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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


class StateSettings(BaseModel):
    """Where local state lives: a SQLite file (default) or a PostgreSQL server."""

    model_config = ConfigDict(extra="forbid")
    url: str = "sqlite:///state/sync.db"


class JobSettings(BaseModel):
    """One scheduled job: a set of mappings to sync, or the retention purge."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    mappings: list[str] | None = None
    purge: bool = False
    cron: str | None = None

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
        return (env_settings, init_settings)

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
        """A folder for local files (reports, locks) beside the state."""
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


def _read_file_secrets(env: dict[str, str]) -> None:
    for var in _FILE_SECRETS:
        path = env.get(var + "_FILE")
        if path and var not in env:
            try:
                env[var] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from None


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
    _read_file_secrets(env)
    path = Path(config_path or env.get("SIS_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text) or {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(
                f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
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

    # pydantic-settings reads os.environ itself; give it exactly the environment we were handed.
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)})
        settings = Settings(**data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            line = _line_of(root, loc) if loc and loc[0] in data else None
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {key}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from None
    finally:
        os.environ.clear()
        os.environ.update(saved)

    base = path.resolve().parent if path.is_file() else Path.cwd()
    settings.project_dir = base
    settings.mappings = _resolve(base, settings.mappings) or base / "mappings"
    settings.reports = _resolve(base, settings.reports)
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
            "state and reports. Set it (or SIS_SYNC_SECRET_FILE) to a long random value and keep "
            "it: changing it later makes the connector forget what it synced."
        )
    return settings.secret.get_secret_value()
