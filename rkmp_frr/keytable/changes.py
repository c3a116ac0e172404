"""Change notifications: what sinks (routing-daemon configs, hooks,
monitoring) subscribe to.

The store tells its subscribers after each operation has committed, in
commit order, synchronously. Rows in notifications carry their keys
(a sink that writes a daemon's config needs them); their repr masks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from rkmp_frr.engine.events import FailureReason, RkmpSaRef
from rkmp_frr.keytable.row import KeyRow


class DeleteCause(Enum):
    DELETED = "deleted"  # Keytable_delete: the SA went away
    EXPIRED = "expired"  # both lifetimes over
    REVOKED = "revoked"  # RP_revokeSA: the RKMP SA failed
    REPLACED = "replaced"  # a stale row gave way to a new one with its SPI


@dataclass(frozen=True, slots=True)
class RowInserted:
    row: KeyRow


@dataclass(frozen=True, slots=True)
class RowRekeyed:
    """``old`` (with its shortened lifetimes) is replaced by ``new``."""

    old: KeyRow
    new: KeyRow


@dataclass(frozen=True, slots=True)
class RowsDeleted:
    """Rows gone. For revocations, the RKMP SA and why it failed."""

    rows: tuple[KeyRow, ...]
    cause: DeleteCause
    rkmp_sa: RkmpSaRef | None = None
    failure: FailureReason | None = None


@dataclass(frozen=True, slots=True)
class LifetimesShifted:
    """The wall clock stepped by ``delta`` seconds; these rows' lifetimes
    moved with it (see :mod:`rkmp_frr.keytable.clock`)."""

    delta: int
    rows: tuple[KeyRow, ...]


Change = RowInserted | RowRekeyed | RowsDeleted | LifetimesShifted
Sink = Callable[[Change], None]


class SinkErrors(ExceptionGroup[Exception]):
    """Sinks that raised while being told about a committed change; every
    other sink was still told, and the change stands."""


class Notifier:
    """Subscribers and delivery."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Add a sink; returns a function that removes it."""
        self._sinks.append(sink)

        def unsubscribe() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)

        return unsubscribe

    def notify(self, change: Change) -> None:
        errors: list[Exception] = []
        for sink in list(self._sinks):
            try:
                sink(change)
            except Exception as exc:  # one broken sink must not starve the others
                errors.append(exc)
        if errors:
            raise SinkErrors(f"{len(errors)} key table sink(s) failed", errors)
