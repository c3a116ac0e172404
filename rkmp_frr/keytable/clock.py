"""Where engine (monotonic) time becomes key table (UTC) time, and what a
wall-clock step does to the table.

The engine's times (``ChildParams.rekey_at``, ``expires_at``) are on the
caller's monotonic clock; RFC 7210 lifetimes are UTC wall-clock times, and
the routing daemons compare them with their own wall clock. Library code
reads no clock: the wiring is handed ``wall_now`` (``time.time()``) and
``mono_now`` (the engine's clock) together, and converts a monotonic
instant ``t`` as ``wall_now + (t - mono_now)``, here and nowhere else.

Wall-clock steps (NTP stepping, an operator's ``date``), as policy:

- The engine's rekey and expiry timers are monotonic, so a step never makes
  a rekey early or late.
- The table's lifetimes follow real time, not the wall clock. The mapping
  below remembers ``wall - mono``; when it changes by more than
  ``tolerance`` seconds between two calls, that change is a step, and the
  wiring moves every lifetime boundary of the rows RKMP made by the same
  amount (one transaction; sinks get ``LifetimesShifted`` and rewrite the
  daemons' configuration). A key due to be sent in 3 minutes is still sent
  in 3 minutes, an old key stays accepted for the rest of its grace, and
  make-before-break holds across the step, in either direction.
- Without the shift, a forward step would end the old key's grace early
  (the peer, whose clock did not step, may still be sending it) and a
  backward step would push the new key's AcceptLifetimeStart into the
  future (the peer may already send it).
- Slewing (gradual NTP correction, at most 500 ppm) is absorbed: the
  mapping follows it without ever reporting a step.
- Rows entered by hand keep their absolute times (an operator's schedule).
- A step while the sidecar is not running cannot be seen; rows then keep
  their times, and the next rekey writes consistent ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rkmp_frr.keytable.utc import UtcSeconds, utc_seconds

DEFAULT_STEP_TOLERANCE = 2.0  # seconds; well above slewing between two calls


@dataclass(slots=True)
class ClockMapping:
    """Tracks ``wall - mono`` and reports steps of the wall clock."""

    tolerance: float = DEFAULT_STEP_TOLERANCE
    _offset: float | None = field(default=None, init=False)

    def observe(self, wall_now: float, mono_now: float) -> int:
        """The wall-clock step since the last call, in whole seconds (0 for
        none, and on the first call)."""
        offset = wall_now - mono_now
        previous, self._offset = self._offset, offset
        if previous is None or abs(offset - previous) <= self.tolerance:
            return 0
        return round(offset - previous)

    @staticmethod
    def to_wall(mono: float, wall_now: float, mono_now: float) -> float:
        """A monotonic instant on the wall clock, as of now."""
        return wall_now + (mono - mono_now)

    @classmethod
    def to_utc(cls, mono: float, wall_now: float, mono_now: float) -> UtcSeconds:
        return utc_seconds(cls.to_wall(mono, wall_now, mono_now))
