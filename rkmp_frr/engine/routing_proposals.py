"""Routing-protocol SAs in SA payloads (DESIGN.md §2).

A routing SA proposal is an RFC 7296 §3.3 proposal whose Protocol ID is one
of the private-use routing IDs 201-207 and whose SPI carries a key ID.
Transforms: INTEG (type 3) names the routing protocol's MAC, the private
type 241 carries a per-protocol option, KE (type 4) present means PFS.
Each transform type is a list of alternatives; the responder picks one of
each (RFC 7296 §3.3.6).

This module also holds the per-protocol profile: SPI size, whether key IDs
are symmetric (chosen by the initiator, equal both ways) or per direction
(TCP-AO SendID/RecvID), which MACs the protocol has, the key-ID space, and
how long the master key taken from KEYMAT is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from rkmp_frr.engine.policy import ChildPolicy
from rkmp_frr.wire.constants import (
    ROUTING_SPI_SIZE,
    IntegId,
    KeId,
    ProtocolId,
    RkmpOptionId,
    TransformType,
)
from rkmp_frr.wire.sa import Proposal, SaPayload, Transform

DEFAULT_MASTER_KEY_LENGTH = 32


@dataclass(frozen=True, slots=True)
class RoutingProfile:
    """How one routing protocol's SA looks on the wire."""

    protocol: ProtocolId
    symmetric: bool  # one key ID, chosen by the initiator, used both ways
    integ: frozenset[IntegId]  # MACs the routing protocol can use
    options: frozenset[RkmpOptionId]
    key_ids: range  # key IDs we allocate (0 is kept free: "SPI 0 = all")
    short_keys: frozenset[IntegId] = frozenset()  # MACs with a 16-octet key field

    @property
    def spi_size(self) -> int:
        return ROUTING_SPI_SIZE[self.protocol]

    def master_key_length(self, integ: int) -> int:
        """Octets of KEYMAT used as the master key. Daemons take the key as
        hex text, so protocols whose keyed-MD5 key field holds 16 octets
        get 8 octets (16 hex digits); all others get 32 (DESIGN.md §2)."""
        return 8 if integ in self.short_keys else DEFAULT_MASTER_KEY_LENGTH


_FULL_HMACS = frozenset(
    {
        IntegId.RKMP_HMAC_SHA1,
        IntegId.RKMP_HMAC_SHA2_256,
        IntegId.RKMP_HMAC_SHA2_384,
        IntegId.RKMP_HMAC_SHA2_512,
    }
)
_ONE_OCTET = range(1, 0x100)
_TWO_OCTETS = range(1, 0x10000)

PROFILES: dict[ProtocolId, RoutingProfile] = {
    # RFC 5925/5926: SendID/RecvID per direction (draft-mahesh §6.1.1).
    ProtocolId.TCP_AO: RoutingProfile(
        ProtocolId.TCP_AO,
        symmetric=False,
        integ=frozenset({IntegId.HMAC_SHA1_96, IntegId.AES_CMAC_96, IntegId.HMAC_SHA2_256_128}),
        options=frozenset(RkmpOptionId),
        key_ids=_ONE_OCTET,
    ),
    # RFC 2385: no key ID on the wire; the SPI is each side's local index.
    ProtocolId.TCP_MD5: RoutingProfile(
        ProtocolId.TCP_MD5,
        symmetric=False,
        integ=frozenset({IntegId.RKMP_KEYED_MD5}),
        options=frozenset(),
        key_ids=_ONE_OCTET,
    ),
    # RFC 5709 / RFC 2328 D.3: Key ID, same both ways; MD5 key field 16 octets.
    ProtocolId.OSPFV2: RoutingProfile(
        ProtocolId.OSPFV2,
        symmetric=True,
        integ=_FULL_HMACS | {IntegId.RKMP_KEYED_MD5},
        options=frozenset(),
        key_ids=_ONE_OCTET,
        short_keys=frozenset({IntegId.RKMP_KEYED_MD5}),
    ),
    # RFC 7166: SA ID, same both ways.
    ProtocolId.OSPFV3: RoutingProfile(
        ProtocolId.OSPFV3,
        symmetric=True,
        integ=_FULL_HMACS,
        options=frozenset(),
        key_ids=_TWO_OCTETS,
    ),
    # RFC 5310: Key ID, same both ways.
    ProtocolId.ISIS: RoutingProfile(
        ProtocolId.ISIS,
        symmetric=True,
        integ=_FULL_HMACS,
        options=frozenset(),
        key_ids=_TWO_OCTETS,
    ),
    # RFC 5880 §6.7: Auth Key ID, same both ways; keyed MD5/SHA1 key fields
    # are 16/20 octets.
    ProtocolId.BFD: RoutingProfile(
        ProtocolId.BFD,
        symmetric=True,
        integ=frozenset({IntegId.RKMP_KEYED_MD5, IntegId.RKMP_HMAC_SHA1}),
        options=frozenset(),
        key_ids=_ONE_OCTET,
        short_keys=frozenset({IntegId.RKMP_KEYED_MD5, IntegId.RKMP_HMAC_SHA1}),
    ),
    # RFC 4552: one manual SA per link, its SPI the same both ways; SPIs
    # below 256 are reserved (RFC 4303 §2.1).
    ProtocolId.OSPFV3_IPSEC: RoutingProfile(
        ProtocolId.OSPFV3_IPSEC,
        symmetric=True,
        integ=frozenset({IntegId.HMAC_SHA1_96, IntegId.HMAC_SHA2_256_128}),
        options=frozenset(),
        key_ids=range(0x100, 0x1_0000_0000),
    ),
}


