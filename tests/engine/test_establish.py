"""RKMP_SA_INIT + RKMP_SA_AUTH between two in-memory engines."""

from __future__ import annotations

import itertools

import pytest

from rkmp_frr.crypto.dh import available_ke_ids
from rkmp_frr.crypto.proposals import CryptoProposal
from rkmp_frr.crypto.suites import (
    ENCR_ALGORITHMS,
    INTEG_ALGORITHMS,
    PRF_FOR_INTEG,
    PRF_IDS,
    ke_algorithm,
    prf_algorithm,
)
from rkmp_frr.engine import (
    ChildSaCreated,
    ChildSaFailed,
    Engine,
    FailureReason,
    RkmpSaEstablished,
    RkmpSaFailed,
)
from rkmp_frr.engine.rkmp_sa import RkmpSa
from rkmp_frr.wire import CertReqPayload, decode_message
from rkmp_frr.wire.constants import ExchangeType, NotifyType, ProtocolId

from . import pki
from .harness import (
    ADDR_A,
    ADDR_B,
    BFD,
    OSPFV2,
    TCP_AO,
    Network,
    Node,
    make_engine,
    pair,
    peer_policy,
)


def _sa(engine: Engine, spi_i: bytes, spi_r: bytes) -> RkmpSa:
    """The engine's SA object, by whichever SPI is its own."""
    sa = engine._sas.get(spi_i) or engine._sas[spi_r]
    assert (sa.spi_i, sa.spi_r) == (spi_i, spi_r)
    return sa


def assert_same_sa_keys(a: Node, b: Node) -> None:
    """Both ends derived the same RKMP SA keys and hold one SA each."""
    [ref_a] = a.engine.rkmp_sas(ADDR_B)
    [ref_b] = b.engine.rkmp_sas(ADDR_A)
    assert (ref_a.spi_i, ref_a.spi_r) == (ref_b.spi_i, ref_b.spi_r)
    keys_a = _sa(a.engine, ref_a.spi_i, ref_a.spi_r).keys
    keys_b = _sa(b.engine, ref_b.spi_i, ref_b.spi_r).keys
    assert keys_a is not None and keys_a == keys_b


def assert_same_children(a: Node, b: Node) -> None:
    """Both ends hold the same child SAs: same keys, mirrored key IDs."""
    ours = {(c.ref.protocol, c.ref.local_key_id): c for c in a.engine.child_sas(ADDR_B)}
    theirs = {(c.ref.protocol, c.ref.remote_key_id): c for c in b.engine.child_sas(ADDR_A)}
    assert ours.keys() == theirs.keys()
    for key, child in ours.items():
        other = theirs[key]
        assert child.master_key == other.master_key
        assert child.ref.remote_key_id == other.ref.local_key_id
        assert (child.integ, child.options, child.pfs_group) == (
            other.integ,
            other.options,
            other.pfs_group,
        )
        assert child.initiator != other.initiator


def kinds(node: Node) -> list[str]:
    return [type(event).__name__ for event in node.events]


def test_psk_establishment_with_first_child() -> None:
    net, a, b = pair()
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert kinds(a) == ["RkmpSaEstablished", "ChildSaCreated"]
    assert kinds(b) == ["RkmpSaEstablished", "ChildSaCreated"]
    [est_a] = a.of_type(RkmpSaEstablished)
    assert est_a.initiator and est_a.remote_identity == ADDR_B[0]
    assert est_a.proposal == "aes256gcm16-prfsha256-x25519"
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)
    [child] = a.engine.child_sas(ADDR_B)
    assert child.ref.protocol == ProtocolId.TCP_AO and len(child.master_key) == 32
    # The first child rides in RKMP_SA_AUTH: no CREATE_CHILD_SA was needed.
    assert ExchangeType.CREATE_CHILD_SA not in {p.exchange for p in net.sent}


def _all_suites() -> list[str]:
    suites = []
    for encr, ke in itertools.product(ENCR_ALGORITHMS, available_ke_ids()):
        if encr.aead:
            for prf in PRF_IDS:
                proposal = CryptoProposal((encr,), (), (prf_algorithm(prf),), (ke_algorithm(ke),))
                suites.append(str(proposal))
        else:
            for integ in INTEG_ALGORITHMS:
                same_hash = prf_algorithm(PRF_FOR_INTEG[integ.integ_id])
                proposal = CryptoProposal((encr,), (integ,), (same_hash,), (ke_algorithm(ke),))
                suites.append(str(proposal))
    return suites


@pytest.mark.parametrize("suite", _all_suites())
def test_establishment_for_every_supported_suite(suite: str) -> None:
    net, a, b = pair(a_policy={"rkmp_proposals": (suite,)}, b_policy={"rkmp_proposals": (suite,)})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [est] = a.of_type(RkmpSaEstablished)
    assert est.proposal == suite
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


