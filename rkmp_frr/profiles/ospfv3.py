"""OSPFv3 authentication trailer (RFC 7166) key profile.

- Protocol ID 204, SPI size 2: the Security Association ID (RFC 7166 §4),
  the same both ways; LocalKeyName = PeerKeyName = four hex digits.
- AlgIDs "HMAC-SHA-1/256/384/512" (RFC 7166 §4.5: full-length HMAC with
  Apad), KDF "none".
- Interfaces are required (the trailer is configured per interface);
  unicast RKMP keys suit point-to-point links only.
- Hitless: receivers look keys up by SA ID, so two keys coexist
  (ospf6d key chains roll over without adjacency loss, DESIGN.md §5).
"""

from __future__ import annotations

from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile
from rkmp_frr.wire.constants import IntegId, ProtocolId

ALGORITHMS = {
    IntegId.RKMP_HMAC_SHA1: Algorithm("HMAC-SHA-1"),
    IntegId.RKMP_HMAC_SHA2_256: Algorithm("HMAC-SHA-256"),
    IntegId.RKMP_HMAC_SHA2_384: Algorithm("HMAC-SHA-384"),
    IntegId.RKMP_HMAC_SHA2_512: Algorithm("HMAC-SHA-512"),
}

PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.OSPFV3],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=True,
)
