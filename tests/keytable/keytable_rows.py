"""Rows and child SAs for key table tests."""

from __future__ import annotations

import hashlib

from rkmp_frr.engine.events import ChildParams, ChildRef, RkmpSaRef
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, RowLink
from rkmp_frr.wire.constants import IntegId, ProtocolId

PEER = "192.0.2.1"
PEER_B = "192.0.2.2"
SA = RkmpSaRef((PEER, 500), bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718"))


def key_hex(seed: object, octets: int = 32) -> str:
    return hashlib.sha256(repr(seed).encode()).digest()[:octets].hex()


def make_row(
    spi: int = 1,
    *,
    protocol: ProtocolId = ProtocolId.OSPFV2,
    peers: frozenset[str] = frozenset({PEER}),
    interfaces: frozenset[str] = ALL_INTERFACES,
    direction: Direction = Direction.BOTH,
    send: tuple[int, int] = (1000, 2000),
    accept: tuple[int, int] = (900, 2100),
    key_name: str | None = None,
    key: str | None = None,
    link: bool = True,
    rkmp_sa: RkmpSaRef | None = SA,
) -> KeyRow:
    peer = min(peers, default=PEER)
    name = key_name if key_name is not None else f"{spi:02x}"
    return KeyRow(
        admin_key_name=f"test/{protocol.name}/{peer}/{spi}",
        local_key_name=name,
        peer_key_name=name,
        peers=peers,
        interfaces=interfaces,
        protocol=protocol,
        protocol_specific_info="",
        kdf="none",
        alg_id="HMAC-SHA-256",
        key=key if key is not None else key_hex((protocol, peer, spi)),
        direction=direction,
        send_lifetime_start=send[0],
        send_lifetime_end=send[1],
        accept_lifetime_start=accept[0],
        accept_lifetime_end=accept[1],
        spi=spi,
        link=RowLink(ChildRef((peer, 500), protocol, spi, spi), rkmp_sa) if link else None,
    )


def child_params(
    local_key_id: int,
    remote_key_id: int | None = None,
    *,
    protocol: ProtocolId = ProtocolId.OSPFV2,
    integ: IntegId = IntegId.RKMP_HMAC_SHA2_256,
    peer: str = PEER,
    expires_at: float = 10_000.0,
    options: tuple[int, ...] = (),
    key_octets: int = 32,
    initiator: bool = True,
    seed: object = None,
) -> ChildParams:
    ref = ChildRef(
        (peer, 500),
        protocol,
        local_key_id,
        local_key_id if remote_key_id is None else remote_key_id,
    )
    return ChildParams(
        ref=ref,
        integ=integ,
        options=options,
        pfs_group=None,
        rekey_at=expires_at - 600.0,
        expires_at=expires_at,
        initiator=initiator,
        master_key=bytes.fromhex(
            key_hex((protocol, peer, local_key_id, remote_key_id, seed), key_octets)
        ),
    )
