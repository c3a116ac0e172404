"""The daemon's configuration, validated: frozen dataclasses built by
``rkmp_frr.daemon.config_load`` from ``rkmpd.toml``.

Everything here is already checked; building the engine's policy objects
from it (``DaemonConfig.engine_config()``) cannot fail on input. Key
material lives only in the credential objects, whose reprs hide it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from rkmp_frr.engine.events import ChildRef
from rkmp_frr.engine.policy import (
    CertCredential,
    CertTrust,
    ChildPolicy,
    DosPolicy,
    Lifetime,
    LocalConfig,
    OnFailure,
    PeerPolicy,
    PskCredential,
    RetransmitPolicy,
)
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.row import ALL_INTERFACES
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId, RkmpOptionId

if TYPE_CHECKING:  # the renderers (jinja2) load only when a sink is built
    from rkmp_frr.sinks.bird_render import BirdBgpSession, BirdOspfInstance, BirdRenderConfig
    from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig

DEFAULT_CONFIG_FILE = Path("/etc/rkmp/rkmpd.toml")
DEFAULT_PORT = 500  # draft-mahesh §4.1: the peer's IKEv2 port
DEFAULT_STATE_DIR = Path("/var/lib/rkmp")
DEFAULT_CONTROL_SOCKET = Path("/run/rkmp/rkmpd.sock")
DEFAULT_HOOKS_DIR = Path("/etc/rkmp/hooks.d")
DEFAULT_HOOK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """Something legal but unwise; the daemon logs it, ``--check-config``
    prints it. Same one-line form as a ConfigError."""

    file: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A UDP address to listen on."""

    host: str  # an IP address literal
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class LocalSection:
    identity: str  # text form, rkmp_frr.wire.Identity.from_text
    listen: tuple[Endpoint, ...]
    state_dir: Path
    control_socket: Path
    hooks_dir: Path
    hook_timeout: float


@dataclass(frozen=True, slots=True)
class PskAuth:
    """``[auth] psk_file``: one pre-shared key for every peer."""

    psk_file: Path
    credential: PskCredential  # its repr hides the key


@dataclass(frozen=True, slots=True)
class CertAuth:
    """``[auth] certificate / private_key / ca``: our chain and key, and the
    trust anchors every peer's certificate must chain to."""

    certificate: Path
    private_key: Path
    ca: tuple[Path, ...]
    credential: CertCredential  # its repr hides the key
    trust: CertTrust


AuthSection = PskAuth | CertAuth


DEFAULT_MAX_HALF_OPEN_INITIATIONS = 128


@dataclass(frozen=True, slots=True)
class RkmpSection:
    """``[rkmp]``: RKMP SA defaults for every peer."""

    proposals: tuple[str, ...]
    lifetime: Lifetime
    liveness_interval: float | None  # None: no liveness checks
    retransmit: RetransmitPolicy
    dos: DosPolicy
    # RKMP SAs this daemon initiates that may be half-open at once (start,
    # SIGHUP, retries, triggers); the others wait their turn. The
    # initiating side's counterpart of charon's init_limit_half_open (which
    # limits what a responder accepts): a burst of a thousand INITs
    # overflows UDP receive buffers and leaves the two ends working in
    # turns instead of together.
    max_half_open_initiations: int = DEFAULT_MAX_HALF_OPEN_INITIATIONS


