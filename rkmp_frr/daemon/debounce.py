"""Trailing-edge debouncing of per-key actions, with time passed in.

A flapping neighbour produces a trigger on every flap; negotiating on each
one would start (and abandon) an exchange per flap. The debouncer holds the
latest action per key and releases it once the key has been quiet for
``settle`` seconds, or ``max_delay`` seconds after the first trigger of the
burst if it never goes quiet. Since a key's next release is never earlier
than ``settle`` after a trigger that follows a release, each key acts at most
once per ``settle`` seconds (given ``max_delay >= settle``).

Sans I/O: ``submit``/``poll`` take ``now``; the caller arms one timer for
``next_deadline()`` (the aioquic ``get_timer`` pattern).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class DebounceConfig:
    """``settle``: quiet time before acting; ``max_delay``: cap while flapping."""

    settle: float = 1.0
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.settle) and self.settle >= 0):
            raise ValueError(f"settle must be a finite number >= 0, not {self.settle!r}")
        if not (math.isfinite(self.max_delay) and self.max_delay >= self.settle):
            raise ValueError(
                f"max_delay must be finite and >= settle ({self.settle}), not {self.max_delay!r}"
            )


@dataclass(slots=True)
class _Pending(Generic[A]):
    action: A
    first: float  # first trigger of this burst
    last: float  # latest trigger


class Debouncer(Generic[K, A]):
    """Latest action per key, released on the trailing edge of a burst."""

    def __init__(self, config: DebounceConfig | None = None) -> None:
        self._config = config if config is not None else DebounceConfig()
        self._pending: dict[K, _Pending[A]] = {}

    @property
    def config(self) -> DebounceConfig:
        return self._config

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    def submit(self, key: K, action: A, now: float) -> None:
        """A trigger for ``key``: (re)start its quiet period; ``action`` replaces
        any pending one."""
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = _Pending(action, now, now)
        else:
            pending.action = action
            pending.last = max(pending.last, now)

    def cancel(self, key: K) -> bool:
        """Drop the pending action of ``key``; True if there was one."""
        return self._pending.pop(key, None) is not None

    def deadline(self, key: K) -> float | None:
        pending = self._pending.get(key)
        return None if pending is None else self._due(pending)

    def next_deadline(self) -> float | None:
        """When ``poll`` next has something to release (None: nothing pending)."""
        return min((self._due(p) for p in self._pending.values()), default=None)

    def poll(self, now: float) -> list[A]:
        """Release every action that is due at ``now``, earliest first."""
        due = sorted(
            ((self._due(p), key) for key, p in self._pending.items() if self._due(p) <= now),
            key=lambda item: item[0],
        )
        return [self._pending.pop(key).action for _, key in due]

    def _due(self, pending: _Pending[A]) -> float:
        return min(pending.last + self._config.settle, pending.first + self._config.max_delay)
