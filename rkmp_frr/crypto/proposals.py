"""RKMP SA proposals: strongSwan's proposal syntax, the SA payload form, and
proposal selection (RFC 7296 §2.7, §3.3).

Syntax, as in strongSwan's ``proposals =``: tokens joined by ``-``, in the
order encryption, integrity, PRF, key exchange, several of one type allowed:

    aes256gcm16-prfsha256-x25519
    aes256-sha256-ecp256              (sha256 = integrity AND, absent a PRF
                                       token, prfsha256)
    aes256-aes128-sha256-x25519-ecp256

Rules (strongSwan's, and RFC 5282 §8): an AEAD cipher names its PRF and takes
no integrity algorithm; AEAD and non-AEAD ciphers do not share a proposal; a
key exchange method is mandatory. Only algorithms this project implements
are accepted; any other token is a ``ProposalError`` that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from rkmp_frr.crypto.dh import get_ke_group
from rkmp_frr.crypto.errors import CryptoError, ProposalError
from rkmp_frr.crypto.prf import Prf
from rkmp_frr.crypto.suites import (
    AES_CBC_128,
    AES_CBC_192,
    AES_CBC_256,
    AES_GCM_16_128,
    AES_GCM_16_256,
    HMAC_SHA2_256_128,
    HMAC_SHA2_384_192,
    HMAC_SHA2_512_256,
    PRF_FOR_INTEG,
    CryptoSuite,
    EncrAlgorithm,
    IntegAlgorithm,
    KeAlgorithm,
    encr_algorithm,
    integ_algorithm,
    ke_algorithm,
    prf_algorithm,
)
from rkmp_frr.wire import Proposal, Transform, TransformAttribute
from rkmp_frr.wire.constants import (
    IntegId,
    KeId,
    PrfId,
    ProtocolId,
    TransformAttributeType,
    TransformType,
)

_T = TypeVar("_T")


class ProposalSyntaxError(ProposalError):
    """A proposal string has a token that is unknown or out of place."""

    def __init__(self, token: str, reason: str) -> None:
        super().__init__(f"proposal token {token!r}: {reason}")
        self.token = token


class _Kind(IntEnum):
    """Token kinds, in the order they appear in a proposal string."""

    ENCR = 0
    INTEG = 1
    PRF = 2
    KE = 3

    @property
    def label(self) -> str:
        return ("encryption", "integrity", "PRF", "key exchange")[self]


# Token -> algorithm. The first token listed for an algorithm is the one
# written back by ``str(proposal)``; the others are strongSwan aliases.
_ENCR_TOKENS: dict[str, EncrAlgorithm] = {
    "aes128": AES_CBC_128,
    "aes192": AES_CBC_192,
    "aes256": AES_CBC_256,
    "aes128gcm16": AES_GCM_16_128,
    "aes128gcm128": AES_GCM_16_128,
    "aes256gcm16": AES_GCM_16_256,
    "aes256gcm128": AES_GCM_16_256,
}
_INTEG_TOKENS: dict[str, IntegAlgorithm] = {
    "sha256": HMAC_SHA2_256_128,
    "sha2_256": HMAC_SHA2_256_128,
    "sha384": HMAC_SHA2_384_192,
    "sha2_384": HMAC_SHA2_384_192,
    "sha512": HMAC_SHA2_512_256,
    "sha2_512": HMAC_SHA2_512_256,
}
_PRF_TOKENS: dict[str, PrfId] = {
    "prfsha256": PrfId.HMAC_SHA2_256,
    "prfsha384": PrfId.HMAC_SHA2_384,
    "prfsha512": PrfId.HMAC_SHA2_512,
}
_KE_TOKENS: dict[str, KeId] = {
    "x25519": KeId.CURVE25519,
    "curve25519": KeId.CURVE25519,
    "x448": KeId.CURVE448,
    "curve448": KeId.CURVE448,
    "ecp256": KeId.ECP_256,
    "ecp384": KeId.ECP_384,
    "ecp521": KeId.ECP_521,
    "modp2048": KeId.MODP_2048,
}


def _first_token(table: Mapping[str, object], value: object) -> str:
    return next(token for token, item in table.items() if item == value)


@dataclass(frozen=True, slots=True)
class CryptoProposal:
    """One proposal for an RKMP (IKE) SA: the acceptable algorithms of each
    transform type, in preference order. A proposal with exactly one of each
    is a negotiated suite (``suite()``)."""

    encr: tuple[EncrAlgorithm, ...]
    integ: tuple[IntegAlgorithm, ...]
    prf: tuple[Prf, ...]
    ke: tuple[KeAlgorithm, ...]

    def __post_init__(self) -> None:
        for kind, items in (
            ("encryption", self.encr),
            ("integrity", self.integ),
            ("PRF", self.prf),
            ("key exchange", self.ke),
        ):
            if len(set(items)) != len(items):
                raise ProposalError(f"repeated {kind} algorithm in a proposal")
        if not self.encr:
            raise ProposalError("a proposal needs an encryption algorithm")
        if not self.prf:
            raise ProposalError("a proposal needs a PRF")
        if not self.ke:
            raise ProposalError("a proposal needs a key exchange method")
        aead = {algorithm.aead for algorithm in self.encr}
        if len(aead) > 1:
            raise ProposalError("AEAD and non-AEAD ciphers cannot share a proposal (RFC 5282 §8)")
        if self.aead and self.integ:
            raise ProposalError("an AEAD cipher takes no integrity algorithm (RFC 5282 §8)")
        if not self.aead and not self.integ:
            raise ProposalError("a non-AEAD cipher needs an integrity algorithm")

    @property
    def aead(self) -> bool:
        return self.encr[0].aead

    @property
    def is_single(self) -> bool:
        """Exactly one algorithm of each type, as in an accepted proposal."""
        return (
            len(self.encr) == 1
            and len(self.integ) <= 1
            and len(self.prf) == 1
            and len(self.ke) == 1
        )

    def suite(self) -> CryptoSuite:
        """The negotiated suite; ProposalError unless ``is_single``."""
        if not self.is_single:
            raise ProposalError(f"{self} offers a choice, not one suite")
        return CryptoSuite(
            self.encr[0], self.integ[0] if self.integ else None, self.prf[0], self.ke[0]
        )

    @classmethod
    def from_suite(cls, suite: CryptoSuite) -> CryptoProposal:
        integ = () if suite.integ is None else (suite.integ,)
        return cls((suite.encr,), integ, (suite.prf,), (suite.ke,))

    def accepts(self, suite: CryptoSuite) -> bool:
        """Whether every algorithm of ``suite`` is one this proposal offers."""
        integ_ok = suite.integ is None if self.aead else suite.integ in self.integ
        return (
            suite.encr in self.encr and integ_ok and suite.prf in self.prf and suite.ke in self.ke
        )

    def __str__(self) -> str:
        tokens = [_first_token(_ENCR_TOKENS, algorithm) for algorithm in self.encr]
        tokens += [_first_token(_INTEG_TOKENS, algorithm) for algorithm in self.integ]
        if self.prf != _implied_prfs(self.integ):
            tokens += [_first_token(_PRF_TOKENS, prf.prf_id) for prf in self.prf]
        tokens += [_first_token(_KE_TOKENS, algorithm.ke_id) for algorithm in self.ke]
        return "-".join(tokens)

    # ------------------------------------------------------------ wire form

    def to_wire(self, number: int = 1, spi: bytes = b"") -> Proposal:
        """The SA payload proposal (RFC 7296 §3.3.1): protocol IKE, AES with
        its Key Length attribute (§3.3.5); an AEAD proposal has no integrity
        transform (RFC 5282 §8)."""
        transforms = [
            Transform(
                TransformType.ENCR,
                algorithm.encr_id,
                (TransformAttribute(TransformAttributeType.KEY_LENGTH, algorithm.key_bits),),
            )
            for algorithm in self.encr
        ]
        transforms += [Transform(TransformType.PRF, prf.prf_id) for prf in self.prf]
        transforms += [Transform(TransformType.INTEG, integ.integ_id) for integ in self.integ]
        transforms += [Transform(TransformType.KE, ke.ke_id) for ke in self.ke]
        return Proposal(number, ProtocolId.IKE, spi, tuple(transforms))

    @classmethod
    def from_wire(cls, proposal: Proposal) -> CryptoProposal:
        """Strict conversion: every transform must be one we implement
        (ProposalError otherwise). For a peer's offer use ``select_offer``,
        which skips what it does not know as RFC 7296 §3.3.6 asks."""
        offer = _Offer.from_wire(proposal, strict=True)
        assert offer is not None
        return cls(offer.encr, offer.integ, offer.prf, offer.ke)


def _implied_prfs(integ: Iterable[IntegAlgorithm]) -> tuple[Prf, ...]:
    """strongSwan: a proposal without PRF tokens uses the PRF of each
    integrity algorithm's hash, in order."""
    prfs: list[Prf] = []
    for algorithm in integ:
        prf = prf_algorithm(PRF_FOR_INTEG[algorithm.integ_id])
        if prf not in prfs:
            prfs.append(prf)
    return tuple(prfs)