def test_several_children_first_in_auth_rest_in_create_child() -> None:
    children = (TCP_AO, OSPFV2, BFD)
    net, a, b = pair(a_policy={"children": children}, b_policy={"children": children})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert len(a.of_type(ChildSaCreated)) == 3 and len(b.of_type(ChildSaCreated)) == 3
    assert [p.exchange for p in net.sent].count(ExchangeType.CREATE_CHILD_SA) == 4
    assert_same_children(a, b)
    for child in a.engine.child_sas(ADDR_B):
        if child.ref.protocol in (ProtocolId.OSPFV2, ProtocolId.BFD):
            assert child.ref.local_key_id == child.ref.remote_key_id  # symmetric IDs
    bfd = next(c for c in a.engine.child_sas(ADDR_B) if c.ref.protocol == ProtocolId.BFD)
    assert len(bfd.master_key) == 8 and bfd.key_text == bfd.master_key.hex()


def test_invalid_ke_payload_retry_with_the_requested_group() -> None:
    net, a, b = pair(
        a_policy={"rkmp_proposals": ("aes256gcm16-prfsha256-x25519-ecp256",)},
        b_policy={"rkmp_proposals": ("aes256gcm16-prfsha256-ecp256",)},
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [est] = a.of_type(RkmpSaEstablished)
    assert est.proposal.endswith("ecp256")
    first_answer = decode_message(net.sent[1].data)
    notify = first_answer.notify(NotifyType.INVALID_KE_PAYLOAD)
    assert notify is not None and notify.data == b"\x00\x13"  # group 19
    assert_same_sa_keys(a, b)


def test_no_proposal_chosen_fails_the_initiator_only() -> None:
    net, a, b = pair(
        a_policy={"rkmp_proposals": ("aes256gcm16-prfsha256-x25519",)},
        b_policy={"rkmp_proposals": ("aes128-sha256-ecp256",)},
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [failed] = a.of_type(RkmpSaFailed)
    assert failed.reason is FailureReason.NO_PROPOSAL_CHOSEN and failed.children == ()
    assert b.events == [] and b.engine.rkmp_sas() == []


def test_cookie_required_when_over_threshold() -> None:
    net, a, b = pair(b_config={"dos": _dos(cookie_threshold=0)})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    answer = decode_message(net.sent[1].data)
    assert answer.notify(NotifyType.COOKIE) is not None and len(answer.payloads) == 1
    retry = decode_message(net.sent[2].data)
    assert retry.payloads[0] == answer.payloads[0]  # the cookie comes first (§2.6)
    assert len(a.of_type(RkmpSaEstablished)) == 1
    assert_same_sa_keys(a, b)


def _dos(**kwargs: object) -> object:
    from rkmp_frr.engine import DosPolicy

    return DosPolicy(**kwargs)  # type: ignore[arg-type]


def test_cookies_per_source_address() -> None:
    """Three half-open SAs from one address are allowed; the fourth
    RKMP_SA_INIT from that address is answered with a COOKIE."""
    net = Network()
    responder = make_engine(
        ADDR_B[0],
        peer_policy(("192.0.2.0/24", 0)),
        seed=7,
        dos=_dos(cookie_threshold_per_address=3),
    )
    b = net.add("B", responder, ADDR_B)
    initiators = [
        net.add(f"A{i}", make_engine(ADDR_A[0], peer_policy(ADDR_B), seed=i), (ADDR_A[0], 600 + i))
        for i in range(4)
    ]
    net.drop = lambda packet: packet.exchange == ExchangeType.IKE_AUTH  # stay half-open
    for node in initiators:
        node.engine.initiate(ADDR_B, net.now)
        net.run(0.1)
    answers = [decode_message(p.data) for p in net.sent if p.src == ADDR_B]
    cookies = [m.notify(NotifyType.COOKIE) is not None for m in answers]
    assert cookies[:3] == [False, False, False] and cookies[3]
    assert b.events == []


def test_childless_fallback_with_a_peer_without_rkmp_supported() -> None:
    net, a, b = pair(b_config={"announce_rkmp": False})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert len(a.of_type(RkmpSaEstablished)) == 1
    assert len(a.of_type(ChildSaCreated)) == 1 and len(b.of_type(ChildSaCreated)) == 1
    # RFC 6023: the child came with CREATE_CHILD_SA, not in RKMP_SA_AUTH.
    assert [p.exchange for p in net.sent].count(ExchangeType.CREATE_CHILD_SA) == 2
    assert_same_children(a, b)


def _no_keys(*nodes: Node) -> None:
    for node in nodes:
        assert not node.of_type(ChildSaCreated)
        assert not node.of_type(RkmpSaEstablished)
        assert node.engine.child_sas(ADDR_A if node.address == ADDR_B else ADDR_B) == []
        assert node.engine.rkmp_sas() == []


def _auth_failed(node: Node) -> None:
    [failed] = node.of_type(RkmpSaFailed)
    assert failed.reason is FailureReason.AUTHENTICATION_FAILED


def test_wrong_psk_fails_both_sides_without_keys() -> None:
    from rkmp_frr.engine import PskCredential

    net, a, b = pair(b_config={"credential": PskCredential(b"not the same key")})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    _auth_failed(a)
    _auth_failed(b)
    _no_keys(a, b)


def _cert_pair(
    a_ca: str = "RKMP test CA", b_ca: str = "RKMP test CA", **kwargs: object
) -> tuple[Network, Node, Node]:
    return pair(
        a_config={"credential": pki.router(ADDR_A[0], a_ca)},
        b_config={"credential": pki.router(ADDR_B[0], b_ca, curve=True)},
        a_policy={"remote_auth": pki.trust(), **kwargs},
        b_policy={"remote_auth": pki.trust()},
    )


def test_certificate_authentication() -> None:
    net, a, b = _cert_pair()
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [est_b] = b.of_type(RkmpSaEstablished)
    assert est_b.remote_identity == ADDR_A[0]
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)
    # RFC 7427 §4 and RFC 7296 §3.7 in the responder's RKMP_SA_INIT answer.
    answer = decode_message(net.sent[1].data)
    assert answer.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS) is not None
    assert answer.find(CertReqPayload) is not None


