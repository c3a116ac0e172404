"""What the FRR and BIRD renderers share: their errors, the jinja2
environment (operator templates first, then the packaged ones), the
filters templates format times and numbers with, and the next instant at
which a rendering can change.

Templates
---------
The packaged templates live in the source tree's ``templates/`` directory
(``templates/frr/*.j2``, ``templates/bird/*.j2``). A wheel installs them as
data files under ``<prefix>/share/rkmp-frr/templates``; a source checkout
or an editable install uses ``templates/`` itself. An operator directory,
if given, is searched first, with the same layout: a file there replaces
the packaged template of the same name, and the packaged ones stay
reachable as ``packaged/<name>`` (for ``{% extends %}`` / ``{% import %}``).
Operator templates are trusted like the rest of the operator's
configuration (root-owned directory); they are not sandboxed.

The environment uses ``StrictUndefined`` (a misspelt variable is an error,
not an empty string) and no autoescaping (the output is router
configuration, not HTML).

Secrets
-------
Renderers render every template twice: once with the keys (what is
applied) and once with every key replaced by
:func:`rkmp_frr.sinks.secrets.mask_key` (what may be printed or logged).
Errors raised while rendering have their messages masked
(:func:`rkmp_frr.sinks.secrets.mask_secrets`, with every key of the
rendering).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import BEGINNING, FOREVER, UtcSeconds, format_utc
from rkmp_frr.sinks.secrets import mask_secrets

TEMPLATES_ENV_VAR = "RKMP_TEMPLATES_DIR"  # where the packaged templates are, if moved
DATA_SUBDIR = Path("share", "rkmp-frr", "templates")
PACKAGED_PREFIX = "packaged"
_LAYOUT = ("frr", "bird")


# --- errors ----------------------------------------------------------------------------


class SinkError(Exception):
    """Base of the sink renderers' errors. No message ever carries a key."""


class TemplateRenderError(SinkError):
    """A template is missing, malformed, or failed while rendering."""


class TemplatesNotFound(TemplateRenderError):
    """The packaged templates directory was not found."""


class MissingSinkConfig(SinkError):
    """A row needs sink configuration that is not there (e.g. which
    ``router bgp`` a BGP neighbour belongs to)."""

    def __init__(self, sink: str, protocol: str, what: str) -> None:
        self.sink = sink
        self.protocol = protocol
        self.what = what
        super().__init__(f"{sink} sink: {protocol}: no sink configuration for {what}")


class UnrenderableRow(SinkError):
    """A row the daemon's configuration cannot express (a key ID out of the
    daemon's range, two keys with one ID, an OSPF row without an interface)."""

    def __init__(self, sink: str, protocol: str, row: str, problem: str) -> None:
        self.sink = sink
        self.protocol = protocol
        self.row = row  # the row's AdminKeyName
        self.problem = problem
        super().__init__(f"{sink} sink: {protocol} row {row}: {problem}")


class UnsupportedFeature(SinkError):
    """The routing daemon (at this version) cannot do what a row needs."""

    def __init__(
        self, daemon: str, version: str, protocol: str, feature: str, requirement: str
    ) -> None:
        self.daemon = daemon
        self.version = version
        self.protocol = protocol
        self.feature = feature
        self.requirement = requirement
        super().__init__(
            f"{daemon} ({version}) cannot do {protocol}: {feature} needs {requirement}"
        )


# --- time ------------------------------------------------------------------------------


def local_time(instant: UtcSeconds, tz: tzinfo) -> datetime:
    """A key table instant as the daemon's wall clock shows it. FRR and
    BIRD both read configured times as local time (``mktime``), so the
    renderer must be told the daemon's time zone."""
    return datetime.fromtimestamp(instant, tz)


def instant_of(moment: datetime) -> UtcSeconds:
    return int(moment.timestamp())


def next_change(rows: Iterable[KeyRow], now: UtcSeconds) -> UtcSeconds | None:
    """The first instant after ``now`` at which a lifetime of one of
    ``rows`` starts or ends (an end is closed, so the change is one second
    later): when a rendering that depends on ``now`` must be redone."""
    later = [
        t
        for row in rows
        for t in (
            row.send_lifetime_start,
            row.send_lifetime_end + 1,
            row.accept_lifetime_start,
            row.accept_lifetime_end + 1,
        )
        if now < t <= FOREVER
    ]
    return min(later, default=None)