# ---------------------------------------------------------------- parsing


def _lookup(token: str) -> tuple[_Kind, object]:
    key = token.lower()
    if key in _ENCR_TOKENS:
        return _Kind.ENCR, _ENCR_TOKENS[key]
    if key in _INTEG_TOKENS:
        return _Kind.INTEG, _INTEG_TOKENS[key]
    if key in _PRF_TOKENS:
        return _Kind.PRF, prf_algorithm(_PRF_TOKENS[key])
    if key in _KE_TOKENS:
        ke_id = _KE_TOKENS[key]
        try:
            get_ke_group(ke_id)
        except CryptoError:
            raise ProposalSyntaxError(
                token, "not available with this cryptography library"
            ) from None
        return _Kind.KE, ke_algorithm(ke_id)
    raise ProposalSyntaxError(token, "unknown or unsupported algorithm")


def parse_proposal(text: str) -> CryptoProposal:
    """Parse one strongSwan-style proposal such as
    ``aes256gcm16-prfsha256-x25519``."""
    parsed: list[tuple[str, _Kind, object]] = []
    stage = _Kind.ENCR
    for token in text.strip().split("-"):
        if not token:
            raise ProposalSyntaxError(token, f"empty token in {text!r}")
        kind, item = _lookup(token)
        if kind < stage:
            raise ProposalSyntaxError(
                token,
                f"misplaced: {kind.label} algorithms go before {stage.label} ones"
                " (order: encryption, integrity, PRF, key exchange)",
            )
        if any(item == seen for _, _, seen in parsed):
            raise ProposalSyntaxError(token, "repeated")
        stage = kind
        parsed.append((token, kind, item))
    encr = tuple(item for _, _, item in parsed if isinstance(item, EncrAlgorithm))
    integ = tuple(item for _, _, item in parsed if isinstance(item, IntegAlgorithm))
    prf = tuple(item for _, _, item in parsed if isinstance(item, Prf))
    ke = tuple(item for _, _, item in parsed if isinstance(item, KeAlgorithm))
    if encr:
        for token, _, item in parsed:
            if isinstance(item, EncrAlgorithm) and item.aead != encr[0].aead:
                raise ProposalSyntaxError(
                    token, "AEAD and non-AEAD ciphers cannot share a proposal"
                )
            if isinstance(item, IntegAlgorithm) and encr[0].aead:
                raise ProposalSyntaxError(token, "an AEAD cipher takes no integrity algorithm")
        if encr[0].aead and not prf:
            raise ProposalError(f"{text!r}: an AEAD cipher needs a PRF token such as prfsha256")
    if not prf:
        prf = _implied_prfs(integ)
    try:
        return CryptoProposal(encr, integ, prf, ke)
    except ProposalError as error:
        raise ProposalError(f"{text!r}: {error}") from None