@dataclass(frozen=True, slots=True)
class ProtocolConfig:
    """One ``[[peer.protocol]]``: a routing protocol's child SA policy and
    key table timing with that peer."""

    protocol: ProtocolId
    interface: str | None
    algorithms: tuple[IntegId, ...]  # in preference order
    pfs_groups: tuple[KeId, ...]
    options: tuple[RkmpOptionId, ...]
    lifetime: Lifetime
    key_ids: range | None
    rollover: RolloverPolicy  # [rollover.<type>] or the profile's, then this table's

    def child_policy(self) -> ChildPolicy:
        return ChildPolicy(
            protocol=self.protocol,
            integ=self.algorithms,
            options=self.options,
            pfs_groups=self.pfs_groups,
            lifetime=self.lifetime,
            key_ids=self.key_ids,
        )

    @property
    def interfaces(self) -> frozenset[str]:
        """The key table's Interfaces field (RFC 7210 §2) for its rows."""
        return frozenset({self.interface}) if self.interface else ALL_INTERFACES


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """One ``[[peer]]``: a neighbour (``address``) or the neighbours found
    in a prefix (``prefix``); exactly one of the two is set."""

    name: str
    address: str | None
    prefix: str | None
    port: int
    identity: str | None  # None: whatever identity authenticates
    on_failure: OnFailure
    proposals: tuple[str, ...]
    lifetime: Lifetime
    liveness_interval: float | None
    protocols: tuple[ProtocolConfig, ...]
    local_identity: str | None = None  # None: [local] id

    @property
    def selector(self) -> str:
        """The address or prefix, as PeerPolicy.address takes it."""
        selector = self.address if self.address is not None else self.prefix
        assert selector is not None  # the loader sets exactly one
        return selector

    @property
    def specificity(self) -> int:
        """Longer matches first: an address beats any prefix."""
        if self.prefix is None:
            return 129
        return ipaddress.ip_network(self.prefix).prefixlen

    def matches(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if self.address is not None:
            return address == ipaddress.ip_address(self.address)
        assert self.prefix is not None
        return address in ipaddress.ip_network(self.prefix)

    def protocol(self, protocol: ProtocolId) -> ProtocolConfig | None:
        for entry in self.protocols:
            if entry.protocol == protocol:
                return entry
        return None

    def policy(self, remote_auth: CertTrust | None) -> PeerPolicy:
        return PeerPolicy(
            name=self.name,
            address=self.selector,
            remote_identity=self.identity,
            local_identity=self.local_identity,
            remote_auth=remote_auth,
            rkmp_proposals=self.proposals,
            children=tuple(p.child_policy() for p in self.protocols),
            rkmp_lifetime=self.lifetime,
            liveness_interval=self.liveness_interval,
            on_failure=self.on_failure,
        )


DEFAULT_FRR_CHECK_INTERVAL = 30.0  # [sinks.frr] check_interval
MIN_FRR_CHECK_INTERVAL = 1.0  # below this, vtysh would run nearly all the time


class FrrMode(Enum):
    """How the FRR sink applies keys."""

    VTYSH = "vtysh"  # targeted vtysh commands
    FRR_RELOAD = "frr-reload"  # render a config and run frr-reload.py


@dataclass(frozen=True, slots=True)
class FrrSink:
    vtysh: str
    vty_socket: Path | None
    pathspace: str | None
    mode: FrrMode
    dry_run: bool
    templates_dir: Path | None
    # The renderer's share: which ``router bgp`` each BGP neighbour is in,
    # key chain names, FRR's time zone (an IANA name; None: this host's).
    bgp_neighbors: tuple[FrrBgpNeighbor, ...] = ()
    key_chain_prefix: str = "rkmp"
    timezone: str | None = None
    # Seconds between read-backs of FRR's running config that put back
    # what drifted (an FRR restart loses rkmpd's keys); 0: no checks.
    check_interval: float = DEFAULT_FRR_CHECK_INTERVAL

    def render_config(self) -> FrrRenderConfig:
        from rkmp_frr.daemon.timezones import timezone_named
        from rkmp_frr.sinks.frr_config import FrrRenderConfig

        return FrrRenderConfig(
            bgp_neighbors=self.bgp_neighbors,
            key_chain_prefix=self.key_chain_prefix,
            timezone=timezone_named(self.timezone),
        )


@dataclass(frozen=True, slots=True)
class BirdSink:
    birdc: str
    socket: Path | None
    include_file: Path
    confirm_timeout: float | None  # None: plain ``configure``
    dry_run: bool
    templates_dir: Path | None
    # The renderer's share: the protocol blocks the include file holds,
    # BIRD's time zone (an IANA name; None: this host's).
    bgp: tuple[BirdBgpSession, ...] = ()
    ospf: tuple[BirdOspfInstance, ...] = ()
    timezone: str | None = None

    def render_config(self) -> BirdRenderConfig:
        from rkmp_frr.daemon.timezones import timezone_named
        from rkmp_frr.sinks.bird_render import BirdRenderConfig

        return BirdRenderConfig(
            bgp=self.bgp, ospf=self.ospf, timezone=timezone_named(self.timezone)
        )


class KernelIpsecMode(Enum):
    """How the kernel sink protects OSPFv3 over IPsec (RFC 4552 §3)."""

    ESP = "esp"  # ESP with NULL encryption (integrity only): RFC 4552's MUST
    AH = "ah"


@dataclass(frozen=True, slots=True)
class KernelSink:
    """``[sinks.kernel]``: OSPFv3-over-IPsec keys (Protocol ID 207) as
    kernel XFRM SAs and policies (``rkmp_frr.sinks.kernel_sink``)."""

    enabled: bool = True
    mode: KernelIpsecMode = KernelIpsecMode.ESP
    # Per interface, the OSPFv3 neighbour's link-local address: SAs for
    # unicast to it (point-to-point interfaces need none).
    neighbours: Mapping[str, ipaddress.IPv6Address] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True, slots=True)
