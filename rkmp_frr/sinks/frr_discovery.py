"""What the FRR sink reads out of FRR's running configuration before it
plans a change (sans-I/O: the applier passes the text in).

Whose closing is it. rkmpd lifts only a shutdown or passive setting it put
there (``rkmp_frr.sinks.keyed``). When keys are revoked and rkmpd is about
to close a neighbour or interface that the operator has shut or made
passive already, it must not take that closing for its own: it would lift
it when keys return, and the operator's decision would be lost.
:func:`operator_closed` finds those items; the plan then expects them
closed (fail closed holds: the password or authentication still goes, and
a later opening by hand is drift, closed again by rkmpd) but leaves the
operator's line as it is, message and all, and the state file keeps them
as keyed, not as closed by rkmpd. A shutdown with rkmpd's own message is
rkmpd's, whatever the state file says (a file given back by hand, an
older version).
"""

from __future__ import annotations

from collections.abc import Iterable

from rkmp_frr.sinks.frr_plan import FrrPlan
from rkmp_frr.sinks.frr_readiness import ConfigLine
from rkmp_frr.sinks.frr_render import SHUTDOWN_MESSAGE
from rkmp_frr.sinks.frr_running_config import closes, parse_running_config
from rkmp_frr.sinks.keyed import Secured, SecuredKind, frr_bgp

_CLOSING = {
    SecuredKind.OSPF: ("ip", "ospf", "passive"),
    SecuredKind.OSPF6: ("ipv6", "ospf6", "passive"),
}


def closing_lines(plan: FrrPlan) -> dict[Secured, ConfigLine]:
    """For each item ``plan`` closes: the block and the words of the line
    that closes it (``neighbor X shutdown`` in its ``router bgp``, ``ip
    ospf passive`` / ``ipv6 ospf6 passive`` in its ``interface``)."""
    found: dict[Secured, ConfigLine] = {}
    for router, neighbor in plan.bgp_closed:
        found[frr_bgp(neighbor, router.vrf)] = (
            (router.header,),
            ("neighbor", neighbor, "shutdown"),
        )
    for item in plan.closed_items():
        words = _CLOSING.get(item.kind)
        if words is not None:
            found[item] = ((f"interface {item.name}",), words)
    return found


def operator_closed(plan: FrrPlan, running: str, items: Iterable[Secured]) -> frozenset[Secured]:
    """Of ``items`` (some of those ``plan`` closes), those ``running``
    (``show running-config``) shows closed already, not by rkmpd's own
    shutdown message: the operator's."""
    lines = parse_running_config(running)
    wanted = closing_lines(plan)
    rkmpds = tuple(f"shutdown message {SHUTDOWN_MESSAGE}".split())
    found: set[Secured] = set()
    for item in items:
        if item not in wanted:
            continue
        context, closing = wanted[item]
        for words in lines.get(context, []):
            if closes(words, closing) and words[len(closing) - 1 :] != rkmpds:
                found.add(item)
    return frozenset(found)
