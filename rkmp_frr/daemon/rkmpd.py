"""``rkmpd``: the RKMP sidecar daemon.

    rkmpd [--config PATH] [--keylog FILE] [--foreground] [--log-level LEVEL]
    rkmpd --check-config [--config PATH]
    rkmpd demo [--show-secrets]

The daemon runs in the foreground (systemd, or any supervisor, keeps it:
``packaging/rkmpd.service``); ``--foreground`` is accepted for scripts
that pass it. It logs to stderr, one event per line, without key material.
It tells systemd it is ready (``sd_notify READY=1``) once its sockets are
open. SIGTERM/SIGINT: clean shutdown, no key withdrawn. SIGHUP: re-read the
configuration (a bad file is logged and ignored).

Exit codes: 0 stopped by a signal (or a valid configuration with
``--check-config``), 1 could not start (a port or socket in use, an
unwritable state directory), 2 configuration error (one line on stderr:
``<file>: <key>: <problem>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from rkmp_frr.build import stale_build_reason
from rkmp_frr.daemon.config import EXIT_CONFIG_ERROR, check_config
from rkmp_frr.daemon.config_load import ConfigError, load_config
from rkmp_frr.daemon.config_model import DEFAULT_CONFIG_FILE, DaemonConfig
from rkmp_frr.daemon.logging_setup import setup_logging
from rkmp_frr.daemon.routing_sinks import RoutingSink, SinkStartError, build_routing_sinks
from rkmp_frr.daemon.service import Service, ServiceOptions
from rkmp_frr.keytable import Sink

log = logging.getLogger("rkmp_frr.daemon.rkmpd")

EXIT_OK = 0
EXIT_START_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rkmpd",
        description="RKMP sidecar: negotiates routing-protocol keys with neighbours "
        "and feeds them to FRR / BIRD.",
    )
    parser.add_argument(
        "--config", default=str(DEFAULT_CONFIG_FILE), help="configuration file (%(default)s)"
    )
    parser.add_argument(
        "--keylog",
        metavar="FILE",
        help="append Wireshark IKEv2 decryption lines (RKMP SA keys, in the clear) to FILE",
    )
    parser.add_argument(
        "--foreground", action="store_true", help="run in the foreground (always the case)"
    )
    parser.add_argument(
        "--check-config", action="store_true", help="check the configuration and exit"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="%(default)s",
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="two sidecars on loopback negotiate TCP-AO, TCP-MD5 and OSPFv2 keys (no root)",
    )
    demo.add_argument(
        "--show-secrets", action="store_true", help="print keys instead of masking them"
    )
    return parser


def describe_os_error(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def raise_fd_limit() -> None:
    """One socket per listen address and per control client: lift the
    soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def sd_notify(state: str) -> None:
    """Tell systemd (Type=notify) about our state; nothing without it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.sendto(state.encode(), address)


async def build_sinks(config: DaemonConfig, current: Sequence[Sink] = ()) -> list[Sink]:
    """The key table sinks ``[sinks.*]`` asks for: FRR and BIRD
    (``rkmp_frr.daemon.routing_sinks``: each daemon asked its version, the
    configured protocols checked against it). ``current``: the sinks
    running now (SIGHUP), kept where their table did not change.
    ConfigError (exit 2) or SinkStartError (exit 1)."""
    routing = [sink for sink in current if isinstance(sink, RoutingSink)]
    sinks: list[Sink] = [*await build_routing_sinks(config, routing)]
    sinks += build_kernel_sink(config, current)
    return sinks


def build_kernel_sink(config: DaemonConfig, current: Sequence[Sink] = ()) -> list[Sink]:
    """``[sinks.kernel]``: OSPFv3-over-IPsec keys as kernel XFRM SAs and
    policies (``rkmp_frr.sinks.kernel_sink``); SinkStartError without XFRM."""
    from rkmp_frr.sinks.kernel_sink import build_kernel_sinks

    try:
        return list(build_kernel_sinks(config.sinks.kernel, current))
    except OSError as exc:
        raise SinkStartError(f"kernel sink: no XFRM netlink ({describe_os_error(exc)})") from None


async def reload_daemon(service: Service, config_path: Path) -> bool:
    """SIGHUP: the new file, with its sinks built and checked, or nothing
    changes at all."""
    try:
        config = load_config(config_path)
        sinks = await build_sinks(config, service.sinks)
    except (ConfigError, SinkStartError) as exc:
        log.error("reload failed, configuration unchanged: %s", exc)
        return False
    await service.apply_config(config)
    await service.replace_sinks(sinks)
    return True


async def run_daemon(config_path: Path, config: DaemonConfig, keylog: Path | None) -> int:
    if (stale := stale_build_reason()) is not None:
        # A checkout's compiled modules shadow its sources: this runs old code.
        log.warning("%s: run scripts/setup.sh to rebuild them", stale)
    try:
        sinks = await build_sinks(config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except SinkStartError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_START_FAILED
    service = Service(config, options=ServiceOptions(keylog=keylog), sinks=sinks)
    try:
        await service.start()
    except OSError as exc:
        log.error("cannot start: %s", describe_os_error(exc))
        return EXIT_START_FAILED
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()

    def spawn(coro: object) -> None:
        task: asyncio.Task[object] = loop.create_task(coro)  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_stop(signame: str) -> None:
        log.info("%s: shutting down", signame)
        sd_notify("STOPPING=1")
        spawn(service.stop())

    def on_hup() -> None:
        log.info("SIGHUP: reloading %s", config_path)
        sd_notify("RELOADING=1")

        async def reload() -> None:
            await reload_daemon(service, config_path)
            sd_notify("READY=1")

        spawn(reload())

    loop.add_signal_handler(signal.SIGTERM, on_stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, on_stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    for warning in config.warnings:
        log.warning("%s", warning)
    sd_notify("READY=1")
    await service.wait_stopped()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from rkmp_frr.daemon.demo import run_demo

        return run_demo(show_secrets=args.show_secrets)
    if args.check_config:
        return check_config(args.config)
    setup_logging(getattr(logging, args.log_level.upper()))
    config_path = Path(args.config)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    raise_fd_limit()
    keylog = Path(args.keylog) if args.keylog else None
    try:
        return asyncio.run(run_daemon(config_path, config, keylog))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
