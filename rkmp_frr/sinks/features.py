"""What each routing daemon version can do with keys, and the parsers
for the version strings the daemons print.

Pure: nothing here runs a daemon. The appliers run ``vtysh -c 'show
version'``, ``bird --version`` or ``birdc show status`` and hand the text
to :func:`parse_frr_version` / :func:`parse_bird_version`.

Facts, from the daemons' sources and docs (FRRouting/frr, CZ-NIC/bird) and
DESIGN.md §5:

- bgpd: ``neighbor X password`` (TCP-MD5, RFC 2385) in every release, and
  every password change resets the session. No FRR release configures
  TCP-AO for BGP (checked through 10.7).
- ospfd: ``ip ospf message-digest-key`` (keyed MD5, RFC 2328 D.3) always.
  Up to 9.0 a receiver accepts only the last key configured (the one it
  sends with), so a key switch is not hitless there; from 9.1 it looks keys
  up by Key ID. Key chains with HMAC-SHA (RFC 5709),
  ``ip ospf authentication key-chain``, arrived in 9.1.
- ospf6d: authentication trailer (RFC 7166) with key chains,
  ``ipv6 ospf6 authentication keychain``, since 8.3.
- isisd: only circuit/area/domain passwords (clear or HMAC-MD5, RFC 5304)
  without key IDs or lifetimes; RFC 5310 keys with IDs in no release.
- bfdd: key-chain authentication arrived in 10.7, but signs with HMAC-SHA-1
  rather than RFC 5880's keyed SHA-1 and has no keyed MD5, so it cannot
  use RFC 5880 keys.
- FRR key chains print lifetimes with ``%b %d`` (zero-padded day) up to
  10.0 and ``%b %e`` (space-padded) from 10.1 (northbound key chains).
- BIRD: BGP ``password`` (TCP-MD5) in every 2.x/3.x; TCP-AO
  (``authentication ao; keys {...}``) from 2.17 and 3.1; OSPFv2
  ``authentication cryptographic`` with HMAC-SHA in every 2.x; the OSPFv3
  authentication trailer from 2.0.3. BIRD 1.x's configuration syntax
  differs (no channels) and is not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from rkmp_frr.sinks.render import SinkError, UnsupportedFeature


class VersionParseError(ValueError):
    """The text does not carry a version this module recognises."""


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """A release number; pre-release suffixes ("-dev", "-rc1") are dropped."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _NUMBER.fullmatch(text.strip())
        if match is None:
            raise VersionParseError(f"not a version number: {text[:40]!r}")
        return _from_match(match)


_NUMBER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-~+][\w.~+-]*)?")
# `vtysh -c 'show version'`: "FRRouting 8.4.4 (host) on Linux(6.1.0).";
# `zebra --version` / `vtysh --version`: "vtysh version 8.4.4".
_FRR_PATTERNS = (
    re.compile(r"\bFRRouting\s+v?(\d+)\.(\d+)(?:\.(\d+))?"),
    re.compile(r"^\S+\s+version\s+v?(\d+)\.(\d+)(?:\.(\d+))?", re.MULTILINE),
)
# `bird --version`: "BIRD version 2.0.12"; `birdc show status`:
# "BIRD 2.0.12 ready." / "BIRD 2.17.6" (also with birdc's "0001 " codes).
_BIRD_PATTERN = re.compile(r"\bBIRD\s+(?:version\s+)?v?(\d+)\.(\d+)(?:\.(\d+))?")


def _from_match(match: re.Match[str]) -> Version:
    major, minor, patch = match.group(1), match.group(2), match.group(3)
    return Version(int(major), int(minor), int(patch) if patch else 0)


def parse_frr_version(text: str) -> Version:
    """The FRR version in ``show version`` or ``<daemon> --version`` output."""
    for pattern in _FRR_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            return _from_match(match)
    raise VersionParseError("no FRRouting version in the given text")


