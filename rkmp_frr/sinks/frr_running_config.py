"""FRR's ``show running-config`` as rkmpd reads it: the lines a change
must leave there (or must not), how the text is parsed into lines per
block, and drift (the lines of an applied plan that FRR no longer shows:
it restarted and lost rkmpd's lines, or an operator changed them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rkmp_frr.sinks.frr_plan import PlanPart
from rkmp_frr.sinks.secrets import mask_key


@dataclass(frozen=True, slots=True)
class ConfigExpectation:
    """A line ``show running-config`` must (``present``) or must not show
    inside the blocks ``context`` (their header lines, outermost first).
    An absent line matches every line that starts with its words. An
    ``operators`` line is not rkmpd's: the operator's shutdown or passive
    setting, which rkmpd expects there (fail closed) but neither puts in
    nor takes out; any line that closes the same way meets it
    (:func:`closes`)."""

    context: tuple[str, ...]
    line: str = field(repr=False)  # may hold a key
    present: bool = True
    operators: bool = False
    shown: str = field(default="", compare=False)  # the line with keys masked
    # An "is open" expectation (no shutdown / no passive): met only after
    # the second, opening vtysh run (see frr_render.FrrChange.open_phase).
    opening: bool = field(default=False, compare=False)
    # The part of the plan the line belongs to (drift: what to apply again).
    part: PlanPart | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        state = "present" if self.present else "absent"
        state += " (the operator's)" if self.operators else ""
        return f"ConfigExpectation({' / '.join(self.context) or '<top>'}: {self.shown!r} {state})"

    __str__ = __repr__


def expect(
    context: tuple[str, ...],
    line: str,
    *,
    secret: str = "",
    present: bool = True,
    opening: bool = False,
    operators: bool = False,
    part: PlanPart | None = None,
) -> ConfigExpectation:
    """An expectation; ``secret`` (a key in ``line``) is masked in ``shown``."""
    shown = line.replace(secret, mask_key(secret)) if secret else line
    return ConfigExpectation(context, line, present, operators, shown, opening, part)


def closes(words: tuple[str, ...], closing: tuple[str, ...]) -> bool:
    """Whether a running line (``words``) closes a neighbour or interface
    the way ``closing`` does (``neighbor X shutdown``, ``ip ospf passive``,
    ``ipv6 ospf6 passive``): the same words, or a shutdown with a message
    (``neighbor X shutdown message TEXT``). ``ip ospf passive A.B.C.D``
    (one address of the interface) and ``neighbor X shutdown rtt N`` (only
    above a round-trip time) do not close it."""
    if words == closing:
        return True
    n = len(closing)
    shutdown = closing[-1:] == ("shutdown",)
    return shutdown and words[:n] == closing and words[n : n + 1] == ("message",)


_IGNORED = frozenset({"!", "exit", "end", "exit-address-family", "exit-vrf", "exit-vnc", "quit"})


def parse_running_config(text: str) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """``show running-config`` as lines (word tuples) per block context.
    FRR indents a block's lines one space deeper than its header."""
    found: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        words = tuple(raw.split())
        if not words or " ".join(words) in _IGNORED:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        context = tuple(header for _, header in stack)
        found.setdefault(context, []).append(words)
        stack.append((indent, " ".join(words)))
    return found


def unmet_expectations(
    running_config: str, expectations: Iterable[ConfigExpectation]
) -> tuple[ConfigExpectation, ...]:
    """The expectations ``running_config`` does not satisfy."""
    lines = parse_running_config(running_config)
    unmet = []
    for expectation in expectations:
        wanted = tuple(expectation.line.split())
        context = tuple(" ".join(h.split()) for h in expectation.context)
        here = lines.get(context, [])
        if expectation.operators:
            ok = any(closes(words, wanted) for words in here)
        elif expectation.present:
            ok = wanted in here
        else:
            ok = not any(words[: len(wanted)] == wanted for words in here)
        if not ok:
            unmet.append(expectation)
    return tuple(unmet)


# --- drift: what FRR no longer runs of the plan applied ------------------------------------


@dataclass(frozen=True, slots=True)
class Drift:
    """The lines of an applied plan that ``show running-config`` no
    longer shows as they were applied (FRR restarted and lost rkmpd's
    lines, or an operator changed them by hand). Keys only masked."""

    unmet: tuple[ConfigExpectation, ...]

    @property
    def parts(self) -> tuple[PlanPart, ...]:
        """The drifted parts, each once, in a stable order."""
        found = {e.part: None for e in self.unmet if e.part is not None}
        return tuple(sorted(found, key=str))

    def describe(self, limit: int = 4) -> str:
        """One line: each drifted part and its first unmet line (masked)."""
        shown: list[str] = []
        for part in self.parts[:limit]:
            first = next(e for e in self.unmet if e.part == part)
            state = "missing" if first.present else "present"
            shown.append(f"{part}: {first.shown!r} {state}")
        more = len(self.parts) - limit
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def find_drift(running_config: str, expectations: Iterable[ConfigExpectation]) -> Drift | None:
    """The drift of ``running_config`` from ``expectations`` (those of
    :func:`applied_expectations`); None when FRR runs them all."""
    unmet = unmet_expectations(running_config, expectations)
    return Drift(unmet) if unmet else None