def profile(protocol: int) -> RoutingProfile | None:
    try:
        return PROFILES[ProtocolId(protocol)]
    except (ValueError, KeyError):
        return None


def key_id_space(policy: ChildPolicy) -> range:
    space = PROFILES[policy.protocol].key_ids
    if policy.key_ids is None:
        return space
    return range(max(space.start, policy.key_ids.start), min(space.stop, policy.key_ids.stop))


def key_id_to_spi(protocol: ProtocolId, key_id: int) -> bytes:
    return key_id.to_bytes(ROUTING_SPI_SIZE[protocol], "big")


def spi_to_key_id(spi: bytes) -> int:
    return int.from_bytes(spi, "big")


@dataclass(frozen=True, slots=True)
class ChildSelection:
    """One transform of each type, as chosen by the responder."""

    integ: IntegId
    option: RkmpOptionId | None
    pfs_group: KeId | None

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, integ: IntegId, option: RkmpOptionId | None, pfs_group: KeId | None) -> None:
        object.__setattr__(self, "integ", integ)
        object.__setattr__(self, "option", option)
        object.__setattr__(self, "pfs_group", pfs_group)


def build_child_proposal(
    policy: ChildPolicy, key_id: int, pfs_group: KeId | None, number: int = 1
) -> Proposal:
    """The initiator's offer. ``pfs_group`` (the group of the KE payload
    sent along) is listed first among the KE alternatives."""
    return Proposal(
        number,
        policy.protocol,
        key_id_to_spi(policy.protocol, key_id),
        _offer_transforms(policy, pfs_group),
    )


# Offer transforms by policy object and PFS group: they depend on nothing
# else, and policies are immutable and long-lived (the policy is kept in the
# entry, so an entry only answers for that very object).
_transforms: dict[tuple[int, int | None], tuple[ChildPolicy, tuple[Transform, ...]]] = {}


def _offer_transforms(policy: ChildPolicy, pfs_group: KeId | None) -> tuple[Transform, ...]:
    key = (id(policy), pfs_group)
    entry = _transforms.get(key)
    if entry is not None and entry[0] is policy:
        return entry[1]
    transforms = [Transform(TransformType.INTEG, integ) for integ in policy.integ]
    transforms += [Transform(TransformType.RKMP_OPTIONS, option) for option in policy.options]
    if pfs_group is not None:
        groups = [pfs_group] + [g for g in policy.pfs_groups if g != pfs_group]
        transforms += [Transform(TransformType.KE, group) for group in groups]
    if len(_transforms) >= 256:
        _transforms.clear()
    _transforms[key] = (policy, tuple(transforms))
    return _transforms[key][1]


def build_child_answer(
    protocol: ProtocolId, number: int, key_id: int, selection: ChildSelection
) -> Proposal:
    """The responder's answer: the offer's number, our key ID, one transform
    of each offered type."""
    transforms = [Transform(TransformType.INTEG, selection.integ)]
    if selection.option is not None:
        transforms.append(Transform(TransformType.RKMP_OPTIONS, selection.option))
    if selection.pfs_group is not None:
        transforms.append(Transform(TransformType.KE, selection.pfs_group))
    return Proposal(number, protocol, key_id_to_spi(protocol, key_id), tuple(transforms))


_KNOWN_TYPES = frozenset({TransformType.INTEG, TransformType.RKMP_OPTIONS, TransformType.KE})
# Enum members by value, without the (slow) enum call.
_INTEG_IDS = {int(member): member for member in IntegId}
_OPTION_IDS = {int(member): member for member in RkmpOptionId}
_KE_IDS = {int(member): member for member in KeId}


