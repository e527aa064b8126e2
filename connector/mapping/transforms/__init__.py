"""Transforms: named, pure value → value functions that a mapping chains per field.

A mapping field says ``transform: [strip, lower, email]``. Each entry is one of

- ``"strip"`` — a bare name;
- ``"date:%d-%m-%Y"`` — the ``name:ARG`` shorthand, which fills the one option the transform
  names as its ``arg`` (here ``format``);
- ``{truncate: {length: 40}}`` — a one-key mapping, name → options; the options are checked
  against the transform's pydantic model (``extra="forbid"``) when the mapping loads;
- ``{date: ["%d-%m-%Y", "%Y-%m-%d"]}`` — a one-key mapping whose value is not a mapping fills
  the ``arg`` option, like the shorthand.

Transforms live in :data:`registry`, filled from the ``connector.transforms`` entry-point group.
The built-ins are declared there too (pyproject.toml), so they travel the same path as a third
party's. ``registry.register(name, t)`` adds one in-process.

:func:`compile_chain` runs once per field when a mapping loads and returns one tight callable
for the hot path: no pydantic, no dict look-ups per value. Two kinds of error keep apart:

- :class:`TransformSpecError` at compile time (unknown name, bad options): a configuration
  problem the loader reports with file, line and key;
- :class:`TransformError` at run time (this value is not a date …): the row is rejected with
  the column and the message. Messages say what is wrong, never the value (it is personal data).

``None`` means "no value". Unless a transform declares ``handles_none``, ``None`` passes through
it untouched, so ``[strip, date:…]`` on an empty cell gives ``None``, not an error.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from connector.clock import school_date
from connector.errors import UnknownPluginError, UsageError
from connector.hashing import KeyHasher
from connector.registry import Registry

__all__ = [
    "Transform",
    "TransformContext",
    "TransformError",
    "TransformOptions",
    "TransformSpecError",
    "bound_transform",
    "compile_chain",
    "registry",
    "transform",
]

log = logging.getLogger("connector.plugins")

Bound = Callable[[Any], Any]
"""A compiled transform or chain: one value in, one value out."""


class TransformOptions(BaseModel):
    """Base for options models: unknown keys are errors, and options never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TransformContext:
    """What a chain may use besides the value: shared by every chain of one compiled mapping.

    Attributes:
        hasher: keyed hashing under ``SIS_SYNC_SECRET``; ``None`` when no secret is configured
            (then ``hash`` is refused at compile time).
        today: the school's local date; age rules read it per call, so a long-running service
            may move it forward without recompiling. Reading it is noticed (see below).
        warnings: messages transforms append (e.g. ``"truncated to 40 characters"``), never
            values. The mapping engine reads and clears them after each field, adding the
            field name.
        recheck_on: the first day after ``today`` on which a transform that read ``today``
            could give another result for the same value (an age band: the next birthday).
            Such a transform calls :meth:`recheck`. The engine takes it per record
            (:meth:`take_recheck`) and maps that record again on that day even if its source
            row did not change. A transform that reads ``today`` without naming a day gets
            tomorrow: its records are mapped every day, never kept stale.
    """

    def __init__(
        self,
        hasher: KeyHasher | None = None,
        today: date | None = None,
        warnings: list[str] | None = None,
    ):
        self.hasher = hasher
        self._today = today if today is not None else school_date()
        self.warnings: list[str] = warnings if warnings is not None else []
        self.recheck_on: date | None = None
        self.read_today = False

    @property
    def today(self) -> date:
        """The school's date (noted as read: the result may depend on the day)."""
        self.read_today = True
        return self._today

    @today.setter
    def today(self, day: date) -> None:
        self._today = day

    @property
    def day(self) -> date:
        """The school's date without noting it as read: for plausibility checks whose failure
        rejects the row (a rejected row is mapped again every run, so nothing goes stale)."""
        return self._today

    def recheck(self, day: date) -> None:
        """Note that this record's result may change on ``day`` (keeps the earliest)."""
        if self.recheck_on is None or day < self.recheck_on:
            self.recheck_on = day

    def take_recheck(self) -> date | None:
        """The recheck day of the record just mapped, and clear it for the next record."""
        day = self.recheck_on
        if day is None and self.read_today:
            day = self._today + timedelta(days=1)
        self.recheck_on, self.read_today = None, False
        return day


