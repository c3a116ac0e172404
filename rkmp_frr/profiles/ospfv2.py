"""OSPFv2 cryptographic authentication key profile: RFC 5709 (HMAC-SHA)
and RFC 2328 Appendix D.3 (keyed MD5).

- Protocol ID 203, SPI size 1: the Key ID, the same both ways (chosen by
  the initiator, DESIGN.md §2); LocalKeyName = PeerKeyName = the Key ID as
  two hex digits (RFC 7210 §5.1).
- AlgIDs: "KEYED-MD5" (RFC 2328 D.3; 8-octet master key, so its 16 hex
  digits fit the 16-octet key field), "HMAC-SHA-1/256/384/512" (RFC 5709
  §3: the full-length HMAC with Apad). KDF "none": the key is used as is.
- Interfaces are required: OSPF keys are per interface (RFC 2328 D.3).
  Keys from unicast RKMP suit point-to-point links only; a broadcast
  segment needs a group key.
- Hitless: a receiver accepts every configured Key ID (RFC 2328 D.3), so
  the new key is added on both sides before either sends it.
"""

from __future__ import annotations

from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile
from rkmp_frr.wire.constants import IntegId, ProtocolId

ALGORITHMS = {
    IntegId.RKMP_KEYED_MD5: Algorithm("KEYED-MD5"),
    IntegId.RKMP_HMAC_SHA1: Algorithm("HMAC-SHA-1"),
    IntegId.RKMP_HMAC_SHA2_256: Algorithm("HMAC-SHA-256"),
    IntegId.RKMP_HMAC_SHA2_384: Algorithm("HMAC-SHA-384"),
    IntegId.RKMP_HMAC_SHA2_512: Algorithm("HMAC-SHA-512"),
}

PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.OSPFV2],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=True,
)