class SinksSection:
    """``[sinks.*]``: a sink is used when its table is present."""

    frr: FrrSink | None = None
    bird: BirdSink | None = None
    kernel: KernelSink | None = None


@dataclass(frozen=True)
class DaemonConfig:
    """A whole, validated ``rkmpd.toml``."""

    file: Path
    local: LocalSection
    auth: AuthSection
    rkmp: RkmpSection
    rollover: Mapping[ProtocolId, RolloverPolicy]  # per protocol: [rollover.*] or the profile's
    peers: tuple[PeerConfig, ...]
    sinks: SinksSection
    warnings: tuple[ConfigWarning, ...] = field(default=(), compare=False)

    # --- for the engine -------------------------------------------------------------

    def engine_config(self) -> LocalConfig:
        """The engine's policy. Peers are ordered most specific first
        (addresses, then longer prefixes), as ``LocalConfig.peer_for``
        takes the first match."""
        trust = self.auth.trust if isinstance(self.auth, CertAuth) else None
        return LocalConfig(
            identity=self.local.identity,
            credential=self.auth.credential,
            peers=tuple(peer.policy(trust) for peer in self.peers_by_specificity()),
            retransmit=self.rkmp.retransmit,
            dos=self.rkmp.dos,
        )

    # --- lookups for the daemon, the key table and rkmpctl ----------------------------

    def peers_by_specificity(self) -> tuple[PeerConfig, ...]:
        return tuple(sorted(self.peers, key=lambda peer: -peer.specificity))

    def peer(self, name: str) -> PeerConfig | None:
        for peer in self.peers:
            if peer.name == name:
                return peer
        return None

    def peer_for(self, host: str) -> PeerConfig | None:
        """The most specific peer whose address or prefix matches ``host``."""
        for peer in self.peers_by_specificity():
            if peer.matches(host):
                return peer
        return None

    def rollover_for(self, host: str, protocol: ProtocolId) -> RolloverPolicy:
        """Rollover timing for ``protocol`` with the peer at ``host``."""
        return self.rollover_of(self.peer_for(host), protocol)

    def rollover_of(self, peer: PeerConfig | None, protocol: ProtocolId) -> RolloverPolicy:
        """``peer``'s ``[[peer.protocol]]`` timing if it sets one, else the
        protocol's (a caller with its own peer index looks the peer up)."""
        entry = peer.protocol(protocol) if peer is not None else None
        if entry is not None:
            return entry.rollover
        return self.rollover[protocol]

    def interfaces_for(self, child: ChildRef) -> frozenset[str]:
        """The Interfaces of a child SA's key table row (the signature
        ``KeyTableWiring(interfaces=...)`` takes)."""
        return interfaces_of(self.peer_for(child.peer[0]), child.protocol)


def interfaces_of(peer: PeerConfig | None, protocol: ProtocolId) -> frozenset[str]:
    """The Interfaces (RFC 7210 §2) of ``peer``'s key table rows for
    ``protocol``: its ``[[peer.protocol]] interface``, else all."""
    entry = peer.protocol(protocol) if peer is not None else None
    return entry.interfaces if entry is not None else ALL_INTERFACES
