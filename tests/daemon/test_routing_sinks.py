"""rkmpd's routing-daemon sinks from rkmpd.toml: the daemon asked its
version at start, configured protocols checked against it (a config error
naming peer[i].protocol[j]), sinks kept or rebuilt on reload, their state
for ``rkmpctl status``, and the Service attaching, replacing and closing
them. The routing daemons are scripted (tests/sinks covers the appliers
against them; integration/ the real ones)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rkmp_frr.daemon.config_load import ConfigError, load_config
from rkmp_frr.daemon.config_model import DaemonConfig
from rkmp_frr.daemon.routing_sinks import (
    RoutingSink,
    SinkStartError,
    build_routing_sinks,
)
from rkmp_frr.daemon.service import Service, ServiceOptions
from rkmp_frr.keytable.changes import Change
from rkmp_frr.keytable.row import Direction, KeyRow
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.sinks.bird_apply import BirdApplier
from rkmp_frr.sinks.detect import stand_in_rows
from rkmp_frr.sinks.frr_apply import FrrApplier
from rkmp_frr.sinks.keyed import frr_bgp
from rkmp_frr.sinks.runner import CommandError, CommandResult
from rkmp_frr.wire.constants import ProtocolId

from .test_service_support import Node, free_ports, write_config, write_psk

FRR_84 = "FRRouting 8.4.4 (r1) on Linux(6.1.0).\nCopyright 1996-2005 Kunihiro Ishiguro, et al.\n"
FRR_91 = "FRRouting 9.1 (r1) on Linux(6.1.0).\n"
SHOW_VERSION = ("vtysh", "-c", "show version")
BIRD_STATUS = ("birdc", "-s", "/run/bird.ctl", "show", "status")


@dataclass
class ScriptedDaemons:
    """Answers the routing daemons' tools by argv; records every call."""

    answers: dict[tuple[str, ...], CommandResult | None]
    calls: list[tuple[str, ...]] = field(default_factory=list)

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        key = tuple(argv)
        self.calls.append(key)
        if key not in self.answers:
            raise AssertionError(f"unexpected command {key}")
        answer = self.answers[key]
        if answer is None:
            raise CommandError(f"cannot run {argv[0]}")
        return answer


def ok(stdout: str) -> CommandResult:
    return CommandResult((), 0, stdout, "")


def frr(version: str = FRR_84) -> ScriptedDaemons:
    return ScriptedDaemons({SHOW_VERSION: ok(version)})


def config_text(directory: Path, peers: str, sinks: str) -> DaemonConfig:
    node = Node("r1", free_ports(1)[0], directory)
    write_config(node, peers + sinks, write_psk(directory.parent))
    return load_config(node.config_file)


MD5_PEER = """
[[peer]]
name = "r2"
address = "10.0.0.2"
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"
"""
AO_PROTOCOL = """
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-1-96"
"""
OSPF_PROTOCOL = """
  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"
"""
FRR_SINK = """
[sinks.frr]
dry_run = true
  [[sinks.frr.bgp_neighbor]]
  address = "10.0.0.2"
  asn = 65001
"""
BIRD_SINK = """
[sinks.bird]
socket = "/run/bird.ctl"
include_file = "rkmp.conf"
dry_run = true
  [[sinks.bird.bgp]]
  name = "r2"
  neighbor = "10.0.0.2"
  local_as = 65001
  neighbor_as = 65002
"""


def build(
    config: DaemonConfig, daemons: ScriptedDaemons, current: Sequence[RoutingSink] = ()
) -> list[RoutingSink]:
    return asyncio.run(build_routing_sinks(config, current, runner=daemons))


# --------------------------------------------------------------------------- building


def test_frr_sink_from_the_configuration(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER, FRR_SINK)
    [sink] = build(config, frr())
    assert sink.name == "frr"
    assert isinstance(sink.applier, FrrApplier)
    assert sink.applier.options.dry_run
    assert sink.applier.options.render.neighbor("10.0.0.2") is not None
    info = sink.info()
    assert (info.daemon, info.version, info.dry_run) == ("FRR", "8.4.4", True)
    assert info.detected.startswith("FRRouting 8.4.4")
    assert (info.applies, info.last_apply, info.last_error, info.ok) == (0, None, None, True)


