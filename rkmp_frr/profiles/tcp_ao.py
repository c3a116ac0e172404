"""TCP-AO (RFC 5925, RFC 5926) key profile.

- Protocol ID 201; the engine's profile holds the SPI size (1), the
  per-direction key IDs (draft-mahesh §6.1.1: the SPI carries the
  proposer's SendID; the answer carries the responder's) and the MACs.
- A row is one Master Key Tuple (RFC 5925 §3.1): LocalKeyName is the
  RecvID (the KeyID in segments we receive), PeerKeyName the SendID,
  Peers the remote address (the connection identifier, ports wildcarded),
  Interfaces "all" (RFC 7210 §2: TCP-AO picks keys before an interface),
  KDF/AlgID the RFC 5926 pair, ProtocolSpecificInfo
  ``send-id=N;recv-id=N;tcp-options=include|exclude`` (the TCP option flag).
- Rollover is hitless: an MKT set holds several keys and RNextKeyID moves
  both ends to the new one (RFC 5925 §7.5.2); seen in BIRD 2.17 (DESIGN §6).

``traffic_key`` (RFC 5926 §3.1 KDF) is part of this module's interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rkmp_frr.engine.events import ChildParams
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, Algorithm, KeyProfile, format_info, parse_info
from rkmp_frr.profiles.tcp_ao_crypto import TcpAoAlgorithm, traffic_key
from rkmp_frr.wire.constants import IntegId, ProtocolId, RkmpOptionId

__all__ = ["ALGORITHMS", "PROFILE", "Mkt", "TcpAoAlgorithm", "mkt_from_row", "traffic_key"]

# RFC 7210 §8.2/§8.3 registry names for RFC 5926's pairs; SHA-256 by analogy.
ALGORITHMS = {
    IntegId.HMAC_SHA1_96: Algorithm("HMAC-SHA-1-96", "HMAC-SHA-1"),
    IntegId.AES_CMAC_96: Algorithm("AES-128-CMAC-96", "AES-128-CMAC"),
    IntegId.HMAC_SHA2_256_128: Algorithm("HMAC-SHA-256-128", "HMAC-SHA-256"),
}
_BY_ALG_ID = {
    "HMAC-SHA-1-96": TcpAoAlgorithm.HMAC_SHA_1_96,
    "AES-128-CMAC-96": TcpAoAlgorithm.AES_128_CMAC_96,
    "HMAC-SHA-256-128": TcpAoAlgorithm.HMAC_SHA_256_128,
}
INCLUDE, EXCLUDE = "include", "exclude"


def include_options(params: ChildParams) -> bool:
    """The MKT's TCP option flag: options are covered unless the child SA
    negotiated otherwise (RFC 5925 §3.1: covering them is the default)."""
    return RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS not in params.options


def _specific_info(params: ChildParams) -> str:
    return format_info(
        {
            "send-id": str(params.ref.send_id),
            "recv-id": str(params.ref.recv_id),
            "tcp-options": INCLUDE if include_options(params) else EXCLUDE,
        }
    )


PROFILE = KeyProfile(
    routing=PROFILES[ProtocolId.TCP_AO],
    algorithms=ALGORITHMS,
    hitless=True,
    rollover=HITLESS_ROLLOVER,
    interfaces_required=False,
    specific_info=_specific_info,
)


@dataclass(frozen=True, slots=True)
class Mkt:
    """RFC 5925 §3.1 Master Key Tuple, as a routing daemon or the kernel
    (``TCP_AO_ADD_KEY``) takes it. The master key is the row's Key text's
    octets (DESIGN.md §2: daemons are given the hex text as the key)."""

    peers: frozenset[str]
    send_id: int
    recv_id: int
    include_options: bool
    algorithm: TcpAoAlgorithm
    master_key: bytes = field(repr=False)

    def traffic_key(
        self, src: str, dst: str, sport: int, dport: int, sisn: int, disn: int
    ) -> bytes:
        return traffic_key(
            self.master_key, self.algorithm.value, src, dst, sport, dport, sisn, disn
        )


def mkt_from_row(row: KeyRow) -> Mkt:
    """The MKT a TCP-AO row describes."""
    if row.protocol != ProtocolId.TCP_AO:
        raise InvalidRow("not a TCP-AO row")
    try:
        info = parse_info(row.protocol_specific_info)
        send_id, recv_id = int(info["send-id"]), int(info["recv-id"])
        flag = info["tcp-options"]
        algorithm = _BY_ALG_ID[row.alg_id]
    except (KeyError, ValueError):
        raise InvalidRow("TCP-AO row without a usable MKT description") from None
    if flag not in (INCLUDE, EXCLUDE) or not (0 <= send_id <= 255 and 0 <= recv_id <= 255):
        raise InvalidRow("TCP-AO row with bad key IDs or option flag")
    return Mkt(
        peers=row.peers,
        send_id=send_id,
        recv_id=recv_id,
        include_options=flag == INCLUDE,
        algorithm=algorithm,
        master_key=row.key.encode("ascii"),
    )