# --- filters ---------------------------------------------------------------------------


def hex_filter(value: int, width: int = 0) -> str:
    """``{{ n | hex(4) }}``: lower-case hex, zero-padded to ``width``."""
    return f"{value:0{width}x}"


def utc_filter(instant: UtcSeconds) -> str:
    """``{{ t | utc }}``: RFC 7210 text (``YYYYmmddHHMMSSZ``)."""
    return format_utc(instant)


@jinja2.pass_context
def bird_time_filter(context: jinja2.runtime.Context, instant: UtcSeconds) -> str:
    """``{{ t | bird_time }}``: ``YYYY-MM-DD HH:MM:SS`` in the context's
    ``timezone`` (BIRD's ``tm_parse_time``)."""
    return bird_time(instant, _context_tz(context))


def bird_time(instant: UtcSeconds, tz: tzinfo) -> str:
    if not BEGINNING <= instant <= FOREVER:
        raise ValueError(f"instant {instant} outside the key table's range")
    return local_time(instant, tz).strftime("%Y-%m-%d %H:%M:%S")


def _context_tz(context: jinja2.runtime.Context) -> tzinfo:
    tz = context.get("timezone")
    if not isinstance(tz, tzinfo):
        raise TemplateRenderError("template context has no 'timezone'")
    return tz


FILTERS: Mapping[str, Any] = {
    "hex": hex_filter,
    "utc": utc_filter,
    "bird_time": bird_time_filter,
}


# --- the environment -------------------------------------------------------------------


def _is_templates_dir(path: Path) -> bool:
    return all((path / part).is_dir() for part in _LAYOUT)


def candidate_template_dirs() -> list[Path]:
    """Where the packaged templates may be, in search order: the
    ``RKMP_TEMPLATES_DIR`` environment variable, the source checkout this
    package runs from, then the data directories of the install schemes."""
    found: list[Path] = []
    explicit = os.environ.get(TEMPLATES_ENV_VAR)
    if explicit:
        found.append(Path(explicit))
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        found.append(checkout / "templates")
    schemes = [sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")]
    for scheme in schemes:
        try:
            found.append(Path(sysconfig.get_path("data", scheme)) / DATA_SUBDIR)
        except KeyError:  # a scheme this platform does not have
            continue
    found.extend(Path(prefix) / DATA_SUBDIR for prefix in (sys.prefix, "/usr/local", "/usr"))
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


@lru_cache(maxsize=1)
def packaged_templates_dir() -> Path:
    """The directory holding the packaged ``frr/`` and ``bird/`` templates."""
    candidates = candidate_template_dirs()
    for path in candidates:
        if _is_templates_dir(path):
            return path
    searched = ", ".join(str(p) for p in candidates)
    raise TemplatesNotFound(f"packaged templates not found (searched {searched})")


def template_environment(
    override_dir: Path | None = None, *, packaged_dir: Path | None = None
) -> jinja2.Environment:
    """The environment renderers take: ``override_dir`` (the operator's
    ``templates_dir``) first, then the packaged templates, which also stay
    reachable as ``packaged/<name>``."""
    packaged = jinja2.FileSystemLoader(str(packaged_dir or packaged_templates_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        if not override_dir.is_dir():
            raise TemplateRenderError(f"template override directory {override_dir} not found")
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.PrefixLoader({PACKAGED_PREFIX: packaged}))
    loaders.append(packaged)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=1)
def default_environment() -> jinja2.Environment:
    """The packaged templates alone (shared; environments are immutable
    once built here)."""
    return template_environment()


def render_template(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, Any],
    secrets: Collection[str] = (),
) -> str:
    """Render ``name``; any failure becomes a TemplateRenderError whose
    message names the template and never a key."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateRenderError(f"template {name}: not found ({exc.name})") from None
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.name or name}:{exc.lineno}"
        raise TemplateRenderError(
            f"template {where}: syntax error: {mask_secrets(exc.message or '', secrets)}"
        ) from None
    except (jinja2.TemplateError, ValueError, TypeError, ArithmeticError, LookupError) as exc:
        message = mask_secrets(str(exc), secrets)
        raise TemplateRenderError(f"template {name}: {type(exc).__name__}: {message}") from None