def parse_bird_version(text: str) -> Version:
    """The BIRD version in ``bird --version`` or ``birdc show status`` output."""
    match = _BIRD_PATTERN.search(text)
    if match is None:
        raise VersionParseError("no BIRD version in the given text")
    return _from_match(match)


class Daemon(Enum):
    BGPD = "bgpd"
    OSPFD = "ospfd"
    OSPF6D = "ospf6d"
    ISISD = "isisd"
    BFDD = "bfdd"
    BIRD = "bird"

    @property
    def product(self) -> str:
        return "BIRD" if self is Daemon.BIRD else "FRR"


@dataclass(frozen=True, slots=True)
class Requirement:
    """A daemon feature and the first release of each release line that has
    it. A version has the feature when it is at least the entry for its own
    major version, or newer than every entry if its major version has none.
    No entries: no release has it (``why`` says what there is instead)."""

    daemon: Daemon
    feature: str
    since: tuple[Version, ...]
    why: str = ""

    def met_by(self, version: Version) -> bool:
        if not self.since:
            return False
        same_line = [v for v in self.since if v.major == version.major]
        if same_line:
            return version >= min(same_line)
        return version >= max(self.since)

    def describe(self) -> str:
        """The requirement in words, for error messages."""
        product = self.daemon.product
        if not self.since:
            return f"a {product} release that has it; none does" + (
                f" ({self.why})" if self.why else ""
            )
        return " or ".join(f"{product} >= {_short(v)}" for v in sorted(self.since))


def _short(version: Version) -> str:
    return f"{version.major}.{version.minor}" + (f".{version.patch}" if version.patch else "")


# --- FRR -------------------------------------------------------------------------------

FRR_BGP_TCP_MD5 = Requirement(Daemon.BGPD, "TCP-MD5 neighbor passwords", (Version(2, 0),))
FRR_BGP_TCP_AO = Requirement(
    Daemon.BGPD,
    "TCP-AO (RFC 5925)",
    (),
    "no FRR release configures TCP-AO for BGP, checked through 10.7",
)
FRR_OSPF_MD5 = Requirement(
    Daemon.OSPFD, "keyed-MD5 message-digest keys (RFC 2328 D.3)", (Version(2, 0),)
)
FRR_OSPF_KEY_CHAIN = Requirement(
    Daemon.OSPFD, "key-chain authentication with HMAC-SHA (RFC 5709)", (Version(9, 1),)
)
FRR_OSPF_MD5_ANY_KEY = Requirement(
    Daemon.OSPFD, "accepting every configured MD5 key by Key ID", (Version(9, 1),)
)
FRR_OSPF6_AUTH_TRAILER = Requirement(
    Daemon.OSPF6D, "authentication-trailer key chains (RFC 7166)", (Version(8, 3),)
)
FRR_ISIS_KEY_IDS = Requirement(
    Daemon.ISISD,
    "per-circuit keys with key IDs (RFC 5310)",
    (),
    "isisd has only circuit, area and domain passwords (clear or HMAC-MD5, RFC 5304)"
    " without key IDs or lifetimes",
)
FRR_BFD_RFC5880_AUTH = Requirement(
    Daemon.BFDD,
    "RFC 5880 keyed MD5 / keyed SHA-1 authentication",
    (),
    "bfdd key chains (10.7) sign with HMAC-SHA-1, not RFC 5880 keyed SHA-1",
)
_FRR_SPACE_PADDED_DAY = Version(10, 1)


@dataclass(frozen=True, slots=True)
class FrrFeatures:
    """What an FRR version can do (see the module docstring)."""

    version: Version

    def has(self, requirement: Requirement) -> bool:
        return requirement.daemon.product == "FRR" and requirement.met_by(self.version)

    def require(self, requirement: Requirement, protocol: str) -> None:
        if not self.has(requirement):
            raise unsupported(requirement, self.version, protocol)

    @property
    def ospf_key_chains(self) -> bool:
        return self.has(FRR_OSPF_KEY_CHAIN)

    @property
    def ospf_md5_accepts_any_key(self) -> bool:
        return self.has(FRR_OSPF_MD5_ANY_KEY)

    @property
    def keychain_day_zero_padded(self) -> bool:
        """How ``show running-config`` prints a key chain lifetime's day."""
        return self.version < _FRR_SPACE_PADDED_DAY


