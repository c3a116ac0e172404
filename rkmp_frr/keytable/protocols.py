"""The RFC 7210 "Protocol" field: one name per routing protocol.

RFC 7210 §8.1 sets up a "KeyTable Protocols" registry with no entries, so
the names are this project's; the Protocol IDs are DESIGN.md §2's.
"""

from __future__ import annotations

from rkmp_frr.wire.constants import ProtocolId

PROTOCOL_NAMES: dict[ProtocolId, str] = {
    ProtocolId.TCP_AO: "TCP-AO",
    ProtocolId.TCP_MD5: "TCP-MD5",
    ProtocolId.OSPFV2: "OSPFv2",
    ProtocolId.OSPFV3: "OSPFv3",
    ProtocolId.ISIS: "IS-IS",
    ProtocolId.BFD: "BFD",
    ProtocolId.OSPFV3_IPSEC: "OSPFv3-IPsec",
}
_BY_NAME = {name: protocol for protocol, name in PROTOCOL_NAMES.items()}


def protocol_name(protocol: ProtocolId) -> str:
    try:
        return PROTOCOL_NAMES[protocol]
    except KeyError:
        raise ValueError(f"{protocol!r} is not a routing protocol") from None


def protocol_from_name(name: str) -> ProtocolId:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown key table protocol {name!r}") from None