@dataclass(frozen=True)
class Transform:
    """A registered transform.

    Attributes:
        name: the name mappings use.
        func: ``func(value, options, ctx) -> value``; ``options`` is the validated options model
            instance or ``None``. Raise :class:`TransformError` for a bad value.
        options: the pydantic options model (``extra="forbid"``), or ``None`` for no options.
        arg: the option the ``name:ARG`` shorthand fills, e.g. ``"format"`` for ``date``.
        handles_none: ``func`` also receives ``None``; otherwise ``None`` passes through.
        description: one line for ``sis-sync plugins`` listings.
        bind: optional fast path, ``bind(options, ctx) -> (value -> value)``, called once at
            compile time. The returned callable receives every value, ``None`` included, and
            does its own ``None`` handling. Built-ins use it to pre-compute tables and formats.
    """

    name: str
    func: Callable[[Any, BaseModel | None, TransformContext], Any]
    options: type[BaseModel] | None = None
    arg: str | None = None
    handles_none: bool = False
    description: str = ""
    bind: Callable[[BaseModel | None, TransformContext], Bound] | None = None


class TransformSpecError(UsageError, ValueError):
    """A transform entry in a mapping is wrong: unknown name or bad options (compile time).

    Attributes:
        index: position of the entry in the field's transform list (0-based).
        message: what is wrong, without any value from the data.
    """

    def __init__(self, index: int, message: str):
        self.index, self.message = index, message
        super().__init__(message)


class TransformError(ValueError):
    """A value cannot be transformed (run time); the message never contains the value."""


registry: Registry[Transform] = Registry(
    "transform", "connector.transforms", check=lambda v: isinstance(v, Transform)
)


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


def _check_declaration(name: str, options: type[BaseModel] | None, arg: str | None) -> None:
    # Refuse a sloppy declaration when the plugin is imported, not when an admin first uses it.
    if options is not None and options.model_config.get("extra") != "forbid":
        raise TypeError(f"transform {name!r}: options model must set extra='forbid'")
    if arg is not None and (options is None or arg not in options.model_fields):
        raise TypeError(f"transform {name!r}: arg {arg!r} is not a field of its options model")


def transform(
    name: str,
    *,
    options: type[BaseModel] | None = None,
    arg: str | None = None,
    handles_none: bool = False,
    description: str = "",
) -> Callable[[Callable[[Any, Any, TransformContext], Any]], Transform]:
    """Turn ``func(value, options, ctx)`` into a :class:`Transform`.

    Args:
        name: the name mappings use.
        options: pydantic options model (``extra="forbid"``), or ``None``.
        arg: the option that ``name:ARG`` fills.
        handles_none: pass ``None`` to the function instead of around it.
        description: one line; defaults to the first docstring line.

    Example:
        >>> @transform("shout")
        ... def shout(value, options, ctx):
        ...     return str(value).upper() + "!"
        >>> registry.register("shout", shout, package="my-school-plugins")
    """
    _check_declaration(name, options, arg)

    def decorate(func: Callable[[Any, Any, TransformContext], Any]) -> Transform:
        return Transform(
            name, func, options, arg, handles_none, description or _first_line(func.__doc__)
        )

    return decorate


def bound_transform(
    name: str,
    *,
    options: type[BaseModel] | None = None,
    arg: str | None = None,
    handles_none: bool = False,
    description: str = "",
) -> Callable[[Callable[[Any, TransformContext], Bound]], Transform]:
    """Turn a factory ``make(options, ctx) -> (value -> value)`` into a :class:`Transform`.

    The factory runs once per field at compile time; it may raise ``ValueError`` for options
    that are wrong in context (reported as :class:`TransformSpecError`). The callable it returns
    receives ``None`` too and must pass it through unless ``handles_none``. ``Transform.func``
    still works (it binds on every call), for callers outside :func:`compile_chain`.
    """
    _check_declaration(name, options, arg)

    def decorate(make: Callable[[Any, TransformContext], Bound]) -> Transform:
        def func(value: Any, opts: Any, ctx: TransformContext) -> Any:
            return make(opts, ctx)(value)

        return Transform(
            name,
            func,
            options,
            arg,
            handles_none,
            description or _first_line(make.__doc__),
            bind=make,
        )

    return decorate


def _pydantic_message(err: ValidationError) -> str:
    # include_input=False: the offending option could be a value pasted from the data.
    parts = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return "; ".join(parts)


def _parse_spec(index: int, spec: Any) -> tuple[str, Any, bool]:
    """Split one entry into (name, raw options, options-is-the-arg)."""
    if isinstance(spec, str):
        name, sep, arg = spec.partition(":")
        return name.strip(), (arg if sep else None), bool(sep)
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            raise TransformSpecError(
                index, "write a transform as a name, or as one name with its options"
            )
        ((name, raw),) = spec.items()
        if not isinstance(name, str):
            raise TransformSpecError(index, "a transform name must be text")
        if raw is None or isinstance(raw, Mapping):
            return name, raw, False
        return name, raw, True
    raise TransformSpecError(index, "a transform is a name or a one-key mapping name → options")