def test_unsupported_protocol_is_a_config_error_naming_the_peer_protocol(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER + AO_PROTOCOL, FRR_SINK)
    with pytest.raises(ConfigError) as info:
        build(config, frr())
    error = info.value
    assert (error.file, error.key) == (str(config.file), "peer[0].protocol[1]")
    assert "FRR 8.4.4" in error.problem and "cannot do TCP-AO" in error.problem
    assert str(error) == f"{config.file}: peer[0].protocol[1]: {error.problem}"
    assert "\n" not in str(error)


def test_ospf_hmac_needs_frr_91(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER + OSPF_PROTOCOL, FRR_SINK)
    with pytest.raises(ConfigError, match=r"peer\[0\]\.protocol\[1\]: .*FRR >= 9\.1"):
        build(config, frr(FRR_84))
    [sink] = build(config, frr(FRR_91))
    assert sink.info().version == "9.1.0"


def test_bgp_neighbour_missing_from_the_sink(tmp_path: Path) -> None:
    sinks = FRR_SINK.replace('address = "10.0.0.2"', 'address = "10.0.0.9"')
    config = config_text(tmp_path / "r1", MD5_PEER, sinks)
    with pytest.raises(ConfigError) as info:
        build(config, frr())
    assert info.value.key == "peer[0].protocol[0]"
    assert "BGP neighbour 10.0.0.2" in info.value.problem
    assert "[[sinks.frr.bgp_neighbor]]" in info.value.problem


def test_a_protocol_one_of_two_sinks_takes_is_fine(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER + AO_PROTOCOL, FRR_SINK + BIRD_SINK)
    new_bird = ScriptedDaemons({SHOW_VERSION: ok(FRR_84), BIRD_STATUS: ok("BIRD 2.17.1 ready.\n")})
    frr_sink, bird_sink = build(config, new_bird)  # BIRD 2.17 keys TCP-AO
    assert (frr_sink.name, bird_sink.name) == ("frr", "bird")
    assert isinstance(bird_sink.applier, BirdApplier)
    old_bird = ScriptedDaemons({SHOW_VERSION: ok(FRR_84), BIRD_STATUS: ok("BIRD 2.0.12 ready.\n")})
    with pytest.raises(ConfigError) as info:
        build(config, old_bird)  # neither can: both say why
    assert info.value.key == "peer[0].protocol[1]"
    assert "FRR 8.4.4" in info.value.problem and "BIRD 2.0.12" in info.value.problem


def test_a_daemon_that_does_not_answer_cannot_start(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER, FRR_SINK)
    down = ScriptedDaemons(
        {SHOW_VERSION: CommandResult((), 1, "", "Exiting: failed to connect to any daemons.\n")}
    )
    with pytest.raises(SinkStartError, match=r"cannot ask FRR its version.*failed to connect"):
        build(config, down)
    with pytest.raises(SinkStartError, match="cannot run vtysh"):
        build(config, ScriptedDaemons({SHOW_VERSION: None}))


def test_missing_templates_dir_is_a_config_error(tmp_path: Path) -> None:
    sinks = FRR_SINK.replace("dry_run = true", 'dry_run = true\ntemplates_dir = "nowhere"')
    config = config_text(tmp_path / "r1", MD5_PEER, sinks)
    with pytest.raises(ConfigError) as info:
        build(config, frr())
    assert info.value.key == "sinks.frr.templates_dir"
    assert "not found" in info.value.problem


def test_no_sinks_asks_no_daemon(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER + AO_PROTOCOL, "")
    daemons = frr()
    assert build(config, daemons) == []
    assert daemons.calls == []


