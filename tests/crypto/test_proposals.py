"""Proposal strings (strongSwan syntax), their SA payload form, and
selection (RFC 7296 §2.7, §3.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.crypto import (
    CryptoProposal,
    ProposalSyntaxError,
    check_response,
    parse_proposal,
    parse_proposals,
    parse_suite,
    proposals_to_wire,
    select_offer,
    select_proposal,
)
from rkmp_frr.crypto.errors import ProposalError
from rkmp_frr.crypto.prf import get_prf
from rkmp_frr.crypto.suites import (
    AES_CBC_128,
    AES_CBC_256,
    AES_GCM_16_256,
    HMAC_SHA2_256_128,
    KE_ALGORITHMS,
    ke_algorithm,
)
from rkmp_frr.wire import Proposal, SaPayload, Transform, TransformAttribute, decode_payloads
from rkmp_frr.wire import encode_payloads as encode
from rkmp_frr.wire.constants import (
    EncrId,
    IntegId,
    KeId,
    PrfId,
    ProtocolId,
    TransformAttributeType,
    TransformType,
)

CANONICAL = [
    "aes256gcm16-prfsha256-x25519",
    "aes256-sha256-ecp256",
    "aes128gcm16-prfsha384-ecp384",
    "aes256-sha384-modp2048",
    "aes128-sha512-x448",
    "aes256-aes128-sha256-x25519-ecp256",
    "aes192-sha256-sha512-prfsha512-prfsha256-ecp521",
    "aes256gcm16-aes128gcm16-prfsha512-prfsha256-x25519-x448-ecp256",
    "aes128-sha384-prfsha256-modp2048",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_strings_round_trip(text: str) -> None:
    proposal = parse_proposal(text)
    assert str(proposal) == text
    assert parse_proposal(str(proposal)) == proposal


def test_sha256_means_integrity_and_prf_for_cbc() -> None:
    proposal = parse_proposal("aes256-sha256-ecp256")
    assert proposal.integ == (HMAC_SHA2_256_128,)
    assert proposal.prf == (get_prf(PrfId.HMAC_SHA2_256),)
    assert proposal.encr == (AES_CBC_256,)
    assert proposal.ke == (ke_algorithm(KeId.ECP_256),)
    suite = proposal.suite()
    assert suite.integ == HMAC_SHA2_256_128 and suite.prf.prf_id == PrfId.HMAC_SHA2_256


def test_several_integrity_algorithms_imply_their_prfs_in_order() -> None:
    proposal = parse_proposal("aes128-sha384-sha256-x25519")
    assert [p.prf_id for p in proposal.prf] == [PrfId.HMAC_SHA2_384, PrfId.HMAC_SHA2_256]


def test_an_explicit_prf_replaces_the_implied_one() -> None:
    proposal = parse_proposal("aes128-sha384-prfsha256-x25519")
    assert [p.prf_id for p in proposal.prf] == [PrfId.HMAC_SHA2_256]
    assert str(proposal) == "aes128-sha384-prfsha256-x25519"


def test_redundant_prf_token_is_dropped_when_formatting() -> None:
    proposal = parse_proposal("aes256-sha256-prfsha256-x25519")
    assert proposal == parse_proposal("aes256-sha256-x25519")
    assert str(proposal) == "aes256-sha256-x25519"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("aes256gcm128-prfsha256-curve25519", "aes256gcm16-prfsha256-x25519"),
        ("aes128-sha2_256-curve448", "aes128-sha256-x448"),
        ("AES256-SHA384-ECP384", "aes256-sha384-ecp384"),
    ],
)
def test_aliases(alias: str, canonical: str) -> None:
    assert str(parse_proposal(alias)) == canonical


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("aes256-sha1-x25519", "sha1"),
        ("3des-sha256-x25519", "3des"),
        ("aes256-sha256-modp1024", "modp1024"),
        ("aes256-sha256-x25519-foo", "foo"),
        ("chacha20poly1305-prfsha256-x25519", "chacha20poly1305"),
        ("aes256-md5-x25519", "md5"),
        ("aes256-sha256-prfsha1-x25519", "prfsha1"),
        ("aes192gcm16-prfsha256-x25519", "aes192gcm16"),
        ("aes256gcm8-prfsha256-x25519", "aes256gcm8"),
        ("aes256-sha256-x25519-ecp224", "ecp224"),
    ],
)
def test_unknown_tokens_are_named(text: str, token: str) -> None:
    with pytest.raises(ProposalSyntaxError) as caught:
        parse_proposal(text)
    assert caught.value.token == token
    assert repr(token) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("x25519-aes256-sha256", "aes256"),  # encryption after key exchange
        ("aes256-x25519-sha256", "sha256"),
        ("aes256-prfsha256-sha256-x25519", "sha256"),
        ("aes256-sha256-x25519-prfsha256", "prfsha256"),
        ("aes256gcm16-sha256-prfsha256-x25519", "sha256"),  # integrity with AEAD
        ("aes256-aes128gcm16-sha256-x25519", "aes128gcm16"),  # AEAD mixed with CBC
        ("aes256gcm16-aes256-prfsha256-x25519", "aes256"),
        ("aes256-sha256-sha256-x25519", "sha256"),  # repeated
        ("aes256-sha256-x25519-curve25519", "curve25519"),  # repeated via alias
        ("aes256--sha256-x25519", ""),  # empty
    ],
)
def test_misplaced_tokens_are_named(text: str, token: str) -> None:
    with pytest.raises(ProposalSyntaxError) as caught:
        parse_proposal(text)
    assert caught.value.token == token


@pytest.mark.parametrize(
    "text",
    ["", "aes256", "aes256-sha256", "aes256gcm16-x25519", "sha256-x25519", "prfsha256-x25519"],
)
def test_incomplete_proposals(text: str) -> None:
    with pytest.raises(ProposalError):
        parse_proposal(text)


def test_parse_proposals_list() -> None:
    proposals = parse_proposals("aes256gcm16-prfsha256-x25519, aes256-sha256-ecp256")
    assert [str(p) for p in proposals] == ["aes256gcm16-prfsha256-x25519", "aes256-sha256-ecp256"]
    with pytest.raises(ProposalError):
        parse_proposals(" , ")


def test_suite_needs_a_single_algorithm_of_each_type() -> None:
    assert parse_proposal("aes256-sha256-x25519").is_single
    multi = parse_proposal("aes256-aes128-sha256-x25519")
    assert not multi.is_single
    with pytest.raises(ProposalError):
        multi.suite()
    assert CryptoProposal.from_suite(parse_suite("aes256-sha256-x25519")) == parse_proposal(
        "aes256-sha256-x25519"
    )


def test_constructor_rules() -> None:
    prf = (get_prf(PrfId.HMAC_SHA2_256),)
    ke = (KE_ALGORITHMS[0],)
    with pytest.raises(ProposalError):
        CryptoProposal((AES_GCM_16_256,), (HMAC_SHA2_256_128,), prf, ke)
    with pytest.raises(ProposalError):
        CryptoProposal((AES_CBC_128,), (), prf, ke)
    with pytest.raises(ProposalError):
        CryptoProposal((AES_CBC_128, AES_GCM_16_256), (HMAC_SHA2_256_128,), prf, ke)
    with pytest.raises(ProposalError):
        CryptoProposal((AES_CBC_128, AES_CBC_128), (HMAC_SHA2_256_128,), prf, ke)


# -------------------------------------------------------------- wire form


def test_wire_form_of_a_cbc_proposal() -> None:
    wire = parse_proposal("aes256-sha256-ecp256").to_wire(number=2)
    assert wire == Proposal(
        2,
        ProtocolId.IKE,
        b"",
        (
            Transform(
                TransformType.ENCR,
                EncrId.AES_CBC,
                (TransformAttribute(TransformAttributeType.KEY_LENGTH, 256),),
            ),
            Transform(TransformType.PRF, PrfId.HMAC_SHA2_256),
            Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128),
            Transform(TransformType.KE, KeId.ECP_256),
        ),
    )


def test_wire_form_of_an_aead_proposal_has_no_integrity() -> None:
    wire = parse_proposal("aes128gcm16-prfsha384-x25519").to_wire()
    types = [t.transform_type for t in wire.transforms]
    assert types == [TransformType.ENCR, TransformType.PRF, TransformType.KE]
    assert wire.transforms[0].transform_id == EncrId.AES_GCM_16
    assert wire.transforms[0].key_length == 128


@pytest.mark.parametrize("text", CANONICAL)
def test_wire_round_trip_through_the_codec(text: str) -> None:
    proposal = parse_proposal(text)
    sa = SaPayload((proposal.to_wire(1, b""),))
    first, octets = encode((sa,))
    (decoded,) = decode_payloads(first, octets)
    assert isinstance(decoded, SaPayload)
    assert CryptoProposal.from_wire(decoded.proposals[0]) == proposal


def test_from_wire_is_strict() -> None:
    good = parse_proposal("aes256-sha256-x25519").to_wire()
    unknown_encr = Proposal(1, ProtocolId.IKE, b"", (Transform(1, 3), *good.transforms))
    with pytest.raises(ProposalError):
        CryptoProposal.from_wire(unknown_encr)
    esp = Proposal(1, ProtocolId.ESP, b"\x00" * 4, good.transforms)
    with pytest.raises(ProposalError):
        CryptoProposal.from_wire(esp)
    no_key_length = Proposal(
        1, ProtocolId.IKE, b"", (Transform(1, EncrId.AES_CBC), *good.transforms[1:])
    )
    with pytest.raises(ProposalError):
        CryptoProposal.from_wire(no_key_length)


# -------------------------------------------------------------- selection

OURS = parse_proposals("aes256gcm16-prfsha256-x25519-ecp256, aes256-sha256-x25519-modp2048")


def test_responder_picks_its_first_acceptable_proposal() -> None:
    offered = parse_proposals(
        "aes128-sha384-x25519, aes256-sha256-modp2048, aes256gcm16-prfsha256-ecp256"
    )
    chosen = select_proposal(OURS, offered)
    assert chosen is not None and str(chosen) == "aes256gcm16-prfsha256-ecp256"


def test_within_a_match_our_order_wins() -> None:
    offered = parse_proposals("aes128-aes256-sha384-sha256-modp2048-x25519")
    chosen = select_proposal(OURS, offered)
    assert chosen is not None and str(chosen) == "aes256-sha256-x25519"


def test_the_peers_ke_group_is_preferred_when_acceptable() -> None:
    offered = parse_proposals("aes256gcm16-prfsha256-x25519-ecp256")
    chosen = select_proposal(OURS, offered, prefer_ke=KeId.ECP_256)
    assert chosen is not None and str(chosen) == "aes256gcm16-prfsha256-ecp256"
    chosen = select_proposal(OURS, offered, prefer_ke=KeId.CURVE448)
    assert chosen is not None and str(chosen) == "aes256gcm16-prfsha256-x25519"


def test_no_common_proposal() -> None:
    offered = parse_proposals("aes128-sha512-x448")
    assert select_proposal(OURS, offered) is None
    assert select_offer(OURS, proposals_to_wire(offered)) is None


def test_select_offer_keeps_the_peers_proposal_number() -> None:
    offered = proposals_to_wire(parse_proposals("aes128-sha512-x448, aes256-sha256-modp2048"))
    chosen = select_offer(OURS, offered)
    assert chosen is not None
    assert chosen.number == 2
    assert str(chosen.proposal) == "aes256-sha256-modp2048"
    answer = chosen.to_wire()
    assert answer.number == 2 and CryptoProposal.from_wire(answer) == chosen.proposal
    assert chosen.suite == parse_suite("aes256-sha256-modp2048")


def test_select_offer_skips_unknown_transforms_and_unacceptable_proposals() -> None:
    # Proposal 1 has an unknown transform type (ESN is not for IKE): refused
    # whole (RFC 7296 §3.3.6). Proposal 2 has unknown IDs among known ones:
    # they are skipped and the rest can be chosen. Proposal 3 is ESP.
    base = parse_proposal("aes256gcm16-prfsha256-x25519").to_wire()
    odd = Proposal(1, ProtocolId.IKE, b"", (*base.transforms, Transform(5, 0)))
    mixed = Proposal(
        2,
        ProtocolId.IKE,
        b"",
        (
            Transform(TransformType.ENCR, EncrId.CHACHA20_POLY1305),
            Transform(TransformType.ENCR, EncrId.AES_GCM_16, (TransformAttribute(14, 192),)),
            *base.transforms,
            Transform(TransformType.KE, 2),
            Transform(TransformType.INTEG, IntegId.NONE),
        ),
    )
    esp = Proposal(3, ProtocolId.ESP, b"\x00" * 4, base.transforms)
    chosen = select_offer(OURS, (odd, mixed, esp))
    assert chosen is not None and chosen.number == 2
    assert str(chosen.proposal) == "aes256gcm16-prfsha256-x25519"
    assert select_offer(OURS, (odd, esp)) is None


def test_a_peer_proposal_missing_a_mandatory_type_is_refused() -> None:
    base = parse_proposal("aes256-sha256-x25519").to_wire()
    no_ke = Proposal(1, ProtocolId.IKE, b"", base.transforms[:-1])
    assert select_offer(OURS, (no_ke,)) is None
    no_integ = Proposal(
        1, ProtocolId.IKE, b"", tuple(t for t in base.transforms if t.transform_type != 3)
    )
    assert select_offer(OURS, (no_integ,)) is None


def test_initiator_checks_the_answer() -> None:
    ours = parse_proposals("aes256gcm16-prfsha256-x25519-ecp256, aes256-sha256-sha384-x25519")
    good = parse_proposal("aes256-sha384-x25519").to_wire(number=2)
    assert check_response(ours, good) == parse_suite("aes256-sha384-x25519")
    with pytest.raises(ProposalError):  # right algorithms, wrong number
        check_response(ours, parse_proposal("aes256-sha384-x25519").to_wire(number=1))
    with pytest.raises(ProposalError):  # not something we offered
        check_response(ours, parse_proposal("aes128-sha384-x25519").to_wire(number=2))
    with pytest.raises(ProposalError):  # a choice, not an answer
        check_response(ours, parse_proposal("aes256-sha256-sha384-x25519").to_wire(number=2))
    with pytest.raises(ProposalError):
        check_response(ours, parse_proposal("aes256-sha384-x25519").to_wire(number=3))


_TOKENS = {
    "encr": ["aes128", "aes192", "aes256"],
    "gcm": ["aes128gcm16", "aes256gcm16"],
    "integ": ["sha256", "sha384", "sha512"],
    "prf": ["prfsha256", "prfsha384", "prfsha512"],
    "ke": ["x25519", "x448", "ecp256", "ecp384", "ecp521", "modp2048"],
}


@st.composite
def proposal_strings(draw: st.DrawFn) -> str:
    def some(kind: str, minimum: int = 1) -> list[str]:
        return draw(st.lists(st.sampled_from(_TOKENS[kind]), min_size=minimum, unique=True))

    if draw(st.booleans()):
        tokens = some("gcm") + some("prf") + some("ke")
    else:
        tokens = some("encr") + some("integ") + some("prf", 0) + some("ke")
    return "-".join(tokens)


@settings(max_examples=80, deadline=None)
@given(ours=proposal_strings(), theirs=proposal_strings())
def test_selection_properties(ours: str, theirs: str) -> None:
    own, offered = parse_proposal(ours), parse_proposal(theirs)
    assert parse_proposal(str(own)) == own
    assert CryptoProposal.from_wire(own.to_wire()) == own
    chosen = select_proposal([own], [offered])
    if chosen is None:
        return
    suite = chosen.suite()
    assert own.accepts(suite) and offered.accepts(suite)
    assert check_response([offered], chosen.to_wire(1)) == suite