def _options(index: int, t: Transform, raw: Any, is_arg: bool) -> BaseModel | None:
    if is_arg:
        if t.arg is None:
            raise TransformSpecError(index, f"{t.name} takes no shorthand argument")
        raw = {t.arg: raw}
    if t.options is None:
        if raw:
            raise TransformSpecError(index, f"{t.name} takes no options")
        return None
    try:
        return t.options.model_validate(raw or {})
    except ValidationError as exc:
        raise TransformSpecError(index, f"{t.name}: {_pydantic_message(exc)}") from None


def _guarded(name: str, func: Bound) -> Bound:
    """``func`` with a plugin's unexpected exception turned into a value-free TransformError."""
    shown: list[bool] = []

    def call(value: Any) -> Any:
        try:
            return func(value)
        except TransformError:
            raise
        except Exception as exc:  # noqa: BLE001 - any plugin failure is a rejected value
            if not shown and log.isEnabledFor(logging.DEBUG):
                shown.append(True)
                log.debug("%s", plugin_traceback(name, exc))
            raise TransformError(f"{name} failed ({type(exc).__name__})") from None

    return call


def _wrap(t: Transform, opts: BaseModel | None, ctx: TransformContext) -> Bound:
    func = t.func
    # A plugin's own exception could carry the value in its message: _guarded re-raises it as
    # a TransformError that names only the transform and the exception type.
    call = _guarded(t.name, lambda value: func(value, opts, ctx))

    if t.handles_none:
        return call

    def skip_none(value: Any) -> Any:
        return None if value is None else call(value)

    return skip_none


def plugin_traceback(name: str, exc: BaseException) -> str:
    """The traceback of a transform's unexpected exception, for ``-v``: frames only.

    Each frame shows file, line, function and source line; the exception's message is left
    out, as it may hold the value being transformed (``KeyError('…')``), i.e. personal data.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = "".join(traceback.format_list(frames[1:] or frames))  # frames[0] is call() here
    return (
        f"transform {name} raised {type(exc).__module__}.{type(exc).__qualname__} "
        f"(message withheld: it may hold the value)\nTraceback (most recent call last):\n"
        f"{where.rstrip()}"
    )


def _identity(value: Any) -> Any:
    return value


def _link(funcs: list[Bound]) -> Bound:
    # Hand-unrolled for the usual short chains: a loop costs more than the transforms.
    if not funcs:
        return _identity
    if len(funcs) == 1:
        return funcs[0]
    if len(funcs) == 2:
        f0, f1 = funcs

        def chain2(value: Any) -> Any:
            return f1(f0(value))

        return chain2
    if len(funcs) == 3:
        f0, f1, f2 = funcs

        def chain3(value: Any) -> Any:
            return f2(f1(f0(value)))

        return chain3
    all_funcs = tuple(funcs)

    def chain(value: Any) -> Any:
        for f in all_funcs:
            value = f(value)
        return value

    return chain


def compile_chain(
    specs: Sequence[str | Mapping[str, Any]], *, ctx: TransformContext
) -> Callable[[Any], Any]:
    """Compile a field's transform list into one callable.

    Args:
        specs: the entries of a field's ``transform:`` list (see the module docstring).
        ctx: the context every transform of the chain shares.

    Returns:
        ``value -> value``; raises :class:`TransformError` for a value that does not fit.

    Raises:
        TransformSpecError: an unknown name (the message lists the known ones) or bad options;
            ``index`` says which entry.
    """
    if isinstance(specs, str | Mapping):
        specs = [specs]  # a single entry written without the list brackets
    funcs: list[Bound] = []
    for index, spec in enumerate(specs):
        name, raw, is_arg = _parse_spec(index, spec)
        try:
            t = registry.get(name)
        except UnknownPluginError as exc:  # its message lists the known names
            raise TransformSpecError(index, str(exc)) from None
        opts = _options(index, t, raw, is_arg)
        if t.bind is not None:
            try:
                bound = t.bind(opts, ctx)
                # A plugin's fast path gets the same error handling as a plain transform; the
                # built-ins' (this package's) stay unwrapped, as they are the hot path.
                trusted = getattr(t.bind, "__module__", "").startswith("connector.")
                funcs.append(bound if trusted else _guarded(t.name, bound))
            except ValueError as exc:
                msg = str(exc)
                msg = msg if msg.startswith(t.name) else f"{t.name}: {msg}"
                raise TransformSpecError(index, msg) from None
        else:
            funcs.append(_wrap(t, opts, ctx))
    return _link(funcs)