def parse_proposals(text: str) -> tuple[CryptoProposal, ...]:
    """A comma-separated list of proposals, in preference order."""
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise ProposalError("no proposal given")
    return tuple(parse_proposal(part) for part in parts)


def parse_suite(text: str) -> CryptoSuite:
    """A proposal string naming exactly one algorithm of each type."""
    return parse_proposal(text).suite()


# -------------------------------------------------------------- selection


@dataclass(frozen=True, slots=True)
class _Offer:
    """The algorithms of one peer proposal that we know."""

    encr: tuple[EncrAlgorithm, ...]
    integ: tuple[IntegAlgorithm, ...]
    prf: tuple[Prf, ...]
    ke: tuple[KeAlgorithm, ...]

    @classmethod
    def from_wire(cls, proposal: Proposal, strict: bool) -> _Offer | None:
        """Known transforms of ``proposal``. Not strict: unknown transform IDs
        are skipped, and a proposal with an unknown transform type or
        without a mandatory one is unacceptable (None) (RFC 7296 §3.3.6)."""

        def reject(reason: str) -> None:
            if strict:
                raise ProposalError(f"proposal {proposal.number}: {reason}")

        if proposal.protocol_id != ProtocolId.IKE:
            reject(f"protocol {proposal.protocol_id} is not IKE")
            return None
        encr: list[EncrAlgorithm] = []
        integ: list[IntegAlgorithm] = []
        prf: list[Prf] = []
        ke: list[KeAlgorithm] = []
        for transform in proposal.transforms:
            kind, tid = transform.transform_type, transform.transform_id
            try:
                if kind == TransformType.ENCR:
                    encr.append(encr_algorithm(tid, transform.key_length))
                elif kind == TransformType.PRF:
                    prf.append(prf_algorithm(tid))
                elif kind == TransformType.INTEG:
                    if tid != IntegId.NONE:  # NONE may stand beside an AEAD cipher
                        integ.append(integ_algorithm(tid))
                elif kind == TransformType.KE:
                    get_ke_group(tid)
                    ke.append(ke_algorithm(tid))
                else:
                    reject(f"transform type {kind} has no place in an IKE proposal")
                    return None
            except CryptoError as error:
                reject(str(error))
        if not (encr and prf and ke):
            reject("a mandatory transform type is missing")
            return None
        # A peer may repeat a transform; keep its first position.
        return cls(
            tuple(dict.fromkeys(encr)),
            tuple(dict.fromkeys(integ)),
            tuple(dict.fromkeys(prf)),
            tuple(dict.fromkeys(ke)),
        )


