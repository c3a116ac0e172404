"""BFD authentication (RFC 5880 §6.7) key profile.

- Protocol ID 206, SPI size 1: the Auth Key ID, the same both ways;
  LocalKeyName = PeerKeyName = two hex digits.
- AlgIDs "KEYED-MD5" (§6.7.3) and "KEYED-SHA-1" (§6.7.4: a keyed hash, not
  an HMAC, despite the engine's transform name), KDF "none"; the engine
  gives both an 8-octet master key, whose 16 hex digits fit the 16- and
  20-octet key fields.
- ProtocolSpecificInfo ``auth-type=N``: the RFC 5880 §4.1 Auth Type,
  meticulous (3 or 5, sequence number on every packet) by default.
- Interfaces "all": a session is named by its peer address.
- Hitless: "multiple keys can be active simultaneously" through the Key ID
  (RFC 5880 §6.7.1).
"""

from __future__ import annotations

from enum import IntEnum

from rkmp_frr.engine.events import ChildParams
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile, format_info
from rkmp_frr.wire.constants import IntegId, ProtocolId


class BfdAuthType(IntEnum):
    """RFC 5880 §4.1 Auth Type."""

    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


ALGORITHMS = {
    IntegId.RKMP_KEYED_MD5: Algorithm("KEYED-MD5"),
    IntegId.RKMP_HMAC_SHA1: Algorithm("KEYED-SHA-1"),
}
_AUTH_TYPE = {
    IntegId.RKMP_KEYED_MD5: BfdAuthType.METICULOUS_KEYED_MD5,
    IntegId.RKMP_HMAC_SHA1: BfdAuthType.METICULOUS_KEYED_SHA1,
}


def auth_type(integ: int) -> BfdAuthType:
    return _AUTH_TYPE[IntegId(integ)]


def _specific_info(params: ChildParams) -> str:
    return format_info({"auth-type": str(int(auth_type(params.integ)))})


PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.BFD],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=False,
    specific_info=_specific_info,
)
