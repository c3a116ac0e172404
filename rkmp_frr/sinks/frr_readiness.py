"""Whether FRR is ready for rkmpd's lines (sans-I/O: the applier reads
``show running-config`` and passes the texts in).

After FRR restarts, its configuration comes in over time: the daemons
answer first, then ``vtysh -b`` (frrinit.sh, or watchfrr for a daemon it
restarted) feeds ``frr.conf`` to them line by line. A drift check in that
window sees rkmpd's lines missing, and a repair made then works on a
half-loaded configuration: in ``frr-reload`` mode the reload file is built
from a running config read too early, and frr-reload.py (which reads the
running config again itself) removes every operator line FRR loaded in
between; in either mode rkmpd's lines may land in blocks that are not
there yet (``router bgp`` made by rkmpd, "Specify remote-as").

FRR 8.4 has no query for "configuration loaded": ``show watchfrr`` needs
watchfrr and tells whether daemons answer, not whether ``vtysh -b`` is
done; the daemons only log "Configuration Read in Took". So FRR counts as
ready when (:func:`readiness`):

1. two reads of the running config some time apart show the same lines
   (a load under way changes it between them), and
2. the operator lines the change builds on are there
   (:func:`change_dependencies`): ``neighbor X remote-as`` (or
   ``peer-group``) in the ``router bgp`` of every BGP neighbour the change
   touches, ``router ospf`` / ``router ospf6`` for OSPF interfaces and key
   chains. A configuration loads in order, so these also say that the
   load got that far.

Not ready is not a failure of the change: nothing is applied, and the sink
tries again later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from rkmp_frr.sinks.features import Daemon
from rkmp_frr.sinks.frr_config import BgpRouter
from rkmp_frr.sinks.frr_plan import BgpPassword, FrrPlan
from rkmp_frr.sinks.frr_running_config import parse_running_config
from rkmp_frr.sinks.secrets import mask_secrets

ConfigLine = tuple[tuple[str, ...], tuple[str, ...]]
"""One line of a configuration: (the headers of its enclosing blocks,
outermost first, whitespace-normalised; its words)."""

# vtysh prints these before the configuration itself.
_PREAMBLE = frozenset({"Building configuration...", "Current configuration:"})
SHOWN_LINES = 3  # example lines in a message


def config_lines(text: str) -> frozenset[ConfigLine]:
    """A configuration (``show running-config``, or a file for
    frr-reload.py in the same layout) as a set of lines in their blocks."""
    body = "\n".join(line for line in text.splitlines() if line.strip() not in _PREAMBLE)
    return frozenset(
        (context, words) for context, lines in parse_running_config(body).items() for words in lines
    )


def shown_line(line: ConfigLine) -> str:
    """A line for a message: its blocks and words, the secret after a
    password or key keyword hidden (``mask_secrets``: operators' keys must
    not be logged either)."""
    context, words = line
    return mask_secrets(" / ".join((*context, " ".join(words))))


def shown_lines(lines: Iterable[ConfigLine], limit: int = SHOWN_LINES) -> str:
    """Up to ``limit`` lines (sorted, secrets hidden) and how many more."""
    ordered = sorted(lines)
    text = "; ".join(repr(shown_line(line)) for line in ordered[:limit])
    more = len(ordered) - limit
    return text + (f"; and {more} more" if more > 0 else "")


# --- what a change builds on -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dependency:
    """An operator line rkmpd's lines need: one whose words start with one
    of ``starts``, inside the block ``context`` (top level: ``()``)."""

    context: tuple[str, ...]
    starts: tuple[tuple[str, ...], ...]
    shown: str

    def met(self, lines: Mapping[tuple[str, ...], list[tuple[str, ...]]]) -> bool:
        here = lines.get(self.context, [])
        return any(words[: len(start)] == start for words in here for start in self.starts)


def bgp_neighbor_dependency(router: BgpRouter, neighbor: str) -> Dependency:
    """bgpd takes a neighbour's password or shutdown only once the
    neighbour exists: ``neighbor X remote-as`` (or ``peer-group``)."""
    starts = (("neighbor", neighbor, "remote-as"), ("neighbor", neighbor, "peer-group"))
    return Dependency((router.header,), starts, f"{router.header}: neighbor {neighbor} remote-as")


ROUTER_OSPF = Dependency((), (("router", "ospf"),), "router ospf")
ROUTER_OSPF6 = Dependency((), (("router", "ospf6"),), "router ospf6")


def _bgp_state(plan: FrrPlan, slot: tuple[BgpRouter, str]) -> tuple[BgpPassword | None, bool]:
    return plan.bgp.get(slot), slot in plan.bgp_closed


def change_dependencies(current: FrrPlan, desired: FrrPlan) -> tuple[Dependency, ...]:
    """The operator lines the change from ``current`` to ``desired`` builds
    on: those of the parts it touches (after a drift, the drifted ones)."""
    found: dict[Dependency, None] = {}
    slots = {*current.bgp, *current.bgp_closed, *desired.bgp, *desired.bgp_closed}
    for router, neighbor in sorted(slots):
        if _bgp_state(current, (router, neighbor)) != _bgp_state(desired, (router, neighbor)):
            found[bgp_neighbor_dependency(router, neighbor)] = None
    daemons: set[Daemon] = set()
    for name in {*current.key_chains, *desired.key_chains}:
        before, after = current.key_chains.get(name), desired.key_chains.get(name)
        chain = after or before
        if before != after and chain is not None:
            daemons.add(chain.daemon)
    if any(current.ospf.get(n) != desired.ospf.get(n) for n in {*current.ospf, *desired.ospf}):
        daemons.add(Daemon.OSPFD)
    if any(current.ospf6.get(n) != desired.ospf6.get(n) for n in {*current.ospf6, *desired.ospf6}):
        daemons.add(Daemon.OSPF6D)
    if Daemon.OSPFD in daemons:
        found[ROUTER_OSPF] = None
    if Daemon.OSPF6D in daemons:
        found[ROUTER_OSPF6] = None
    return tuple(found)


# --- ready or not ------------------------------------------------------------------------------


class NotReadyKind(Enum):
    UNREACHABLE = "not answering"  # the running config could not be read
    LOADING = "loading"  # the configuration changed between two reads
    INCOMPLETE = "incomplete"  # an operator line the change needs is not there
    CHANGED = "changed"  # the configuration changed after the reload file was made


@dataclass(frozen=True, slots=True)
class NotReady:
    """Why rkmpd does not touch FRR now (one line, no key)."""

    kind: NotReadyKind
    detail: str

    def describe(self) -> str:
        return f"FRR not ready ({self.kind.value}): {self.detail}; nothing applied, retried later"


def readiness(first: str, second: str, dependencies: Iterable[Dependency]) -> NotReady | None:
    """None when FRR looks fully started: ``first`` and ``second`` (two
    reads of the running config, some time apart) show the same lines and
    ``second`` has every dependency."""
    before, after = config_lines(first), config_lines(second)
    if before != after:
        changed = before ^ after
        return NotReady(
            NotReadyKind.LOADING,
            f"its configuration is still changing ({len(changed)} line(s) between two reads,"
            f" e.g. {shown_lines(changed)})",
        )
    parsed = parse_running_config(second)
    missing = [d.shown for d in dependencies if not d.met(parsed)]
    if missing:
        return NotReady(
            NotReadyKind.INCOMPLETE,
            f"its configuration has no {'; no '.join(repr(m) for m in missing[:SHOWN_LINES])}"
            + (f" and {len(missing) - SHOWN_LINES} more" if len(missing) > SHOWN_LINES else "")
            + " (FRR still loading its configuration, or the operator has not configured it)",
        )
    return None
