"""Which FRR and BIRD run here, and can they take the configured keys?

At start rkmpd asks the daemons themselves (``vtysh -c 'show version'``;
``birdc show status``, falling back to ``bird --version`` when BIRD is not
running yet) and feeds the answer to the pure feature model
(``rkmp_frr.sinks.features``). Then every configured peer protocol is
checked against it, by rendering one stand-in row per (peer, protocol)
with the real renderers: what the renderer would refuse at run time
(TCP-AO on FRR, HMAC-SHA OSPFv2 on FRR < 9.1, TCP-AO on BIRD < 2.17, IS-IS
anywhere, a BGP neighbour the sink configuration does not place) is a
configuration error at start instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rkmp_frr.daemon.config_model import PeerConfig
from rkmp_frr.keytable.row import Direction, KeyRow
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.sinks.bird_render import BirdRenderConfig, render_bird
from rkmp_frr.sinks.features import (
    BirdFeatures,
    FrrFeatures,
    VersionParseError,
    bird_features,
    frr_features,
    parse_bird_version,
    parse_frr_version,
)
from rkmp_frr.sinks.frr_apply import VtyshCommand
from rkmp_frr.sinks.frr_config import FrrRenderConfig
from rkmp_frr.sinks.frr_plan import frr_plan
from rkmp_frr.sinks.render import MissingSinkConfig, SinkError, UnsupportedFeature
from rkmp_frr.sinks.runner import CommandError, CommandResult, CommandRunner, run_command
from rkmp_frr.wire.constants import ProtocolId

DETECT_TIMEOUT = 10.0
# OSPFv3 over IPsec keys go to the kernel's XFRM, not to a routing daemon.
_NOT_FOR_DAEMONS = frozenset({ProtocolId.OSPFV3_IPSEC})


class DetectionError(SinkError):
    """The daemon's version could not be found out."""


@dataclass(frozen=True, slots=True)
class Detected:
    """A daemon's version as it told it (first line of its answer)."""

    daemon: str
    answer: str


async def _ask(runner: CommandRunner, argv: Sequence[str]) -> CommandResult | None:
    try:
        return await runner(argv, timeout=DETECT_TIMEOUT)
    except CommandError:
        return None


async def detect_frr(
    vtysh: VtyshCommand, runner: CommandRunner = run_command
) -> tuple[FrrFeatures, Detected]:
    """The running FRR's version (``show version`` through vtysh)."""
    result = await _ask(runner, vtysh.show("show version"))
    if result is None or not result.ok:
        why = result.describe() if result is not None else f"cannot run {vtysh.vtysh}"
        raise DetectionError(f"frr sink: cannot ask FRR its version: {why}")
    try:
        version = parse_frr_version(result.stdout)
    except VersionParseError as exc:
        raise DetectionError(f"frr sink: {exc}") from None
    first = next((line for line in result.stdout.splitlines() if line.strip()), "")
    return frr_features(version), Detected("frr", first.strip())


async def detect_bird(
    birdc_argv: Sequence[str],
    bird_binary: str = "bird",
    runner: CommandRunner = run_command,
) -> tuple[BirdFeatures, Detected]:
    """The running BIRD's version (``birdc show status``), else the
    installed one (``bird --version``, which answers on stderr)."""
    answers: list[str] = []
    for argv in ([*birdc_argv, "show", "status"], [bird_binary, "--version"]):
        result = await _ask(runner, argv)
        if result is None:
            answers.append(f"cannot run {argv[0]}")
            continue
        try:
            version = parse_bird_version(result.output)
        except VersionParseError:
            answers.append(result.describe())
            continue
        return bird_features(version), Detected("bird", f"BIRD {version}")
    raise DetectionError(f"bird sink: cannot find out BIRD's version: {'; '.join(answers)}")


# --- start-time check of the configured protocols ------------------------------------------


def stand_in_rows(peers: Iterable[PeerConfig], now: int) -> list[KeyRow]:
    """One row per (peer, protocol) shaped as RKMP would make it (the
    protocol's profile, the first configured algorithm, the interface, a
    zero key); prefix peers stand in with their network address."""
    rows: list[KeyRow] = []
    for peer in peers:
        address = peer.address
        if address is None:
            assert peer.prefix is not None
            address = peer.prefix.split("/")[0]
        for spi, protocol in enumerate(peer.protocols, start=1):
            if protocol.protocol in _NOT_FOR_DAEMONS or not protocol.algorithms:
                continue
            profile = KEY_PROFILES[protocol.protocol]
            algorithm = profile.algorithm(protocol.algorithms[0])
            rows.append(
                KeyRow(
                    admin_key_name=f"check/{peer.name}/{protocol.protocol.name}",
                    local_key_name=str(spi),
                    peer_key_name=str(spi),
                    peers=frozenset({address}),
                    interfaces=protocol.interfaces,
                    protocol=protocol.protocol,
                    protocol_specific_info="",
                    kdf="none",
                    alg_id=algorithm.alg_id,
                    key="00" * max(1, profile.master_key_length(protocol.algorithms[0])),
                    direction=Direction.BOTH,
                    send_lifetime_start=now,
                    send_lifetime_end=FOREVER,
                    accept_lifetime_start=now,
                    accept_lifetime_end=FOREVER,
                    spi=spi,
                )
            )
    return rows


def check_frr(
    peers: Sequence[PeerConfig], config: FrrRenderConfig, features: FrrFeatures
) -> list[SinkError]:
    """What FRR (at this version, with this sink configuration) cannot do
    of the configured protocols."""
    rows = stand_in_rows(peers, int(time.time()))
    plan = frr_plan(rows, config, features, int(time.time()))
    return _relevant(plan.refused, peers)


def check_bird(
    peers: Sequence[PeerConfig], config: BirdRenderConfig, features: BirdFeatures
) -> list[SinkError]:
    """What BIRD (at this version, with this sink configuration) cannot do
    of the configured protocols."""
    now = int(time.time())
    rendered = render_bird(stand_in_rows(peers, now), config, features, now, strict=False)
    return _relevant(rendered.refused, peers)


def _relevant(refused: Iterable[SinkError], peers: Sequence[PeerConfig]) -> list[SinkError]:
    """The refusals that are configuration errors: a daemon that cannot do
    a protocol, and sink configuration that is missing, except for BGP
    neighbours of prefix peers (they are found at run time). A stand-in
    row's own shape (a zero key, no TCP-AO options) is no error."""
    stand_ins = {p.prefix.split("/")[0] for p in peers if p.prefix is not None}
    return [
        error
        for error in refused
        if isinstance(error, UnsupportedFeature)
        or (
            isinstance(error, MissingSinkConfig)
            and not any(error.what == f"BGP neighbour {address}" for address in stand_ins)
        )
    ]
