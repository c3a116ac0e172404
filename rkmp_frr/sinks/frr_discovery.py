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

Where an unlisted neighbour is. A BGP neighbour rkmpd has keyed stays
secured until the operator gives it back (``rkmp_frr.sinks.keyed``), also
when ``[[sinks.frr.bgp_neighbor]]`` no longer lists it (the operator
removed the peer from rkmpd, or moved it to another VRF): without a key it
is kept shut, as keyed OSPF interfaces no longer configured are, and as a
SIGHUP that drops the entry does. Only the entry said which ``router bgp``
the neighbour is in; after a restart :func:`bgp_router_of` finds it in the
running config instead: the ``router bgp`` of the neighbour's VRF that
configures it (``neighbor X remote-as`` or ``peer-group``). A neighbour
FRR does not configure has nothing to close.

Which old keys are rkmpd's. After a restart rkmpd has no applied plan,
but FRR still runs the key lines it put in. :func:`leftover_keys` finds
those of the key lines rkmpd recorded as its own (``keyed.KeyRecord``)
that FRR runs: an ``ip ospf message-digest-key <id>`` on the recorded
interface, a key chain of the recorded name (every key in it). Nothing
else: an operator's message-digest key with another ID, or key chain of
another name, is not rkmpd's.
"""

from __future__ import annotations

from collections.abc import Iterable

from rkmp_frr.sinks.frr_config import BgpRouter, canonical_address
from rkmp_frr.sinks.frr_plan import CHAIN_DAEMON, FrrPlan, LeftoverChain, Leftovers
from rkmp_frr.sinks.frr_readiness import ConfigLine
from rkmp_frr.sinks.frr_render import SHUTDOWN_MESSAGE
from rkmp_frr.sinks.frr_running_config import closes, parse_running_config
from rkmp_frr.sinks.keyed import KeyRecord, KeyRecordKind, Secured, SecuredKind, frr_bgp

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


def bgp_neighbor_name(item: Secured) -> tuple[str, str]:
    """(address, VRF or "") of a BGP item (``keyed.frr_bgp``'s naming)."""
    address, _, vrf = item.name.partition(" vrf ")
    return address, vrf


def bgp_router_of(running: str, item: Secured) -> BgpRouter | None:
    """The ``router bgp`` in ``running`` (``show running-config``) that
    configures the neighbour ``item`` (a BGP item: address and VRF), in
    the item's VRF; None when there is none. Views are not searched."""
    address, vrf = bgp_neighbor_name(item)
    for context, lines in parse_running_config(running).items():
        header = context[0].split() if len(context) == 1 else []
        if header[:2] != ["router", "bgp"] or header[3:] != (["vrf", vrf] if vrf else []):
            continue
        if not header[2:3] or not header[2].isdigit():
            continue
        if any(_configures(words, address) for words in lines):
            return BgpRouter(int(header[2]), vrf)
    return None


def _configures(words: tuple[str, ...], address: str) -> bool:
    """``neighbor <address> remote-as|peer-group ...``"""
    if words[:1] != ("neighbor",) or words[2:3] not in (("remote-as",), ("peer-group",)):
        return False
    try:
        return canonical_address(words[1]) == address
    except ValueError:
        return False


def leftover_keys(running: str, records: Iterable[KeyRecord]) -> Leftovers:
    """Of ``records`` (key lines rkmpd recorded as its own), those
    ``running`` (``show running-config``) shows, with each key chain's key
    IDs."""
    lines = parse_running_config(running)
    md5: set[tuple[str, int]] = set()
    chains: list[LeftoverChain] = []
    for record in sorted(set(records)):
        if record.kind is KeyRecordKind.MD5:
            here = lines.get((f"interface {record.name}",), [])
            wanted = ("ip", "ospf", "message-digest-key", str(record.key_id))
            if any(words[:4] == wanted for words in here):
                md5.add((record.name, record.key_id))
        elif ("key", "chain", record.name) in lines.get((), []):
            keys = lines.get((f"key chain {record.name}",), [])
            ids = sorted(int(w[1]) for w in keys if w[:1] == ("key",) and w[1:2] and w[1].isdigit())
            chains.append(LeftoverChain(record.name, CHAIN_DAEMON[record.protocol], tuple(ids)))
    return Leftovers(frozenset(md5), tuple(chains))
