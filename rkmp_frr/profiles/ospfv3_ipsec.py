"""OSPFv3 over IPsec (RFC 4552) key profile.

- Protocol ID 207, SPI size 4: the SPI of the link's manual SA. RFC 4552
  §7-8 keys OSPFv3 by hand, one SA per link, the same SPI and key in both
  directions, so the key ID is symmetric: LocalKeyName = PeerKeyName = the
  SPI as eight hex digits. The engine allocates SPIs from 256 up (RFC 4303
  §2.1 reserves 1-255).
- AlgIDs "HMAC-SHA-1-96" (RFC 2404) and "HMAC-SHA-256-128" (RFC 4868),
  KDF "none": the IKEv2 INTEG transforms as ESP/AH use them.
- The master key is 32 octets (the engine's default). An IPsec MAC takes a
  key of a fixed length: RFC 2404 §3 allows only 160 bits for
  HMAC-SHA-1-96 and RFC 4868 §2.1.1 uses 256 bits for HMAC-SHA-256-128, so
  the SA's key is the first :attr:`IpsecIntegrity.key_octets` of the row's
  key (:func:`sa_key`); both ends cut it the same way.
- Interfaces are required: the SAs and policies belong to a link.
- Hitless: receivers find an SA by SPI, so the old and new SA coexist
  during the rollover (the kernel sink installs both).

The keys go to the kernel's XFRM tables (``rkmp_frr.sinks.kernel_sink``),
not to a routing daemon.
"""

from __future__ import annotations

from dataclasses import dataclass

from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile
from rkmp_frr.wire.constants import IntegId, ProtocolId

ALGORITHMS = {
    IntegId.HMAC_SHA1_96: Algorithm("HMAC-SHA-1-96"),
    IntegId.HMAC_SHA2_256_128: Algorithm("HMAC-SHA-256-128"),
}


@dataclass(frozen=True, slots=True)
class IpsecIntegrity:
    """How an AlgID is used as an ESP/AH integrity algorithm."""

    alg_id: str
    key_octets: int  # the MAC key's fixed length
    icv_bits: int  # the truncated ICV


INTEGRITY: dict[str, IpsecIntegrity] = {
    # RFC 2404 §2-3: 160-bit key, ICV truncated to 96 bits.
    "HMAC-SHA-1-96": IpsecIntegrity("HMAC-SHA-1-96", 20, 96),
    # RFC 4868 §2.1.1, §2.3: 256-bit key, 128-bit ICV.
    "HMAC-SHA-256-128": IpsecIntegrity("HMAC-SHA-256-128", 32, 128),
}

PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.OSPFV3_IPSEC],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=True,
    note="keys become kernel XFRM SAs ([sinks.kernel])",
)


def integrity(row: KeyRow) -> IpsecIntegrity:
    """The integrity algorithm of an OSPFv3-IPsec row."""
    found = INTEGRITY.get(row.alg_id)
    if found is None:
        raise InvalidRow(f"OSPFv3-IPsec cannot use AlgID {row.alg_id!r}")
    return found


def sa_key(row: KeyRow) -> bytes:
    """The SA's MAC key: the first octets of the row's key (see the module
    doc). The error names the lengths, never the key."""
    wanted = integrity(row)
    key = row.key_bytes
    if len(key) < wanted.key_octets:
        raise InvalidRow(
            f"OSPFv3-IPsec {wanted.alg_id} needs a {wanted.key_octets}-octet key, "
            f"the row has {len(key)}"
        )
    return key[: wanted.key_octets]
