"""IS-IS generic cryptographic authentication (RFC 5310) key profile.

- Protocol ID 205, SPI size 2: the Key ID of the authentication TLV, the
  same both ways; LocalKeyName = PeerKeyName = four hex digits.
- AlgIDs "HMAC-SHA-1/256/384/512" (RFC 5310 §3: full-length HMAC with
  Apad), KDF "none".
- Interfaces are required, and ProtocolSpecificInfo is ``pdu=iih``: a key
  agreed with one neighbour can only protect that circuit's Hellos (IIHs);
  LSPs and SNPs are flooded through the area and need an area or domain
  key (a group key, out of RKMP's unicast scope).
- Hitless: receivers pick the key by Key ID, so two keys coexist.
"""

from __future__ import annotations

from rkmp_frr.engine.events import ChildParams
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile, format_info
from rkmp_frr.wire.constants import IntegId, ProtocolId

ALGORITHMS = {
    IntegId.RKMP_HMAC_SHA1: Algorithm("HMAC-SHA-1"),
    IntegId.RKMP_HMAC_SHA2_256: Algorithm("HMAC-SHA-256"),
    IntegId.RKMP_HMAC_SHA2_384: Algorithm("HMAC-SHA-384"),
    IntegId.RKMP_HMAC_SHA2_512: Algorithm("HMAC-SHA-512"),
}


def _specific_info(params: ChildParams) -> str:
    return format_info({"pdu": "iih"})


PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.ISIS],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=True,
    specific_info=_specific_info,
)