@pytest.mark.parametrize("untrusted", ["initiator", "responder"])
def test_untrusted_certificate_fails_both_sides_without_keys(untrusted: str) -> None:
    other = "Some other CA"
    net, a, b = _cert_pair(
        a_ca=other if untrusted == "initiator" else "RKMP test CA",
        b_ca=other if untrusted == "responder" else "RKMP test CA",
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    _auth_failed(a)
    _auth_failed(b)
    _no_keys(a, b)


def test_unexpected_identity_fails() -> None:
    net, a, b = pair(a_policy={"remote_identity": "router-b.example"})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    _auth_failed(a)
    _no_keys(a, b)


def test_expected_identity_accepted() -> None:
    net, a, b = pair(
        a_policy={"remote_identity": ADDR_B[0]}, b_policy={"remote_identity": ADDR_A[0]}
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert_same_sa_keys(a, b)


def test_per_peer_local_identity_is_presented_both_ways() -> None:
    # PeerPolicy.local_identity overrides LocalConfig.identity as IDi/IDr.
    net, a, b = pair(
        a_policy={"local_identity": "a-for-b.example", "remote_identity": "b-for-a.example"},
        b_policy={"local_identity": "b-for-a.example", "remote_identity": "a-for-b.example"},
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert_same_sa_keys(a, b)
    (up_a,) = a.of_type(RkmpSaEstablished)
    (up_b,) = b.of_type(RkmpSaEstablished)
    assert (up_a.local_identity, up_a.remote_identity) == ("a-for-b.example", "b-for-a.example")
    assert (up_b.local_identity, up_b.remote_identity) == ("b-for-a.example", "a-for-b.example")


def test_child_without_common_mac_fails_but_the_rkmp_sa_stands() -> None:
    from rkmp_frr.engine import ChildPolicy
    from rkmp_frr.wire.constants import IntegId

    only_cmac = ChildPolicy(ProtocolId.TCP_AO, integ=(IntegId.AES_CMAC_96,))
    only_sha1 = ChildPolicy(ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA1_96,))
    net, a, b = pair(a_policy={"children": (only_cmac,)}, b_policy={"children": (only_sha1,)})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert_same_sa_keys(a, b)
    failed = a.of_type(ChildSaFailed)
    assert failed and failed[-1].reason is FailureReason.NO_PROPOSAL_CHOSEN
    assert not a.of_type(ChildSaCreated) and not b.of_type(ChildSaCreated)


def test_confirmation_before_the_auth_response_is_not_answered() -> None:
    """The responder's confirmation request overtakes its RKMP_SA_AUTH
    response; the initiator must not answer it before it has checked the
    responder's AUTH, or an untrusted responder would get keys."""
    net, a, b = _cert_pair(b_ca="Some other CA")
    net.delay = lambda packet: (
        1.0 if packet.exchange == ExchangeType.IKE_AUTH and packet.is_response else 0.0
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    _auth_failed(a)
    _auth_failed(b)
    _no_keys(a, b)


def test_confirmation_overtaking_the_auth_response_still_establishes() -> None:
    net, a, b = pair()
    net.delay = lambda packet: (
        1.0 if packet.exchange == ExchangeType.IKE_AUTH and packet.is_response else 0.0
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


def test_plain_ikev2_peer_without_routing_sas() -> None:
    """A peer that neither announces RKMP_SUPPORTED nor has routing SA
    policies (like strongSwan): the RKMP SA comes up childless and each
    routing SA fails once with NO_PROPOSAL_CHOSEN, without key-ID retries."""
    net, a, b = pair(b_config={"announce_rkmp": False}, b_policy={"children": ()})
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert_same_sa_keys(a, b)
    [failed] = a.of_type(ChildSaFailed)
    assert failed.reason is FailureReason.NO_PROPOSAL_CHOSEN
    assert [p.exchange for p in net.sent].count(ExchangeType.CREATE_CHILD_SA) == 2