def test_frr_secures_the_ospf_interfaces_the_peers_key(tmp_path: Path) -> None:
    ospf6 = OSPF_PROTOCOL.replace('"ospfv2"', '"ospfv3"').replace('"eth0"', '"eth1"')
    config = config_text(tmp_path / "r1", MD5_PEER + OSPF_PROTOCOL + ospf6, FRR_SINK)
    [sink] = build(config, frr(FRR_91))
    assert isinstance(sink.applier, FrrApplier)
    render = sink.applier.options.render
    assert (render.ospf_interfaces, render.ospf6_interfaces) == (("eth0",), ("eth1",))
    # A peer keying another interface: the sink is rebuilt to secure it too.
    daemons = frr(FRR_91)
    r3 = '\n[[peer]]\nname = "r3"\naddress = "10.0.0.3"\n' + OSPF_PROTOCOL.replace("eth0", "eth2")
    bigger = config_text(tmp_path / "r1", MD5_PEER + OSPF_PROTOCOL + ospf6 + r3, FRR_SINK)
    [rebuilt] = build(bigger, daemons, [sink])
    assert rebuilt is not sink and len(daemons.calls) == 1
    assert isinstance(rebuilt.applier, FrrApplier)
    assert rebuilt.applier.options.render.ospf_interfaces == ("eth0", "eth2")


def test_each_sink_keeps_what_it_keyed_under_state_dir(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER, FRR_SINK.replace("dry_run = true\n", ""))
    path = config.local.state_dir / "frr-sink.keyed"
    [sink] = build(config, frr())
    assert isinstance(sink.applier, FrrApplier)
    assert sink.applier.keyed.path == path and sink.applier.keyed.items == frozenset()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("bgp 10.0.0.2\n")
    [restarted] = build(config, frr())
    assert isinstance(restarted.applier, FrrApplier)
    assert restarted.applier.keyed.items == {frr_bgp("10.0.0.2")}
    # A dry run starts from the recorded set and never writes it.
    [dry] = build(config_text(tmp_path / "r1", MD5_PEER, FRR_SINK), frr())
    assert isinstance(dry.applier, FrrApplier)
    assert dry.applier.keyed.path is None and dry.applier.keyed.items == {frr_bgp("10.0.0.2")}
    # Unreadable: rkmpd cannot know what to keep closed, so it does not start.
    path.write_text("bgp 10.0.0.2\nnonsense\n")
    with pytest.raises(SinkStartError, match=r"frr-sink\.keyed:2: "):
        build(config, frr())


def test_with_two_sinks_each_takes_only_what_it_serves(tmp_path: Path) -> None:
    """10.0.0.2 is BIRD's (the FRR sink names another neighbour), eth0 too:
    the FRR sink neither secures eth0 nor reports BIRD's row as refused."""
    frr_sink = FRR_SINK.replace('address = "10.0.0.2"', 'address = "10.0.0.9"')
    bird_ospf = """
  [[sinks.bird.ospf]]
  name = "o"
  version = 2
    [[sinks.bird.ospf.area]]
    area = "0"
      [[sinks.bird.ospf.area.interface]]
      name = "eth0"
"""
    config = config_text(
        tmp_path / "r1", MD5_PEER + OSPF_PROTOCOL, frr_sink + BIRD_SINK + bird_ospf
    )
    daemons = ScriptedDaemons({SHOW_VERSION: ok(FRR_91), BIRD_STATUS: ok("BIRD 2.0.12 ready.\n")})
    frr_sink_, bird_sink = build(config, daemons)
    assert isinstance(frr_sink_.applier, FrrApplier)
    assert frr_sink_.applier.options.render.ospf_interfaces == ()
    rows = stand_in_rows(config.peers, int(time.time()))
    assert frr_sink_.serving.rows(rows) == ()
    assert bird_sink.serving.rows(rows) == tuple(rows)

    async def main() -> None:
        for sink in (frr_sink_, bird_sink):
            sink.load(rows)
            result = await sink.drain()
            assert result is not None
            assert result.refused == (), result.describe()
            await sink.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- reload


