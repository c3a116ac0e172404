"""Two real Services on 127.0.0.1: establishment, the control commands,
failure and revocation, restart safety, reload, robustness."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from rkmp_frr.daemon.config_load import load_config
from rkmp_frr.daemon.control_protocol import (
    DeleteRequest,
    DeleteResult,
    ErrorKind,
    Failure,
    GenerateSaRequest,
    GenerateSaResult,
    KeysRequest,
    KeysResult,
    RekeySaRequest,
    RekeySaResult,
    RevokeRequest,
    RevokeResult,
    SasRequest,
    SasResult,
    StatusRequest,
    StatusResult,
    Success,
)
from rkmp_frr.daemon.control_server import Commands
from rkmp_frr.daemon.service import Service
from rkmp_frr.engine import (
    ChildSaCreated,
    ChildSaRekeyed,
    PeerRestarted,
    RkmpSaEstablished,
    RkmpSaFailed,
)
from rkmp_frr.keytable import Change, DeleteCause, RowInserted, RowsDeleted
from rkmp_frr.wire.constants import ProtocolId

from .test_service_support import (
    FAST_RKMP,
    Node,
    children,
    free_ports,
    keys,
    make_pair,
    peer_toml,
    rows,
    start,
    until,
    write_config,
    write_psk,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def established_pair(tmp: Path, rkmp: str = FAST_RKMP) -> tuple[Node, Node, Service, Service]:
    r1, r2 = make_pair(tmp, rkmp)
    s2 = await start(r2, initiate_on_start=False)
    s1 = await start(r1)
    await until(lambda: children(s1) == 2 and children(s2) == 2, what="two child SAs each")
    await until(lambda: len(rows(s1)) == 2 and len(rows(s2)) == 2, what="two rows each")
    return r1, r2, s1, s2


def ok(response: object) -> object:
    assert isinstance(response, Success), response
    return response.result


def test_two_services_agree_on_keys(tmp_path: Path) -> None:
    async def main() -> None:
        r1, r2, s1, s2 = await established_pair(tmp_path)
        try:
            assert keys(s1) == keys(s2)
            assert len(keys(s1)) == 2
            # TCP-AO: my SendID is the peer's RecvID
            ao1 = next(r for r in rows(s1) if r.protocol == ProtocolId.TCP_AO)
            ao2 = next(r for r in rows(s2) if r.protocol == ProtocolId.TCP_AO)
            assert ao1.link is not None and ao2.link is not None
            assert ao1.link.child.local_key_id == ao2.link.child.remote_key_id
            established = [e for e in r1.events if isinstance(e, RkmpSaEstablished)]
            assert len(established) == 1 and established[0].initiator
            assert established[0].remote_identity == r2.identity
        finally:
            await s1.stop()
            await s2.stop()

    run(main())


def test_control_views_and_commands(tmp_path: Path) -> None:
    async def main() -> None:
        r1, r2, s1, s2 = await established_pair(tmp_path)
        c1, c2 = Commands(s1), Commands(s2)
        try:
            status = ok(await c1.handle(StatusRequest()))
            assert isinstance(status, StatusResult)
            assert (status.rkmp_sas, status.child_sas, status.key_rows, status.peers) == (
                1,
                2,
                2,
                1,
            )
            sas = ok(await c2.handle(SasRequest()))
            assert isinstance(sas, SasResult)
            assert [sa.state for sa in sas.sas] == ["established"]
            assert sas.sas[0].peer == "r1" and not sas.sas[0].initiator
            assert sas.sas[0].remote_identity == r1.identity
            assert {c.protocol for c in sas.sas[0].children} == {
                ProtocolId.TCP_AO,
                ProtocolId.OSPFV2,
            }
            masked = ok(await c1.handle(KeysRequest()))
            assert isinstance(masked, KeysResult)
            assert all(row.key is None for row in masked.rows)
            shown = ok(await c1.handle(KeysRequest(show_secrets=True)))
            assert isinstance(shown, KeysResult)
            assert {row.key for row in shown.rows} == keys(s2)

            ospf = next(r for r in rows(s1) if r.protocol == ProtocolId.OSPFV2)
            rekeyed = ok(await c1.handle(RekeySaRequest(ProtocolId.OSPFV2, ospf.spi)))
            assert isinstance(rekeyed, RekeySaResult)
            assert rekeyed.old_spi == ospf.spi and rekeyed.new_spi != ospf.spi
            await until(lambda: any(isinstance(e, ChildSaRekeyed) for e in r2.events))
            new_row = next(r for r in rows(s2) if r.spi == rekeyed.new_spi)
            assert new_row.key in keys(s1)

            failure = await c1.handle(RekeySaRequest(ProtocolId.OSPFV2, 0xFFFF))
            assert isinstance(failure, Failure) and failure.error.kind is ErrorKind.UNKNOWN_SA
            failure = await c1.handle(GenerateSaRequest("nobody", ProtocolId.TCP_AO))
            assert isinstance(failure, Failure) and failure.error.kind is ErrorKind.UNKNOWN_PEER
            failure = await c1.handle(GenerateSaRequest("r2", ProtocolId.BFD))
            assert isinstance(failure, Failure) and failure.error.kind is ErrorKind.POLICY

            generated = ok(await c1.handle(GenerateSaRequest("r2", ProtocolId.TCP_AO)))
            assert isinstance(generated, GenerateSaResult)
            await until(lambda: any(r.spi == generated.remote_spi for r in rows(s2)))

            deleted = ok(await c1.handle(DeleteRequest(ProtocolId.TCP_AO, generated.spi, "r2")))
            assert isinstance(deleted, DeleteResult)
            assert [(d.spi, d.peer) for d in deleted.deleted] == [(generated.spi, "r2")]
            assert not any(
                r.spi == generated.spi and r.protocol == ProtocolId.TCP_AO for r in rows(s1)
            )
            # the peer was told: its row for that SA goes too
            await until(
                lambda: (
                    not any(
                        r.spi == generated.remote_spi and r.protocol == ProtocolId.TCP_AO
                        for r in rows(s2)
                    )
                ),
                what="the peer's row of the deleted SA",
            )
        finally:
            await s1.stop()
            await s2.stop()

    run(main())


def test_revoke_withdraws_keys_on_both_sides_and_runs_hooks(tmp_path: Path) -> None:
    async def main() -> None:
        r1, r2 = make_pair(tmp_path)
        out = tmp_path / "revoked.txt"
        hook = r1.hooks_dir / "50-record"
        hook.write_text(f'#!/bin/sh\necho "$RKMP_EVENT $RKMP_PEER_NAME $RKMP_REASON" >> {out}\n')
        hook.chmod(0o755)
        s2 = await start(r2, initiate_on_start=False)
        s1 = await start(r1)
        await until(lambda: len(rows(s1)) == 2 and len(rows(s2)) == 2)
        changes: list[Change] = []
        assert s1.store is not None
        s1.store.subscribe(changes.append)
        try:
            result = ok(await Commands(s1).handle(RevokeRequest("r2")))
            assert isinstance(result, RevokeResult)
            assert len(result.revoked) == 2
            assert rows(s1) == ()
            revoked = [c for c in changes if isinstance(c, RowsDeleted)]
            assert revoked and all(c.cause is DeleteCause.REVOKED for c in revoked)
            await until(lambda: rows(s2) == (), what="the peer deleting its rows")
            await until(lambda: out.exists() and "revoke r2 admin" in out.read_text())
        finally:
            await s1.stop()
            await s2.stop()

    run(main())


def test_liveness_failure_revokes_and_runs_revoke_hook(tmp_path: Path) -> None:
    rkmp = FAST_RKMP.replace('liveness_interval = "30s"', 'liveness_interval = "200ms"')

    async def main() -> None:
        r1, r2 = make_pair(tmp_path, rkmp)
        out = tmp_path / "hook.txt"
        hook = r1.hooks_dir / "10-record"
        hook.write_text(
            f'#!/bin/sh\necho "$RKMP_EVENT $RKMP_PEER_NAME $RKMP_PEER_ADDRESS $RKMP_REASON '
            f'$RKMP_KEYS_REVOKED" >> {out}\n'
        )
        hook.chmod(0o755)
        s2 = await start(r2, initiate_on_start=False)
        s1 = await start(r1, reinitiate_delay=60.0)
        await until(lambda: len(rows(s1)) == 2)
        await s2.stop_abruptly()  # like kill -9: no Delete, the socket just goes
        try:
            await until(
                lambda: any(isinstance(e, RkmpSaFailed) for e in r1.events),
                what="liveness failure",
            )
            failed = next(e for e in r1.events if isinstance(e, RkmpSaFailed))
            assert failed.revoked
            assert rows(s1) == ()
            await until(lambda: out.exists() and "revoke" in out.read_text())
            lines = out.read_text().splitlines()
            assert f"revoke r2 127.0.0.1 {failed.reason.value} 2" in lines
        finally:
            await s1.stop()

    run(main())


def test_restart_keeps_table_and_does_not_flap_the_peer(tmp_path: Path) -> None:
    async def main() -> None:
        r1, r2, s1, s2 = await established_pair(tmp_path)
        before1 = {(r.protocol, r.spi): r.key for r in rows(s1)}
        peer_changes: list[Change] = []
        assert s2.store is not None
        s2.store.subscribe(peer_changes.append)
        await s1.stop_abruptly()  # a crash: nothing said to the peer
        s1 = await start(r1)
        try:
            # the table is as it was, nothing withdrawn at start
            assert {(r.protocol, r.spi): r.key for r in rows(s1)} == before1
            await until(
                lambda: any(isinstance(e, PeerRestarted) for e in r2.events),
                what="INITIAL_CONTACT at the peer",
            )
            await until(
                lambda: sum(isinstance(e, ChildSaRekeyed) for e in r2.events) >= 2,
                what="the peer replacing both children",
            )
            await until(lambda: len(rows(s1)) == 4, what="the new keys in the restarted table")
            # the peer withdrew no key: only rollover, no deletes or revocations
            assert not [c for c in peer_changes if isinstance(c, RowsDeleted)]
            # new keys are fresh IDs: nothing reused from the kept rows
            new_spis = {(r.protocol, r.spi) for r in rows(s1)} - set(before1)
            assert len(new_spis) == 2
            assert keys(s1) == keys(s2)
        finally:
            await s1.stop()
            await s2.stop()

    run(main())


def test_reload_adds_and_removes_peers_and_leaves_others_alone(tmp_path: Path) -> None:
    async def main() -> None:
        p1, p2, p3 = free_ports(3)
        psk = write_psk(tmp_path)
        r1 = Node("r1", p1, tmp_path / "r1")
        r2 = Node("r2", p2, tmp_path / "r2")
        r3 = Node("r3", p3, tmp_path / "r3", host="127.0.0.3")
        write_config(r1, peer_toml(r2), psk)
        write_config(r2, peer_toml(r1), psk)
        write_config(r3, peer_toml(r1), psk)
        s2 = await start(r2, initiate_on_start=False)
        s3 = await start(r3, initiate_on_start=False)
        s1 = await start(r1)
        try:
            await until(lambda: len(rows(s1)) == 2)
            assert s1.engine is not None
            sa_before = s1.engine.rkmp_sas((r2.host, r2.port))
            rows_before = rows(s1)
            # add r3
            write_config(r1, peer_toml(r2) + peer_toml(r3), psk)
            assert await s1.reload(lambda: load_config(r1.config_file))
            await until(lambda: len(rows(s3)) == 2, what="r3 keyed after reload")
            assert s1.engine.rkmp_sas((r2.host, r2.port)) == sa_before
            assert set(rows_before) <= set(rows(s1))
            # a broken file changes nothing
            r1.config_file.write_text("[local\n")
            assert not await s1.reload(lambda: load_config(r1.config_file))
            assert len(s1.config.peers) == 2
            # remove r2: its SAs are deleted with it, r3 is untouched
            sa3 = s1.engine.rkmp_sas((r3.host, r3.port))
            write_config(r1, peer_toml(r3), psk)
            assert await s1.reload(lambda: load_config(r1.config_file))
            engine = s1.engine
            await until(lambda: not engine.rkmp_sas((r2.host, r2.port)), what="r2 gone")
            await until(lambda: not any("127.0.0.1" in r.peers for r in rows(s1)))
            assert s1.engine.rkmp_sas((r3.host, r3.port)) == sa3
            await until(lambda: rows(s2) == (), what="r2 deleting its keys too")
        finally:
            await s1.stop()
            await s2.stop()
            await s3.stop()

    run(main())


def test_garbage_and_failing_sinks_do_not_stop_the_daemon(tmp_path: Path) -> None:
    async def main() -> None:
        r1, r2 = make_pair(tmp_path)

        def broken_sink(change: Change) -> None:
            raise RuntimeError("sink bug")

        s2 = await start(r2, initiate_on_start=False)
        assert s2.store is not None
        s2.store.subscribe(broken_sink)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", r2.port)
        )
        for junk in (
            b"",
            b"\x00\x00\x00\x00",
            b"\x00\x00\x00\x00" + bytes(28),
            b"\xff",
            b"x" * 3000,
        ):
            transport.sendto(junk)
        transport.close()
        s1 = await start(r1)
        try:
            await until(lambda: len(rows(s1)) == 2 and len(rows(s2)) == 2)
            assert keys(s1) == keys(s2)
        finally:
            await s1.stop()
            await s2.stop()

    run(main())


def test_control_socket_mode_and_json_lines(tmp_path: Path) -> None:
    async def main() -> None:
        r1, _r2 = make_pair(tmp_path)
        s1 = await start(r1, initiate_on_start=False)
        try:
            mode = stat.S_IMODE(r1.socket.stat().st_mode)
            assert mode == 0o660
            reader, writer = await asyncio.open_unix_connection(str(r1.socket))
            writer.write(b'{"version": 1, "command": "status"}\n')
            writer.write(b"not json\n")
            writer.write(b'{"version": 9, "command": "status"}\n')
            writer.write(b'{"version": 1, "command": "keys", "args": {"peer": "zz"}}\n')
            await writer.drain()
            answers = [await reader.readline() for _ in range(4)]
            writer.close()
            assert b'"ok":true' in answers[0]
            assert b'"bad-request"' in answers[1]
            assert b'"unsupported-version"' in answers[2]
            assert b'"unknown-peer"' in answers[3]
        finally:
            await s1.stop()
        assert not r1.socket.exists()

    run(main())


def test_keylog_and_logs_hold_no_routing_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rkmp_frr")

    async def main() -> None:
        r1, r2 = make_pair(tmp_path)
        keylog = tmp_path / "keylog"
        s2 = await start(r2, initiate_on_start=False)
        s1 = await start(r1, keylog=keylog)
        try:
            await until(lambda: len(rows(s1)) == 2 and len(rows(s2)) == 2)
            assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
            lines = keylog.read_text().splitlines()
            assert s1.engine is not None
            sa = s1.engine.rkmp_sas()[0]
            assert len(lines) == 1 and lines[0].startswith(f"{sa.spi_i.hex()},{sa.spi_r.hex()},")
            routing_keys = keys(s1)
        finally:
            await s1.stop()
            await s2.stop()
        text = caplog.text + keylog.read_text()
        assert routing_keys
        for key in routing_keys:
            assert key not in text
            assert key.upper() not in text

    run(main())


def test_setups_are_paced_and_dead_peers_do_not_block_the_queue(tmp_path: Path) -> None:
    async def main() -> None:
        ports = free_ports(4)
        psk = write_psk(tmp_path)
        me = Node("r1", ports[0], tmp_path / "r1")
        dead = [
            Node(f"d{i}", port, tmp_path / f"d{i}", host=f"127.0.0.{11 + i}")
            for i, port in enumerate(ports[1:])
        ]
        paced = FAST_RKMP + "max_half_open_initiations = 1\n"
        write_config(me, "".join(peer_toml(d) for d in dead), psk, paced)
        # three static peers that never answer, one handshake at a time
        service = await start(me, setup_slot_timeout=0.05)
        engine = service.engine
        assert engine is not None
        peers = [(d.host, d.port) for d in dead]
        seen_at_once = 0
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not all(engine.sas_of(p) for p in peers):
                assert loop.time() < deadline, "not every peer was tried"
                seen_at_once = max(seen_at_once, len(service._setting_up))
                await asyncio.sleep(0.005)
            assert seen_at_once == 1
        finally:
            await service.stop()

    run(main())


def test_keys_are_durable_before_any_sink_or_listener_hears_of_them(tmp_path: Path) -> None:
    """The key table batches a round's writes into one COMMIT: sinks are
    told and events announced (log, hooks, listeners) only after it, so
    another connection to the file already sees every key they hear of."""

    def committed_keys(service: Service) -> set[str]:
        assert service.store is not None and service.store.path is not None
        db = sqlite3.connect(service.store.path)
        try:
            return {str(key) for (key,) in db.execute("SELECT key FROM key_rows")}
        finally:
            db.close()

    async def main() -> None:
        r1, r2 = make_pair(tmp_path)
        s2 = await start(r2, initiate_on_start=False)
        assert s2.store is not None
        told: list[bool] = []
        announced: list[bool] = []

        def sink(change: Change) -> None:
            if isinstance(change, RowInserted):
                told.append(change.row.key in committed_keys(s2))

        def listener(event: object) -> None:
            if isinstance(event, ChildSaCreated):
                announced.append(len(committed_keys(s2)) >= len(announced) + 1)

        s2.store.subscribe(sink)
        s2.event_listeners.append(listener)
        s1 = await start(r1)
        try:
            await until(lambda: len(told) == 2 and len(announced) == 2, what="two keys heard of")
            assert told == [True, True] and announced == [True, True]
            assert committed_keys(s2) == keys(s2) == keys(s1)
        finally:
            await s1.stop()
            await s2.stop()

    run(main())
