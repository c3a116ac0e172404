"""TCP-MD5 (RFC 2385) key profile. NOT HITLESS.

RFC 2385 carries no key ID: a connection has exactly one key, and Linux
holds one TCP_MD5SIG key per peer address. Changing the key therefore
resets the TCP session (FRR's ``neighbor X password`` and BIRD's BGP
``password`` both restart it; DESIGN.md §5). So a rekey switches at once
(send delay and grace 0) and every rekey costs a BGP session restart:
prefer TCP-AO wherever both ends have it, and give TCP-MD5 child SAs long
lifetimes.

- Protocol ID 202, SPI size 1 (a local index with no wire meaning).
- A row: LocalKeyName and PeerKeyName empty (no key names on the wire),
  Peers the remote address, Interfaces "all", KDF "none", AlgID "MD5",
  ProtocolSpecificInfo empty.
"""

from __future__ import annotations

from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles.base import IMMEDIATE_ROLLOVER, Algorithm, KeyProfile
from rkmp_frr.wire.constants import IntegId, ProtocolId

NOT_HITLESS = (
    "TCP-MD5 (RFC 2385) has no key IDs, so a connection holds one key: every key "
    "change resets the TCP (BGP) session"
)

ALGORITHMS = {IntegId.RKMP_KEYED_MD5: Algorithm("MD5")}

PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.TCP_MD5],
    algorithms=ALGORITHMS,
    hitless=False,
    rollover=IMMEDIATE_ROLLOVER,
    interfaces_required=False,
    key_names_on_wire=False,
    note=NOT_HITLESS,
)
