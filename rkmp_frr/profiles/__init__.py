"""Routing-protocol key profiles: one module per protocol.

Each module declares ``PROFILE``, a :class:`~rkmp_frr.profiles.base.KeyProfile`
over the engine's ``RoutingProfile`` (Protocol ID, SPI size, key-ID rules,
allowed MACs, master-key length) that adds the RFC 7210 names, how a row is
filled, the rollover timing and whether rollover is hitless. TCP-MD5 is the
one that is not: every key change resets its session.
"""

from __future__ import annotations

from collections.abc import Mapping

from rkmp_frr.profiles import bfd, isis, ospfv2, ospfv3, ospfv3_ipsec, tcp_ao, tcp_md5
from rkmp_frr.profiles.base import KeyProfile
from rkmp_frr.wire.constants import ProtocolId

KEY_PROFILES: Mapping[ProtocolId, KeyProfile] = {
    p.protocol: p
    for p in (
        tcp_ao.PROFILE,
        tcp_md5.PROFILE,
        ospfv2.PROFILE,
        ospfv3.PROFILE,
        isis.PROFILE,
        bfd.PROFILE,
        ospfv3_ipsec.PROFILE,
    )
}


def key_profile(protocol: int) -> KeyProfile | None:
    try:
        return KEY_PROFILES.get(ProtocolId(protocol))
    except ValueError:
        return None


__all__ = ["KEY_PROFILES", "KeyProfile", "key_profile"]
