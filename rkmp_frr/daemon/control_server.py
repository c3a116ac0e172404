"""rkmpd's control server: ``rkmpctl`` requests over a Unix stream socket,
one JSON object per line (``rkmp_frr.daemon.control_protocol``).

The socket is created mode 0660 (group ``rkmp`` when that group exists):
whoever may connect may read keys with ``keys --show-secrets`` and revoke
them, so the socket's group is the access control (docs/rkmpd.md).

Every connection is its own task and requests on it are answered in order;
commands that wait for an exchange (``generate-sa``, ``rekey-sa``) wait on
an engine event with a timeout, so the daemon's loop is never blocked.
Failures are typed (``ErrorKind``); an unexpected exception is answered as
``internal`` and logged, and the connection stays usable.

``Commands`` maps each request onto the running ``Service``; the views it
builds (``status``, ``sas``, ``keys``) read the engine's SAs through
``Engine.sas_of`` and the key table.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from rkmp_frr.daemon.config_model import PeerConfig
from rkmp_frr.daemon.control_protocol import (
    ChildSaInfo,
    ControlProtocolError,
    DeleteRequest,
    DeleteResult,
    ErrorKind,
    Failure,
    GenerateSaRequest,
    GenerateSaResult,
    KeyRowInfo,
    KeysRequest,
    KeysResult,
    LineBuffer,
    RekeySaRequest,
    RekeySaResult,
    Request,
    Response,
    Result,
    RevokeRequest,
    RevokeResult,
    RkmpSaInfo,
    SaRef,
    SasRequest,
    SasResult,
    SinkInfo,
    StatusRequest,
    StatusResult,
    Success,
    decode_request,
    encode_response,
)
from rkmp_frr.daemon.hooks import revoke_call
from rkmp_frr.engine import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaFailed,
    ChildSaRekeyed,
    Engine,
    Event,
    NotEstablished,
    PolicyError,
    RkmpSaFailed,
    UnknownChildSa,
    UnknownPeer,
)
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.types import Address
from rkmp_frr.keytable import KeyRow, KeyTableStore
from rkmp_frr.keytable.utc import utc_seconds
from rkmp_frr.wire.constants import ProtocolId

if TYPE_CHECKING:
    from rkmp_frr.daemon.service import Service

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
SOCKET_GROUP = "rkmp"
DIR_MODE = 0o750
READ_SIZE = 65536


def daemon_version() -> str:
    try:
        return metadata.version("rkmp-frr")
    except metadata.PackageNotFoundError:
        return "unknown"


class CommandError(Exception):
    """A request the daemon refuses or cannot carry out."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _until(deadline: float | None, now: float) -> float | None:
    if deadline is None or deadline == float("inf"):
        return None
    return max(0.0, deadline - now)


