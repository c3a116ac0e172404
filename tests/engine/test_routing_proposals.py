"""Routing-protocol SA proposals (DESIGN.md §2)."""

from __future__ import annotations

import pytest

from rkmp_frr.engine.policy import ChildPolicy
from rkmp_frr.engine.routing_proposals import (
    PROFILES,
    ChildSelection,
    build_child_answer,
    build_child_proposal,
    check_child_answer,
    key_id_space,
    key_id_to_spi,
    master_key,
    select_child_proposal,
    spi_to_key_id,
)
from rkmp_frr.wire import Proposal, SaPayload, Transform, decode_message, encode_message
from rkmp_frr.wire.constants import (
    ROUTING_SPI_SIZE,
    IntegId,
    KeId,
    ProtocolId,
    RkmpOptionId,
    TransformType,
)

GROUPS = (KeId.CURVE25519, KeId.ECP_256)


def _round_trip(sa: SaPayload) -> SaPayload:
    """Through the wire codec, so the proposals are what a peer would see."""
    from rkmp_frr.wire import Header, Message
    from rkmp_frr.wire.constants import HeaderFlag

    header = Header(b"\1" * 8, b"\2" * 8, 36, HeaderFlag.INITIATOR, 2)
    decoded = decode_message(encode_message(Message(header, (sa,))))
    payload = decoded.payloads[0]
    assert isinstance(payload, SaPayload)
    return payload


@pytest.mark.parametrize("protocol", list(PROFILES))
def test_offer_and_answer_for_every_protocol(protocol: ProtocolId) -> None:
    prof = PROFILES[protocol]
    integ = sorted(prof.integ)[0]
    policy = ChildPolicy(protocol, integ=(integ,))
    key_id = key_id_space(policy)[3]
    offer = build_child_proposal(policy, key_id, None)
    assert len(offer.spi) == ROUTING_SPI_SIZE[protocol]
    received = _round_trip(SaPayload((offer,)))
    chosen = select_child_proposal(received, policy, GROUPS)
    assert chosen is not None
    proposal, selection = chosen
    assert spi_to_key_id(proposal.spi) == key_id
    assert selection == ChildSelection(integ, None, None)
    answer = build_child_answer(protocol, proposal.number, 77, selection)
    checked = check_child_answer(_round_trip(SaPayload((answer,))), offer)
    assert checked == (77, selection)


def test_responder_takes_the_first_acceptable_of_each_type() -> None:
    offer_policy = ChildPolicy(
        ProtocolId.TCP_AO,
        integ=(IntegId.AES_CMAC_96, IntegId.HMAC_SHA1_96),
        options=(RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS, RkmpOptionId.TCP_AO_INCLUDE_OPTIONS),
        pfs_groups=(KeId.ECP_256, KeId.CURVE25519),
    )
    offer = build_child_proposal(offer_policy, 9, KeId.CURVE25519)
    kinds = [t.transform_type for t in offer.transforms]
    assert kinds.count(TransformType.KE) == 2
    # The KE group of the KE payload is listed first.
    assert [t.transform_id for t in offer.transforms if t.transform_type == TransformType.KE] == [
        KeId.CURVE25519,
        KeId.ECP_256,
    ]
    responder = ChildPolicy(
        ProtocolId.TCP_AO,
        integ=(IntegId.HMAC_SHA1_96,),
        options=(RkmpOptionId.TCP_AO_INCLUDE_OPTIONS,),
    )
    chosen = select_child_proposal(SaPayload((offer,)), responder, GROUPS)
    assert chosen is not None
    assert chosen[1] == ChildSelection(
        IntegId.HMAC_SHA1_96, RkmpOptionId.TCP_AO_INCLUDE_OPTIONS, KeId.CURVE25519
    )


def test_no_common_mac_or_required_pfs_is_no_proposal() -> None:
    offer = build_child_proposal(
        ChildPolicy(ProtocolId.OSPFV2, integ=(IntegId.RKMP_KEYED_MD5,)), 1, None
    )
    strict = ChildPolicy(ProtocolId.OSPFV2, integ=(IntegId.RKMP_HMAC_SHA2_256,))
    assert select_child_proposal(SaPayload((offer,)), strict, GROUPS) is None
    pfs = ChildPolicy(
        ProtocolId.OSPFV2, integ=(IntegId.RKMP_KEYED_MD5,), pfs_groups=(KeId.CURVE25519,)
    )
    assert select_child_proposal(SaPayload((offer,)), pfs, GROUPS) is None
    # A MAC the routing protocol cannot use is refused even if configured.
    wrong = ChildPolicy(ProtocolId.OSPFV3, integ=(IntegId.RKMP_KEYED_MD5,))
    md5_offer = build_child_proposal(wrong, 1, None)
    assert select_child_proposal(SaPayload((md5_offer,)), wrong, GROUPS) is None


def test_unknown_transform_type_rejects_the_proposal() -> None:
    policy = ChildPolicy(ProtocolId.BFD, integ=(IntegId.RKMP_KEYED_MD5,))
    offer = build_child_proposal(policy, 1, None)
    odd = Proposal(1, offer.protocol_id, offer.spi, (*offer.transforms, Transform(1, 12)))
    assert select_child_proposal(SaPayload((odd,)), policy, GROUPS) is None
    other_protocol = Proposal(1, ProtocolId.ISIS, b"\0\1", offer.transforms)
    assert select_child_proposal(SaPayload((other_protocol,)), policy, GROUPS) is None


def test_answer_must_come_from_the_offer() -> None:
    policy = ChildPolicy(ProtocolId.ISIS, integ=(IntegId.RKMP_HMAC_SHA2_256,))
    offer = build_child_proposal(policy, 300, None)
    foreign = ChildSelection(IntegId.RKMP_HMAC_SHA2_512, None, None)
    answer = build_child_answer(ProtocolId.ISIS, 1, 300, foreign)
    assert check_child_answer(SaPayload((answer,)), offer) is None
    wrong_number = build_child_answer(
        ProtocolId.ISIS, 2, 300, ChildSelection(IntegId.RKMP_HMAC_SHA2_256, None, None)
    )
    assert check_child_answer(SaPayload((wrong_number,)), offer) is None


def test_key_ids_spis_and_master_key_lengths() -> None:
    assert key_id_to_spi(ProtocolId.OSPFV3, 0x1234) == b"\x12\x34"
    assert spi_to_key_id(b"\x00\x00\x01\x00") == 256
    assert 0 not in key_id_space(ChildPolicy(ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA1_96,)))
    narrowed = ChildPolicy(ProtocolId.BFD, integ=(IntegId.RKMP_KEYED_MD5,), key_ids=range(10, 20))
    assert key_id_space(narrowed) == range(10, 20)
    keymat = bytes(range(64))
    # Keyed MD5 key fields hold 16 octets: 8 octets of key, 16 hex digits.
    assert master_key(keymat, ProtocolId.OSPFV2, IntegId.RKMP_KEYED_MD5) == keymat[:8]
    assert master_key(keymat, ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA2_256) == keymat[:32]
    assert master_key(keymat, ProtocolId.TCP_AO, IntegId.AES_CMAC_96) == keymat[:32]
