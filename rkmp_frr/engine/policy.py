"""Policy: what the engine is allowed and asked to negotiate.

Plain frozen dataclasses, built by the daemon's configuration loader (or by
tests). Defaults follow strongSwan's where the brief names them:
retransmission 4 s x 1.8^n with 5 retransmissions (~165 s in all), RKMP SA
rekey every 4 h with 10 % random jitter, COOKIEs beyond 30 half-open SAs in
all or 3 per source address, half-open timeout 30 s.

Identities are text, as an operator writes them (an IP address, an FQDN,
``user@fqdn`` or an X.500 DN); ``rkmp_frr.engine.identity`` maps them to ID
payloads.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from rkmp_frr.crypto.proposals import CryptoProposal, parse_proposal
from rkmp_frr.wire import Identity, IdPayload
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId, RkmpOptionId

DEFAULT_RKMP_PROPOSALS = ("aes256gcm16-prfsha256-x25519",)


@lru_cache(maxsize=1024)
def parsed_proposals(texts: tuple[str, ...]) -> tuple[CryptoProposal, ...]:
    """Proposal strings parsed once per process (they are immutable)."""
    return tuple(parse_proposal(text) for text in texts)


@lru_cache(maxsize=4096)
def identity_of(text: str) -> Identity:
    """An identity's ID payload form, parsed once per process."""
    return Identity.from_text(text)


@lru_cache(maxsize=4096)
def id_payload_of(text: str, initiator: bool) -> IdPayload:
    """IDi (``initiator``) or IDr for an identity, built once per process
    (payloads are immutable)."""
    return identity_of(text).to_payload(initiator)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=1024)