def _by_type(proposal: Proposal) -> dict[int, list[int]] | None:
    grouped: dict[int, list[int]] = {}
    for transform in proposal.transforms:
        if transform.transform_type not in _KNOWN_TYPES or transform.attributes:
            return None  # RFC 7296 §3.3.6: an unknown transform type rejects the proposal
        grouped.setdefault(transform.transform_type, []).append(transform.transform_id)
    return grouped


def _first_acceptable(offered: Iterable[int], accepted: Collection[int]) -> int | None:
    for value in offered:
        if value in accepted:
            return value
    return None


def _first_in_both(
    offered: Iterable[int], first: Collection[int], second: Collection[int]
) -> int | None:
    for value in offered:
        if value in first and value in second:
            return value
    return None


def select_child_proposal(
    sa: SaPayload, policy: ChildPolicy, supported_groups: Collection[int]
) -> tuple[Proposal, ChildSelection] | None:
    """The responder's choice among the offered proposals for
    ``policy.protocol``; None means NO_PROPOSAL_CHOSEN.

    INTEG: the first offered MAC that the policy and the protocol allow.
    Option: the first offered one the policy allows (or, with no options
    in the policy, that the protocol knows). KE: required when the policy
    lists PFS groups; an offered group is accepted if supported.
    """
    return select_child_proposal_from(sa.proposals, policy, supported_groups)


def select_child_proposal_from(
    proposals: Iterable[Proposal], policy: ChildPolicy, supported_groups: Collection[int]
) -> tuple[Proposal, ChildSelection] | None:
    """``select_child_proposal`` over proposals not (yet) in an SA payload."""
    prof = PROFILES[policy.protocol]
    for proposal in proposals:
        if proposal.protocol_id != policy.protocol:
            continue
        grouped = _by_type(proposal)
        if grouped is None:
            continue
        integ = _first_in_both(grouped.get(TransformType.INTEG, ()), policy.integ, prof.integ)
        if integ is None:
            continue
        option: int | None = None
        offered_options = grouped.get(TransformType.RKMP_OPTIONS)
        if offered_options:
            allowed = set(policy.options) if policy.options else prof.options
            option = _first_acceptable(offered_options, allowed)
            if option is None:
                continue
        group: int | None = None
        offered_groups = grouped.get(TransformType.KE)
        if offered_groups:
            wanted: Collection[int] = policy.pfs_groups or offered_groups
            group = _first_acceptable(offered_groups, set(wanted) & set(supported_groups))
            if group is None:
                if KeId.NONE in offered_groups and not policy.pfs_groups:
                    group = None
                else:
                    continue
            elif group == KeId.NONE:
                group = None
        elif policy.pfs_groups:
            continue
        selection = ChildSelection(
            _INTEG_IDS[integ],
            _OPTION_IDS[option] if option is not None else None,
            _KE_IDS[group] if group is not None else None,
        )
        return proposal, selection
    return None


def check_child_answer(sa: SaPayload, offer: Proposal) -> tuple[int, ChildSelection] | None:
    """Validate the responder's SA payload against our offer: one proposal,
    our protocol, one of our transforms of each offered type and nothing
    else. Returns the responder's key ID and the selection."""
    if len(sa.proposals) != 1:
        return None
    answer = sa.proposals[0]
    if answer.protocol_id != offer.protocol_id or answer.number != offer.number:
        return None
    grouped = _by_type(answer)
    offered = _by_type(offer)
    if grouped is None or offered is None:
        return None
    if any(len(ids) != 1 or t not in offered for t, ids in grouped.items()):
        return None
    if any(ids[0] not in offered[t] for t, ids in grouped.items()):
        return None
    if TransformType.INTEG not in grouped:
        return None
    if TransformType.RKMP_OPTIONS in offered and TransformType.RKMP_OPTIONS not in grouped:
        return None
    group = grouped.get(TransformType.KE, [None])[0]
    if TransformType.KE in offered and group is None and KeId.NONE not in offered[TransformType.KE]:
        return None
    option = grouped.get(TransformType.RKMP_OPTIONS, [None])[0]
    # Every ID here is one of our own offer's, so a known member.
    selection = ChildSelection(
        _INTEG_IDS[grouped[TransformType.INTEG][0]],
        _OPTION_IDS[option] if option is not None else None,
        _KE_IDS[group] if group is not None and group != KeId.NONE else None,
    )
    return spi_to_key_id(answer.spi), selection


def master_key(keymat: bytes, protocol: ProtocolId, integ: int) -> bytes:
    """The routing protocol's master key: the first octets of KEYMAT."""
    return keymat[: PROFILES[protocol].master_key_length(integ)]


def keymat_length(protocol: ProtocolId, integ: int) -> int:
    return PROFILES[protocol].master_key_length(integ)