class Commands:
    """The control protocol's commands on a running Service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    # --- plumbing -------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        engine = self.service.engine
        if engine is None:
            raise CommandError(ErrorKind.INTERNAL, "the daemon is not running")
        return engine

    @property
    def store(self) -> KeyTableStore:
        store = self.service.store
        if store is None:
            raise CommandError(ErrorKind.INTERNAL, "the key table is not open")
        return store

    async def handle(self, request: Request) -> Response:
        try:
            result = await self._run(request)
        except CommandError as exc:
            return Failure.of(exc.kind, exc.message)
        except Exception:
            log.exception("control command %s failed", request.COMMAND.value)
            return Failure.of(ErrorKind.INTERNAL, f"{request.COMMAND.value}: internal error")
        finally:
            # What the command changed in the key table is durable (and
            # announced) before the answer says it happened.
            self.service.flush()
        return Success(result)

    async def _run(self, request: Request) -> Result:
        match request:
            case StatusRequest():
                return self.status()
            case SasRequest(peer=peer):
                return self.sas(peer)
            case KeysRequest(protocol=protocol, peer=peer, show_secrets=show):
                return self.keys(protocol, peer, show)
            case GenerateSaRequest(peer=peer, protocol=protocol):
                return await self.generate_sa(peer, protocol)
            case RekeySaRequest(protocol=protocol, spi=spi, peer=peer):
                return await self.rekey_sa(protocol, spi, peer)
            case DeleteRequest(protocol=protocol, spi=spi, peer=peer):
                return self.delete(protocol, spi, peer)
            case RevokeRequest(peer=peer):
                return self.revoke(peer)
        raise CommandError(ErrorKind.BAD_REQUEST, f"unhandled command {request.COMMAND.value}")

    # --- peers ----------------------------------------------------------------------

    def peer_named(self, name: str) -> PeerConfig:
        peer = self.service.peers.peer(name)
        if peer is None:
            known = ", ".join(p.name for p in self.service.config.peers) or "none"
            raise CommandError(ErrorKind.UNKNOWN_PEER, f"no peer {name!r} (configured: {known})")
        return peer

    def _owns(self, peer: PeerConfig, host: str) -> bool:
        owner = self.service.peers.peer_for(host)
        return owner is not None and owner.name == peer.name

    def addresses_of(self, peer: PeerConfig) -> list[Address]:
        """The peer's address, or the neighbours of a prefix peer that
        the engine has talked to."""
        found = [a for a in self.service.peers_seen if self._owns(peer, a[0])]
        if peer.address is not None:
            static = (peer.address, peer.port)
            return [static, *(a for a in found if a != static)]
        return found

    def all_addresses(self) -> list[Address]:
        addresses = dict.fromkeys(self.service.peers_seen)
        for peer in self.service.config.peers:
            if peer.address is not None:
                addresses.setdefault((peer.address, peer.port), None)
        return list(addresses)

    def _name(self, host: str) -> str:
        return self.service.peer_name(host) or host

    def _ref(self, protocol: ProtocolId, spi: int, host: str) -> SaRef:
        return SaRef(protocol, spi, host, self.service.peer_name(host))

    # --- views ----------------------------------------------------------------------

    def status(self) -> StatusResult:
        service = self.service
        engine = self.engine
        config = service.config
        return StatusResult(
            daemon_version=daemon_version(),
            pid=os.getpid(),
            uptime=service.now() - service.started_at,
            config_file=str(config.file),
            identity=config.local.identity,
            listen=tuple(e.label for e in service.endpoints.endpoints),
            peers=len(config.peers),
            rkmp_sas=len(engine.rkmp_sas()),
            child_sas=sum(len(engine.child_sas(peer)) for peer in service.peers_seen),
            key_rows=self.store.count(),
            sinks=self.sink_infos(),
        )

    def sink_infos(self) -> tuple[SinkInfo, ...]:
        """The sinks that describe themselves (``info() -> SinkInfo``)."""
        infos: list[SinkInfo] = []
        for sink in self.service.sinks:
            info = getattr(sink, "info", None)
            if callable(info):
                infos.append(info())
        return tuple(infos)

    def sas(self, peer_name: str | None) -> SasResult:
        addresses = (
            self.addresses_of(self.peer_named(peer_name))
            if peer_name is not None
            else self.all_addresses()
        )
        infos: list[RkmpSaInfo] = []
        orphans: list[ChildSaInfo] = []
        for address in addresses:
            sa_infos, address_orphans = self._sas_with(address)
            infos += sa_infos
            orphans += address_orphans
        return SasResult(tuple(infos), tuple(orphans))

    def _sas_with(self, address: Address) -> tuple[list[RkmpSaInfo], list[ChildSaInfo]]:
        engine = self.engine
        now = self.service.now()
        name = self._name(address[0])
        infos = []
        in_sas: set[ChildRef] = set()
        for sa in engine.sas_of(address):
            if sa.state is SaState.CLOSED:
                continue
            children = []
            for child in sa.children.values():
                if not child.reported:
                    continue
                in_sas.add(child.ref)
                children.append(ChildSaInfo.from_params(child.params, name, child.state.value, now))
            details = self.service.sa_details.get((sa.spi_i, sa.spi_r))
            established = sa.established_at is not None and sa.state is not SaState.UNCONFIRMED
            infos.append(
                RkmpSaInfo(
                    peer=name,
                    address=address[0],
                    port=address[1],
                    state=sa.state.value,
                    initiator=sa.initiator,
                    local_identity=(
                        sa.engine.config.identity_for(sa.policy) if established else None
                    ),
                    remote_identity=sa.remote_identity or None,
                    spi_i=sa.spi_i.hex(),
                    spi_r=sa.spi_r.hex(),
                    proposal=details.proposal if details is not None else None,
                    established_for=(
                        now - sa.established_at if sa.established_at is not None else None
                    ),
                    rekey_in=_until(sa.rekey_at, now),
                    expires_in=_until(sa.expire_at, now),
                    children=tuple(sorted(children, key=lambda c: (c.protocol, c.spi))),
                )
            )
        orphans = [
            ChildSaInfo.from_params(params, name, "orphan", now)
            for params in engine.child_sas(address)
            if params.ref not in in_sas
        ]
        return infos, orphans

    def orphans_of(self, address: Address) -> set[ChildRef]:
        return {
            ChildRef(address, c.protocol, c.spi, c.remote_spi) for c in self._sas_with(address)[1]
        }

    def keys(self, protocol: ProtocolId | None, peer_name: str | None, show: bool) -> KeysResult:
        now = utc_seconds(self.service.wall_now())
        rows: Iterable[KeyRow] = self.store.rows(protocol)
        if peer_name is not None:
            peer = self.peer_named(peer_name)
            rows = [row for row in rows if any(self._owns(peer, host) for host in row.peers)]
        return KeysResult(
            now=now,
            secrets_shown=show,
            rows=tuple(KeyRowInfo.from_row(row, now, show) for row in rows),
        )

    # --- RKMP_generateSA / RKMP_rekeySA ------------------------------------------------

    def _one_address(self, peer: PeerConfig) -> Address:
        addresses = self.addresses_of(peer)
        if not addresses:
            raise CommandError(
                ErrorKind.NOT_ESTABLISHED,
                f"prefix peer {peer.name}: no neighbour in {peer.prefix} is known yet",
            )
        if peer.address is None and len(addresses) > 1:
            hosts = ", ".join(a[0] for a in addresses)
            raise CommandError(
                ErrorKind.BAD_REQUEST,
                f"prefix peer {peer.name} has several neighbours ({hosts}); "
                "give each its own [[peer]] to address it",
            )
        return addresses[0]

    async def _exchange(
        self, start: Callable[[], None], match: Callable[[Event], object | None], what: str
    ) -> object:
        """Register for the answering event, start the exchange, wait."""
        service = self.service
        timeout = service.options.command_timeout
        waiting = asyncio.ensure_future(service.wait_for(match, timeout))
        await asyncio.sleep(0)  # the waiter is registered before the engine runs
        try:
            start()
        except UnknownPeer as exc:
            waiting.cancel()
            raise CommandError(ErrorKind.UNKNOWN_PEER, str(exc)) from None
        except PolicyError as exc:
            waiting.cancel()
            raise CommandError(ErrorKind.POLICY, str(exc)) from None
        except NotEstablished as exc:
            waiting.cancel()
            raise CommandError(ErrorKind.NOT_ESTABLISHED, str(exc)) from None
        except UnknownChildSa as exc:
            waiting.cancel()
            raise CommandError(ErrorKind.UNKNOWN_SA, str(exc)) from None
        finally:
            service.pump()
        try:
            answer = await waiting
        except TimeoutError:
            raise CommandError(
                ErrorKind.TIMEOUT, f"{what}: no outcome within {timeout:g}s (it may still complete)"
            ) from None
        if isinstance(answer, CommandError):
            raise answer
        return answer

    async def generate_sa(self, peer_name: str, protocol: ProtocolId) -> GenerateSaResult:
        peer = self.peer_named(peer_name)
        if peer.protocol(protocol) is None:
            raise CommandError(
                ErrorKind.POLICY, f"peer {peer.name} has no [[peer.protocol]] for {protocol.name}"
            )
        address = self._one_address(peer)
        orphans = self.orphans_of(address)
        engine = self.engine

        def result(params: ChildParams) -> GenerateSaResult:
            return GenerateSaResult(
                peer.name, protocol, params.ref.local_key_id, params.ref.remote_key_id
            )

        def match(event: Event) -> object | None:
            match event:
                case ChildSaCreated(child=params) if (
                    params.ref.peer == address and params.ref.protocol == protocol
                ):
                    return result(params)
                case ChildSaRekeyed(old=old, new=params) if (
                    old in orphans and params.ref.protocol == protocol
                ):
                    return result(params)  # it replaced a child kept without an RKMP SA
                case ChildSaFailed(peer=p, protocol=proto, reason=reason, old=None) if (
                    p == address and proto == protocol
                ):
                    return CommandError(ErrorKind.FAILED, f"generate-sa: {reason.value}")
                case RkmpSaFailed(sa=sa, reason=reason) if sa.peer == address:
                    return CommandError(
                        ErrorKind.FAILED, f"generate-sa: the RKMP SA failed ({reason.value})"
                    )
            return None

        answer = await self._exchange(
            lambda: engine.generate_sa(address, protocol, self.service.now()), match, "generate-sa"
        )
        assert isinstance(answer, GenerateSaResult)
        return answer

    def _children(self, protocol: ProtocolId, spi: int, peer_name: str | None) -> list[ChildParams]:
        addresses = (
            self.addresses_of(self.peer_named(peer_name))
            if peer_name is not None
            else self.all_addresses()
        )
        return [
            params
            for address in addresses
            for params in self.engine.child_sas(address)
            if params.ref.protocol == protocol and (spi == 0 or params.ref.local_key_id == spi)
        ]

    async def rekey_sa(
        self, protocol: ProtocolId, spi: int, peer_name: str | None
    ) -> RekeySaResult:
        found = self._children(protocol, spi, peer_name)
        if not found:
            raise CommandError(ErrorKind.UNKNOWN_SA, f"no {protocol.name} SA with SPI {spi}")
        if len(found) > 1:
            peers = ", ".join(self._name(p.ref.peer[0]) for p in found)
            raise CommandError(
                ErrorKind.BAD_REQUEST,
                f"SPI {spi} names {protocol.name} SAs with several peers ({peers}): give the peer",
            )
        ref = found[0].ref
        name = self._name(ref.peer[0])
        engine = self.engine

        def match(event: Event) -> object | None:
            match event:
                case ChildSaRekeyed(old=old, new=params) if old == ref:
                    return RekeySaResult(name, protocol, spi, params.ref.local_key_id)
                case ChildSaFailed(old=old, reason=reason) if old == ref:
                    return CommandError(ErrorKind.FAILED, f"rekey-sa: {reason.value}")
                case RkmpSaFailed(sa=sa, reason=reason) if sa.peer == ref.peer:
                    return CommandError(
                        ErrorKind.FAILED, f"rekey-sa: the RKMP SA failed ({reason.value})"
                    )
            return None

        answer = await self._exchange(
            lambda: engine.rekey_child(ref.peer, protocol, spi, self.service.now()),
            match,
            "rekey-sa",
        )
        assert isinstance(answer, RekeySaResult)
        return answer

    # --- Keytable_delete / RP_revokeSA --------------------------------------------------

    def delete(self, protocol: ProtocolId, spi: int, peer_name: str | None) -> DeleteResult:
        peer = self.peer_named(peer_name) if peer_name is not None else None

        def wanted(host: str) -> bool:
            return peer is None or self._owns(peer, host)

        targets: dict[tuple[int, str], None] = {}
        for row in self.store.rows(protocol):
            if spi == 0 or row.spi == spi:
                for host in row.peers:
                    if wanted(host):
                        targets[(row.spi, host)] = None
        children = self._children(protocol, spi, peer_name)
        for params in children:
            targets[(params.ref.local_key_id, params.ref.peer[0])] = None
        if not targets and spi != 0:
            raise CommandError(ErrorKind.UNKNOWN_SA, f"no {protocol.name} SA with SPI {spi}")
        # The keys go from the table at once; the peer is told with a Delete.
        for row_spi, host in targets:
            self.store.Keytable_delete(protocol, row_spi, host)
        now = self.service.now()
        for params in children:
            ref = params.ref
            self.service.engine_call(
                self.engine.delete_child, ref.peer, ref.protocol, ref.local_key_id, now
            )
        self.service.pump()
        return DeleteResult(tuple(self._ref(protocol, s, host) for s, host in targets))

    def revoke(self, peer_name: str) -> RevokeResult:
        peer = self.peer_named(peer_name)
        engine = self.engine
        wiring = self.service.wiring
        assert wiring is not None
        revoked: dict[tuple[ProtocolId, int, str], None] = {}
        for address in self.addresses_of(peer):
            children = [params.ref for params in engine.child_sas(address)]
            sas = engine.rkmp_sas(address)
            rows: list[KeyRow] = []
            if sas:
                rows += wiring.RP_revokeSA(sas[0], children)
            rows += self.service.revoke_leftover_rows(address[0])
            for row in rows:
                revoked[(row.protocol, row.spi, address[0])] = None
            now = self.service.now()
            for ref in children:  # the peer withdraws them too
                self.service.engine_call(
                    engine.delete_child, ref.peer, ref.protocol, ref.local_key_id, now
                )
            if rows or children:
                self.service.submit_hooks([revoke_call(address, peer.name, "admin", len(rows))])
        self.service.pump()
        log.warning("peer %s revoked by the operator: %d key(s) withdrawn", peer.name, len(revoked))
        return RevokeResult(
            peer.name, tuple(self._ref(proto, spi, host) for proto, spi, host in revoked)
        )


# --------------------------------------------------------------------------- the socket


def _prepare_path(path: Path) -> None:
    """Make the socket's directory; remove a stale socket, refuse to
    replace a live one or anything that is not a socket."""
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: left by a killed daemon
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"{path}: another rkmpd is listening there")


def _bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~SOCKET_MODE)  # created 0660, never wider even briefly
    try:
        sock.bind(str(path))
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, SOCKET_MODE)
    with contextlib.suppress(KeyError, PermissionError, OSError):
        os.chown(path, -1, grp.getgrnam(SOCKET_GROUP).gr_gid)
    sock.listen(64)
    sock.setblocking(False)
    return sock


class ControlServer:
    """The Unix socket ``rkmpctl`` connects to."""

    def __init__(self, service: Service, path: Path) -> None:
        self.service = service
        self.path = Path(path)
        self.commands = Commands(service)
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._inode: int | None = None

    async def start(self) -> None:
        _prepare_path(self.path)
        sock = _bind(self.path)
        self._inode = self.path.stat().st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._clients):
            writer.close()
        with contextlib.suppress(OSError):
            if self._inode is not None and self.path.stat().st_ino == self._inode:
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        buffer = LineBuffer()
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                try:
                    lines = buffer.feed(data)
                except ControlProtocolError as exc:
                    await self._send(writer, Failure.of(exc.kind, exc.message))
                    break  # the stream is out of step: close it
                for line in lines:
                    await self._send(writer, await self._answer(line))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control connection failed")
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _answer(self, line: bytes) -> Response:
        try:
            request = decode_request(line)
        except ControlProtocolError as exc:
            return Failure.of(exc.kind, exc.message)
        return await self.commands.handle(request)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, response: Response) -> None:
        try:
            data = encode_response(response)
        except ControlProtocolError as exc:  # a result too large for one line
            data = encode_response(Failure.of(exc.kind, exc.message))
        writer.write(data)
        await writer.drain()
