"""Names an operator writes for routing protocols, their MACs and PFS
groups, in the configuration and on the ``rkmpctl`` command line.

Protocol names are this project's (``tcp-ao``, ``ospfv2``...; RFC 7210 §8.1
leaves the registry empty). MAC names are the lower-case RFC 7210 AlgIDs of
each protocol's key profile (``rkmp_frr.profiles``), plus a few aliases;
which MACs a protocol may use is the engine's table
(``rkmp_frr.engine.routing_proposals.PROFILES``), not repeated here. PFS
group names are the proposal-string tokens (``x25519``...), parsed by
``rkmp_frr.crypto``.
"""

from __future__ import annotations

from collections.abc import Mapping

from rkmp_frr.crypto import CryptoProposal, ProposalError, available_ke_ids, parse_proposal
from rkmp_frr.crypto.prf import get_prf
from rkmp_frr.crypto.suites import AES_GCM_16_256, ke_algorithm
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.wire.constants import IntegId, KeId, PrfId, ProtocolId, RkmpOptionId

PROTOCOL_IDS: Mapping[str, ProtocolId] = {
    "tcp-ao": ProtocolId.TCP_AO,
    "tcp-md5": ProtocolId.TCP_MD5,
    "ospfv2": ProtocolId.OSPFV2,
    "ospfv3": ProtocolId.OSPFV3,
    "isis": ProtocolId.ISIS,
    "bfd": ProtocolId.BFD,
    "ospfv3-ipsec": ProtocolId.OSPFV3_IPSEC,
}
_PROTOCOL_NAMES = {protocol: name for name, protocol in PROTOCOL_IDS.items()}


def protocol_id(name: str) -> ProtocolId:
    """ValueError (listing the known names) if ``name`` is not one."""
    try:
        return PROTOCOL_IDS[name.lower()]
    except KeyError:
        known = ", ".join(PROTOCOL_IDS)
        raise ValueError(f"unknown protocol {name!r} (known: {known})") from None


def protocol_name(protocol: ProtocolId) -> str:
    return _PROTOCOL_NAMES[protocol]


# MACs of protocols without a key profile (OSPFv3 over IPsec uses IKEv2's
# own AUTH transforms, RFC 4552).
_IKE_INTEG_NAMES: Mapping[IntegId, str] = {
    IntegId.HMAC_SHA1_96: "hmac-sha-1-96",
    IntegId.HMAC_SHA2_256_128: "hmac-sha-256-128",
}

# Other spellings, tried when a protocol has no MAC under the name itself.
_ALIASES: Mapping[str, str] = {
    "md5": "keyed-md5",
    "keyed-md5": "md5",
    "keyed-sha1": "keyed-sha-1",
    "hmac-sha-1": "hmac-sha-1-96",
    "hmac-sha-256": "hmac-sha-256-128",
    "aes-128-cmac": "aes-128-cmac-96",
}


def _algorithm_names(protocol: ProtocolId) -> dict[str, IntegId]:
    key_profile = KEY_PROFILES.get(protocol)
    allowed = PROFILES[protocol].integ
    if key_profile is not None:
        return {
            algorithm.alg_id.lower(): integ
            for integ, algorithm in key_profile.algorithms.items()
            if integ in allowed
        }
    return {name: integ for integ, name in _IKE_INTEG_NAMES.items() if integ in allowed}


_ALGORITHMS: Mapping[ProtocolId, dict[str, IntegId]] = {
    protocol: _algorithm_names(protocol) for protocol in PROTOCOL_IDS.values()
}


def algorithm_names(protocol: ProtocolId) -> tuple[str, ...]:
    """The canonical MAC names ``protocol`` accepts."""
    return tuple(_ALGORITHMS[protocol])


def algorithm_id(protocol: ProtocolId, name: str) -> IntegId:
    """The INTEG transform ``name`` means for ``protocol``; ValueError
    (listing the protocol's MACs) if it has no such MAC."""
    table = _ALGORITHMS[protocol]
    wanted = name.lower()
    for candidate in (wanted, _ALIASES.get(wanted, wanted)):
        if candidate in table:
            return table[candidate]
    known = ", ".join(table)
    raise ValueError(f"{protocol_name(protocol)} has no algorithm {name!r} (known: {known})")


def algorithm_name(protocol: ProtocolId, integ: int) -> str:
    """The canonical name of a MAC, or ``integ-<number>`` if unknown."""
    for name, value in _ALGORITHMS.get(protocol, {}).items():
        if value == integ:
            return name
    return f"integ-{integ}"


def _ke_token(ke_id: KeId) -> str:
    # The token a proposal string writes back for this group.
    proposal = CryptoProposal(
        (AES_GCM_16_256,), (), (get_prf(PrfId.HMAC_SHA2_256),), (ke_algorithm(ke_id),)
    )
    return str(proposal).rsplit("-", 1)[-1]


_KE_NAMES: Mapping[KeId, str] = {ke_id: _ke_token(ke_id) for ke_id in available_ke_ids()}


def ke_group_id(name: str) -> KeId:
    """A PFS group given as a proposal token (``x25519``, ``ecp256``...)."""
    try:
        proposal = parse_proposal(f"aes256gcm16-prfsha256-{name}")
    except ProposalError:
        proposal = None
    if proposal is None or len(proposal.ke) != 1 or "-" in name:
        known = ", ".join(_KE_NAMES.values())
        raise ValueError(f"unknown key exchange group {name!r} (known: {known})")
    ke_id = proposal.ke[0].ke_id
    if ke_id not in _KE_NAMES:
        raise ValueError(f"key exchange group {name!r} is not available here")
    return ke_id


def ke_group_name(ke_id: int) -> str:
    try:
        return _KE_NAMES[KeId(ke_id)]
    except (ValueError, KeyError):
        return f"ke-{ke_id}"


# TCP-AO's option (RFC 5925 §3.1): whether TCP options are in the MAC.
TCP_OPTIONS: Mapping[str, RkmpOptionId] = {
    "include": RkmpOptionId.TCP_AO_INCLUDE_OPTIONS,
    "exclude": RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS,
}


def option_name(option: int) -> str:
    """``tcp-options=include`` and the like; ``option-<number>`` if unknown."""
    for name, value in TCP_OPTIONS.items():
        if value == option:
            return f"tcp-options={name}"
    return f"option-{option}"