def _network_of(address: str) -> Network | None:
    """A peer policy's address as a network, parsed once per process (the
    objects are immutable); None for text that is not an address or prefix."""
    try:
        return ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _address_of(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _ipv4_value(host: str) -> int | None:
    """A dotted-quad IPv4 address as an integer, None for anything else.
    inet_pton takes exactly what ``ipaddress.IPv4Address`` takes (four
    decimal octets <= 255 without leading zeros), in C: a new peer's address
    is matched without building an address object."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, host), "big")
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None


class OnFailure(Enum):
    """What a failed RKMP SA does to its child SAs (DESIGN.md §2)."""

    REVOKE = "revoke"  # RP_revokeSA: withdraw the keys now
    KEEP = "keep"  # keep the keys until their hard lifetime


@dataclass(frozen=True, slots=True)
class RetransmitPolicy:
    """RFC 7296 §2.1/§2.4 retransmission, strongSwan's schedule: the n-th
    wait is ``timeout * base**n`` (optionally capped at ``limit`` and
    shortened by up to ``jitter`` of itself); after ``tries``
    retransmissions and one last wait the exchange fails."""

    timeout: float = 4.0
    base: float = 1.8
    tries: int = 5
    jitter: float = 0.0  # fraction in [0, 1)
    limit: float | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.base < 1 or self.tries < 0 or not 0 <= self.jitter < 1:
            raise ValueError("invalid retransmission policy")

    def interval(self, attempt: int) -> float:
        """The nominal wait after transmission number ``attempt`` (0 = first)."""
        wait = self.timeout * self.base**attempt
        return min(wait, self.limit) if self.limit is not None else wait

    @property
    def budget(self) -> float:
        """Time from the first transmission until the exchange is given up
        (the upper bound when jitter is used)."""
        return sum(self.interval(n) for n in range(self.tries + 1))


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Soft and hard lifetime of an SA, in seconds.

    Rekeying starts at ``rekey_time - uniform(0, jitter)`` so that both
    peers do not start at the same moment; the SA is closed at
    ``rekey_time + over_time`` if it was not rekeyed by then.
    """

    rekey_time: float
    jitter: float
    over_time: float

    def __post_init__(self) -> None:
        if self.rekey_time <= 0 or not 0 <= self.jitter < self.rekey_time or self.over_time < 0:
            raise ValueError("invalid lifetime")

    @property
    def hard_time(self) -> float:
        return self.rekey_time + self.over_time


RKMP_SA_LIFETIME = Lifetime(rekey_time=4 * 3600.0, jitter=1440.0, over_time=1440.0)
CHILD_SA_LIFETIME = Lifetime(rekey_time=3600.0, jitter=360.0, over_time=360.0)


@dataclass(frozen=True, slots=True)
class PskCredential:
    """A pre-shared key (RFC 7296 §2.15)."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("empty pre-shared key")


@dataclass(frozen=True, slots=True)
class CertCredential:
    """A private key and its certificate chain (DER, end entity first)."""

    private_key: Any = field(repr=False)  # a cryptography private key
    chain: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.chain:
            raise ValueError("certificate credential without a certificate")


@dataclass(frozen=True, slots=True)
class CertTrust:
    """How a peer's certificate is checked: these DER trust anchors."""

    anchors: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.anchors:
            raise ValueError("certificate trust without anchors")


LocalCredential = PskCredential | CertCredential
RemoteAuth = PskCredential | CertTrust


@dataclass(frozen=True, slots=True)
class ChildPolicy:
    """What to propose and accept for one routing protocol's SAs.

    ``integ`` and ``options`` are alternatives in order of preference;
    ``pfs_groups`` non-empty asks for (and, as responder, requires) a KE
    transform. ``key_ids`` narrows the protocol's key-ID space.
    """

    protocol: ProtocolId
    integ: tuple[IntegId, ...]
    options: tuple[RkmpOptionId, ...] = ()
    pfs_groups: tuple[KeId, ...] = ()
    lifetime: Lifetime = CHILD_SA_LIFETIME
    key_ids: range | None = None

    def __post_init__(self) -> None:
        if not self.integ:
            raise ValueError(f"child policy for {self.protocol.name} has no INTEG transform")


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """One neighbour, or a prefix of neighbours."""

    name: str
    address: str  # an address or a prefix ("192.0.2.0/30"); other text matches exactly
    remote_identity: str | None = None  # None: any identity that authenticates
    local_identity: str | None = None  # None: LocalConfig.identity
    remote_auth: RemoteAuth | None = None  # None: the local PSK, both ways
    local_credential: LocalCredential | None = None  # None: LocalConfig.credential
    rkmp_proposals: tuple[str, ...] = DEFAULT_RKMP_PROPOSALS
    children: tuple[ChildPolicy, ...] = ()
    rkmp_lifetime: Lifetime = RKMP_SA_LIFETIME
    liveness_interval: float | None = 60.0  # idle time before a liveness check
    on_failure: OnFailure = OnFailure.REVOKE
    retransmit: RetransmitPolicy | None = None  # None: LocalConfig.retransmit
    _network: Network | None = field(default=None, init=False, repr=False, compare=False)
    # An IPv4 prefix as (network, mask) integers, for ``matches``.
    _ipv4: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rkmp_proposals:
            raise ValueError(f"peer {self.name} has no RKMP proposal")
        parsed_proposals(self.rkmp_proposals)  # ProposalError if it names something unknown
        for identity in (self.remote_identity, self.local_identity):
            if identity is not None:
                identity_of(identity)  # ValueError if it cannot be an ID payload
        protocols = [c.protocol for c in self.children]
        if len(set(protocols)) != len(protocols):
            raise ValueError(f"peer {self.name} has two child policies for one protocol")
        network = _network_of(self.address)
        object.__setattr__(self, "_network", network)
        if isinstance(network, ipaddress.IPv4Network):
            ipv4 = (int(network.network_address), int(network.netmask))
            object.__setattr__(self, "_ipv4", ipv4)

    def matches(self, host: str) -> bool:
        network = self._network
        if network is None:
            return host == self.address
        ipv4 = self._ipv4
        if ipv4 is not None:
            # An IPv4 prefix matches only IPv4 addresses (not ::ffff:a.b.c.d).
            value = _ipv4_value(host)
            return value is not None and value & ipv4[1] == ipv4[0]
        address = _address_of(host)
        return address is not None and address in network

    def child_policy(self, protocol: int) -> ChildPolicy | None:
        for child in self.children:
            if child.protocol == protocol:
                return child
        return None


@dataclass(frozen=True, slots=True)
class DosPolicy:
    """Half-open SA limits (RFC 7296 §2.6)."""

    cookie_threshold: int = 30  # half-open SAs in all before COOKIEs
    cookie_threshold_per_address: int = 3  # ... from one source address
    half_open_timeout: float = 30.0
    cookie_secret_lifetime: float = 300.0  # the previous secret stays valid one more period


@dataclass(frozen=True, slots=True)
class LocalConfig:
    identity: str
    credential: LocalCredential
    peers: tuple[PeerPolicy, ...] = ()
    retransmit: RetransmitPolicy = RetransmitPolicy()
    dos: DosPolicy = DosPolicy()
    nonce_size: int = 32
    # Announce RKMP_SUPPORTED (DESIGN.md §2). Off only to act as a plain
    # IKEv2 peer in tests of the childless fallback.
    announce_rkmp: bool = True
    # peer_for's index: single-address peers by address, with their place in
    # ``peers``; the others (prefixes, other text) in order.
    _exact: dict[IPAddress, tuple[int, PeerPolicy]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _others: tuple[tuple[int, PeerPolicy], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not 16 <= self.nonce_size <= 256:  # RFC 7296 §3.9
            raise ValueError("nonce size must be 16..256 octets")
        identity_of(self.identity)  # ValueError if it cannot be an ID payload
        exact: dict[IPAddress, tuple[int, PeerPolicy]] = {}
        others: list[tuple[int, PeerPolicy]] = []
        for order, peer in enumerate(self.peers):
            self.remote_auth_for(peer)  # ValueError if the peer cannot be authenticated
            network = _network_of(peer.address)
            if network is not None and network.num_addresses == 1:
                exact.setdefault(network.network_address, (order, peer))
            else:
                others.append((order, peer))
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_others", tuple(others))

    def peer_for(self, host: str) -> PeerPolicy | None:
        """The first peer policy, in order, matching ``host`` (most specific
        first is the configuration's job). Single addresses come from an
        index, so that the engine, which asks once per new peer address,
        does not make setting up N peers O(N^2)."""
        found = None
        if self._exact and (address := _address_of(host)) is not None:
            found = self._exact.get(address)
        limit = found[0] if found is not None else len(self.peers)
        for order, peer in self._others:
            if order >= limit:
                break
            if peer.matches(host):
                return peer
        return found[1] if found is not None else None

    def retransmit_for(self, peer: PeerPolicy) -> RetransmitPolicy:
        return peer.retransmit or self.retransmit

    def local_credential_for(self, peer: PeerPolicy) -> LocalCredential:
        return peer.local_credential or self.credential

    def identity_for(self, peer: PeerPolicy) -> str:
        """The identity we present to ``peer`` (IDi/IDr, RFC 7296 §3.5)."""
        return peer.local_identity or self.identity

    def remote_auth_for(self, peer: PeerPolicy) -> RemoteAuth:
        if peer.remote_auth is not None:
            return peer.remote_auth
        credential = self.local_credential_for(peer)
        if isinstance(credential, PskCredential):
            return credential
        raise ValueError(f"peer {peer.name}: no way to authenticate it is configured")
