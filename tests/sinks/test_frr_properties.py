"""Properties of the FRR renderer against models of what FRR does with
the commands: key-chain send windows against RFC 7210 §3 selection, and
message-digest key commands against ospfd's key list."""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.keytable.row import Direction, KeyRow
from rkmp_frr.keytable.selection import select_send_key
from rkmp_frr.sinks.features import Daemon, Version, frr_features
from rkmp_frr.sinks.frr_config import FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, FrrPlan, Md5Key, OspfInterface, send_windows
from rkmp_frr.sinks.frr_render import frr_change
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import PEER, T0, make_row, since

BASE = make_row(ProtocolId.OSPFV3, 1, since(T0), interfaces=frozenset({"eth1"}))
HORIZON = 60


@st.composite
def chain_rows(draw: st.DrawFn) -> list[KeyRow]:
    count = draw(st.integers(1, 5))
    spis = draw(st.lists(st.integers(1, 9), min_size=count, max_size=count, unique=True))
    rows = []
    for spi in spis:
        send_start = draw(st.integers(0, HORIZON))
        send_end = draw(st.integers(send_start, HORIZON + 5))
        accept_start = draw(st.integers(0, HORIZON))
        rows.append(
            dataclasses.replace(
                BASE,
                spi=spi,
                direction=draw(st.sampled_from(list(Direction))),
                send_lifetime_start=send_start,
                send_lifetime_end=send_end,
                accept_lifetime_start=accept_start,
                accept_lifetime_end=HORIZON + 5,
            )
        )
    return rows


@settings(max_examples=150, deadline=None)
@given(chain_rows())
def test_frr_sends_with_the_key_rfc7210_selects(rows: list[KeyRow]) -> None:
    """FRR sends with the lowest key ID whose send lifetime covers the
    present; with the windows the renderer gives, that is RFC 7210 §3's
    choice at every instant (except when §3 would return to a key after a
    newer one ends: FRR holds one window per key, and the key is flagged)."""
    windows, split = send_windows(rows)
    spans = sorted(w for w in windows.values() if w is not None)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start  # never two keys to choose from
    for now in range(-1, HORIZON + 7):
        frr = min(
            (spi for spi, w in windows.items() if w is not None and w[0] <= now <= w[1]),
            default=None,
        )
        rfc = select_send_key(rows, ProtocolId.OSPFV3, PEER, now, "eth1")
        if frr is not None:
            assert rfc is not None and rfc.spi == frr
        elif rfc is not None:
            assert rfc.spi in split


def _apply_ospfd(keys: list[Md5Key], commands: tuple[str, ...]) -> list[Md5Key]:
    """ospfd's message-digest key list: adding an ID drops any key with that
    ID and appends; ``no`` drops it."""
    for command in commands:
        words = command.split()
        if words[:3] == ["ip", "ospf", "message-digest-key"]:
            key_id = int(words[3])
            keys = [k for k in keys if k.key_id != key_id] + [Md5Key(key_id, words[5])]
        elif words[:4] == ["no", "ip", "ospf", "message-digest-key"]:
            keys = [k for k in keys if k.key_id != int(words[4])]
    return keys


md5_lists = st.lists(
    st.builds(Md5Key, st.integers(1, 6), st.sampled_from(["0" * 16, "1" * 16])),
    max_size=5,
    unique_by=lambda k: k.key_id,
)


def _plan(keys: list[Md5Key]) -> FrrPlan:
    if not keys:
        return EMPTY_PLAN
    return FrrPlan(ospf={"eth0": OspfInterface("eth0", md5_keys=tuple(keys))})


@settings(max_examples=200, deadline=None)
@given(md5_lists, md5_lists)
def test_md5_commands_leave_ospfd_with_the_desired_order(
    current: list[Md5Key], desired: list[Md5Key]
) -> None:
    """Whatever ospfd holds, the commands leave exactly the desired keys in
    the desired order (the last one is what ospfd sends with)."""
    change = frr_change(
        _plan(current), _plan(desired), FrrRenderConfig(), frr_features(Version(8, 4, 4))
    )
    commands = change.commands[Daemon.OSPFD]
    assert _apply_ospfd(list(current), commands) == desired
    if current == desired:
        assert commands == ()
    auth = [c for c in commands if c.startswith(("ip ospf authentication", "no ip ospf auth"))]
    assert auth == (
        ["ip ospf authentication message-digest"] if desired and not current else []
    ) + (["no ip ospf authentication"] if current and not desired else [])