def frr_features(version: Version) -> FrrFeatures:
    return FrrFeatures(version)


# --- BIRD ------------------------------------------------------------------------------

BIRD_CONFIG_SYNTAX = Requirement(Daemon.BIRD, "BIRD 2 configuration syntax", (Version(2, 0),))
BIRD_BGP_TCP_MD5 = Requirement(Daemon.BIRD, "BGP TCP-MD5 password", (Version(2, 0),))
BIRD_BGP_TCP_AO = Requirement(
    Daemon.BIRD, "BGP TCP-AO (authentication ao)", (Version(2, 17), Version(3, 1))
)
BIRD_TCP_AO_EXCLUDE_OPTIONS = Requirement(
    Daemon.BIRD,
    "TCP-AO keys that leave TCP options out of the MAC",
    (),
    "BIRD always covers TCP options (RFC 5925's default)",
)
BIRD_OSPF2_CRYPTO = Requirement(
    Daemon.BIRD, "OSPFv2 cryptographic authentication (RFC 5709)", (Version(2, 0),)
)
BIRD_OSPF3_AUTH_TRAILER = Requirement(
    Daemon.BIRD, "OSPFv3 authentication trailer (RFC 7166)", (Version(2, 0, 3),)
)
BIRD_ISIS = Requirement(Daemon.BIRD, "IS-IS", (), "BIRD has no IS-IS")
BIRD_BFD_PEER_KEYS = Requirement(
    Daemon.BIRD,
    "per-peer BFD keys",
    (),
    "BIRD takes BFD keys per interface and rkmpd's BIRD sink does not render them",
)


@dataclass(frozen=True, slots=True)
class BirdFeatures:
    """What a BIRD version can do (see the module docstring)."""

    version: Version

    def has(self, requirement: Requirement) -> bool:
        return requirement.daemon is Daemon.BIRD and requirement.met_by(self.version)

    def require(self, requirement: Requirement, protocol: str) -> None:
        if not self.has(requirement):
            raise unsupported(requirement, self.version, protocol)

    @property
    def tcp_ao(self) -> bool:
        return self.has(BIRD_BGP_TCP_AO)

    @property
    def bgp_authentication_option(self) -> bool:
        """BGP's ``authentication none|md5|ao`` came with TCP-AO; later
        releases warn about a ``password`` without ``authentication md5``."""
        return self.has(BIRD_BGP_TCP_AO)


def bird_features(version: Version) -> BirdFeatures:
    return BirdFeatures(version)


def unsupported(requirement: Requirement, version: Version, protocol: str) -> UnsupportedFeature:
    """The typed refusal for a requirement a version does not meet."""
    return UnsupportedFeature(
        daemon=requirement.daemon.value,
        version=f"{requirement.daemon.product} {version}",
        protocol=protocol,
        feature=requirement.feature,
        requirement=requirement.describe(),
    )


F = TypeVar("F", FrrFeatures, BirdFeatures)


class FeatureGate(Generic[F]):
    """What a planner refuses (one refusal per distinct message) and its
    checks of what the running daemon version can do."""

    def __init__(self, features: F) -> None:
        self.features: F = features
        self.refused: dict[str, SinkError] = {}

    def refuse(self, error: SinkError) -> None:
        self.refused.setdefault(str(error), error)

    def need(self, requirement: Requirement, protocol: str) -> bool:
        """Whether the daemon has ``requirement``; if not, the refusal is kept."""
        if self.features.has(requirement):
            return True
        self.refuse(unsupported(requirement, self.features.version, protocol))
        return False