def test_reload_keeps_an_unchanged_sink_and_rebuilds_a_changed_one(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER, FRR_SINK)
    daemons = frr()
    [first] = build(config, daemons)
    assert len(daemons.calls) == 1
    # Same [sinks.frr]: the same sink, the daemon not asked again.
    [kept] = build(config_text(tmp_path / "r1", MD5_PEER, FRR_SINK), daemons, [first])
    assert kept is first and len(daemons.calls) == 1
    # New peers are still checked against the kept sink's daemon version.
    with pytest.raises(ConfigError, match=r"peer\[0\]\.protocol\[1\]"):
        build(config_text(tmp_path / "r1", MD5_PEER + AO_PROTOCOL, FRR_SINK), daemons, [first])
    # A changed [sinks.frr]: asked again, and the new sink starts from what
    # the old one applied (its first apply only changes what changed).
    assert isinstance(first.applier, FrrApplier)
    first.applier.synced = True  # as after its first apply
    changed = FRR_SINK.replace("asn = 65001", "asn = 65009")
    [rebuilt] = build(config_text(tmp_path / "r1", MD5_PEER, changed), daemons, [first])
    assert rebuilt is not first and len(daemons.calls) == 2
    assert isinstance(rebuilt.applier, FrrApplier)
    assert rebuilt.applier.synced and rebuilt.applier.current is first.applier.current
    assert rebuilt.applier.options.render.neighbor("10.0.0.2").asn == 65009  # type: ignore[union-attr]


# --------------------------------------------------------------------------- status


def test_status_after_applies(tmp_path: Path) -> None:
    config = config_text(tmp_path / "r1", MD5_PEER, FRR_SINK)
    daemons = frr()

    async def main() -> None:
        [sink] = await build_routing_sinks(config, runner=daemons)
        rows = stand_in_rows(config.peers, int(time.time()))
        sink.load(rows)
        first = await sink.drain()
        assert first is not None and first.status.value == "dry-run"
        sink.load(rows)
        again = await sink.drain()
        assert again is not None and again.status.value == "unchanged"
        info = sink.info()
        assert (info.name, info.daemon, info.version) == ("frr", "FRR", "8.4.4")
        assert (info.rows, info.applies, info.failures, info.pending) == (1, 2, 0, False)
        assert info.last_apply is not None and info.last_apply.status == "unchanged"
        # the last change is the dry run, not the "unchanged" after it
        assert info.last_change is not None and info.last_change.status == "dry-run"
        assert info.last_change.line == first.describe()
        assert rows[0].key not in repr(info)
        await sink.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- the Service


@dataclass
class RecordingSink:
    """A key table sink with ``load`` and ``close``, as RoutingSink has."""

    name: str
    loaded: list[tuple[KeyRow, ...]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    closed: bool = False

    def __call__(self, change: Change) -> None:
        self.changes.append(change)

    def load(self, rows: Sequence[KeyRow]) -> None:
        self.loaded.append(tuple(rows))

    async def close(self) -> None:
        self.closed = True


def test_service_attaches_replaces_and_closes_sinks(tmp_path: Path) -> None:
    node = Node("r1", free_ports(1)[0], tmp_path / "r1")
    write_config(node, "", write_psk(tmp_path))
    config = load_config(node.config_file)
    first, kept, added = RecordingSink("first"), RecordingSink("kept"), RecordingSink("added")

    async def main() -> None:
        options = ServiceOptions(triggers=False, control_socket=False, stop_grace=0.1)
        service = Service(config, options=options, sinks=[first, kept])
        await service.start()
        assert first.loaded == [()] and kept.loaded == [()]  # the table as it is (empty)
        await service.replace_sinks([kept, added])
        assert first.closed and not kept.closed and not added.closed
        assert kept.loaded == [()] and added.loaded == [()]  # only the new one loads
        assert service.sinks == [kept, added]
        assert service.store is not None
        service.store.Keytable_insertSA(manual_row())
        assert len(kept.changes) == 1 and len(added.changes) == 1 and first.changes == []
        await service.stop()
        assert kept.closed and added.closed

    asyncio.run(main())


def manual_row() -> KeyRow:
    """A key an operator entered by hand (no RKMP link)."""
    return KeyRow(
        admin_key_name="manual/1",
        local_key_name="1",
        peer_key_name="1",
        peers=frozenset({"10.0.0.2"}),
        interfaces=frozenset({"eth0"}),
        protocol=ProtocolId.OSPFV2,
        protocol_specific_info="",
        kdf="none",
        alg_id="HMAC-SHA-256",
        key="00" * 32,
        direction=Direction.BOTH,
        send_lifetime_start=0,
        send_lifetime_end=FOREVER,
        accept_lifetime_start=0,
        accept_lifetime_end=FOREVER,
        spi=1,
    )