def _pick(ours: Sequence[_T], theirs: Sequence[_T], preferred: _T | None = None) -> _T | None:
    """Our most preferred item that they also offer; ``preferred`` first if
    both sides accept it."""
    if preferred is not None and preferred in ours and preferred in theirs:
        return preferred
    return next((item for item in ours if item in theirs), None)


def _match(ours: CryptoProposal, theirs: _Offer, prefer_ke: int | None) -> CryptoProposal | None:
    encr = _pick(ours.encr, theirs.encr)
    if encr is None:
        return None
    integ: tuple[IntegAlgorithm, ...] = ()
    if not encr.aead:
        chosen_integ = _pick(ours.integ, theirs.integ)
        if chosen_integ is None:
            return None
        integ = (chosen_integ,)
    prf = _pick(ours.prf, theirs.prf)
    preferred_ke = next((ke for ke in ours.ke if ke.ke_id == prefer_ke), None)
    ke = _pick(ours.ke, theirs.ke, preferred_ke)
    if prf is None or ke is None:
        return None
    return CryptoProposal((encr,), integ, (prf,), (ke,))


def select_proposal(
    ours: Sequence[CryptoProposal],
    offered: Sequence[CryptoProposal],
    prefer_ke: int | None = None,
) -> CryptoProposal | None:
    """The responder's choice (RFC 7296 §2.7): the first of our proposals
    with something in common with one of the peer's, as a single-algorithm
    proposal, or None (NO_PROPOSAL_CHOSEN). ``prefer_ke`` (the group of the
    peer's KE payload) wins within a match so that no INVALID_KE_PAYLOAD
    round trip is needed."""
    offers = [_Offer(p.encr, p.integ, p.prf, p.ke) for p in offered]
    for own in ours:
        for offer in offers:
            chosen = _match(own, offer, prefer_ke)
            if chosen is not None:
                return chosen
    return None


@dataclass(frozen=True, slots=True)
class ChosenProposal:
    """The proposal a responder accepted: the peer's proposal number (which
    the answer must repeat, RFC 7296 §3.3.1) and the single-algorithm suite."""

    number: int
    proposal: CryptoProposal

    @property
    def suite(self) -> CryptoSuite:
        return self.proposal.suite()

    def to_wire(self, spi: bytes = b"") -> Proposal:
        """The SA payload proposal for the response."""
        return self.proposal.to_wire(self.number, spi)


def select_offer(
    ours: Sequence[CryptoProposal],
    offered: Sequence[Proposal],
    prefer_ke: int | None = None,
) -> ChosenProposal | None:
    """``select_proposal`` over a peer's SA payload proposals. Proposals for
    other protocols, with transform types we do not understand, or left
    without a mandatory type once unknown IDs are skipped, are unacceptable
    (RFC 7296 §3.3.6); the rest take part."""
    offers = [(p.number, _Offer.from_wire(p, strict=False)) for p in offered]
    for own in ours:
        for number, offer in offers:
            if offer is None:
                continue
            chosen = _match(own, offer, prefer_ke)
            if chosen is not None:
                return ChosenProposal(number, chosen)
    return None


def proposals_to_wire(ours: Sequence[CryptoProposal], spi: bytes = b"") -> tuple[Proposal, ...]:
    """Our offer for an SA payload, numbered 1, 2, ... (RFC 7296 §3.3.1)."""
    return tuple(proposal.to_wire(number, spi) for number, proposal in enumerate(ours, 1))


def check_response(ours: Sequence[CryptoProposal], answer: Proposal) -> CryptoSuite:
    """The initiator's check of the responder's SA (RFC 7296 §2.7): a single
    proposal, numbered as the one of ours it accepts, with one algorithm of
    each type taken from it. ProposalError otherwise."""
    proposal = CryptoProposal.from_wire(answer)
    suite = proposal.suite()
    if not 1 <= answer.number <= len(ours):
        raise ProposalError(f"answer names proposal {answer.number}, we made {len(ours)}")
    if not ours[answer.number - 1].accepts(suite):
        raise ProposalError(f"answer {proposal} is not part of our proposal {answer.number}")
    return suite
