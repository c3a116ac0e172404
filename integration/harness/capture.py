"""Packet capture with dumpcap inside a namespace, into a classic pcap file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from integration.harness.netns import NetNs
from integration.harness.pcap import UdpDatagram, read_udp_datagrams
from integration.harness.process import ManagedProcess, run, start_process, wait_until

START_TIMEOUT = 10.0
# libpcap hands packets to dumpcap in blocks (TPACKET_V3) after a timeout,
# and dumpcap flushes its file periodically: allow for both.
DRAIN_TIMEOUT = 10.0
# dumpcap prints this on stderr once the interface is open and filtered.
READY_MARKER = "Capturing on"
# Payload of the datagrams `sync` sends; `datagrams` leaves them out.
SYNC_PAYLOAD = b"rkmp-capture-sync"


@dataclass
class Capture:
    """A running dumpcap; `stop` flushes and closes the file."""

    process: ManagedProcess
    pcap_path: Path

    def datagrams_so_far(self) -> list[UdpDatagram]:
        """What the file holds now, without `sync`'s probes."""
        if not self.pcap_path.exists():
            return []
        return [
            datagram
            for datagram in read_udp_datagrams(self.pcap_path, allow_truncated=True)
            if datagram.payload != SYNC_PAYLOAD
        ]

    def sync(self, ns: NetNs, host: str, port: int, timeout: float = DRAIN_TIMEOUT) -> None:
        """Send probe datagrams from `ns` to `host`:`port` (a port the filter
        keeps) until one shows up in the file: dumpcap says it is capturing a
        little before the kernel really hands it packets, and a busy machine
        widens that gap."""

        def seen() -> bool:
            run(["python3", "-c", _probe_source(host, port)], netns=ns.name)
            return self.pcap_path.exists() and any(
                datagram.payload == SYNC_PAYLOAD
                for datagram in read_udp_datagrams(self.pcap_path, allow_truncated=True)
            )

        wait_until(seen, timeout=timeout, what=f"a probe datagram in {self.pcap_path}",
                   diagnostics=self.process.log_tail)  # fmt: skip

    def wait_for_datagrams(self, count: int, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until the file holds at least `count` UDP datagrams.

        Stopping dumpcap right after the traffic loses what the kernel has
        not yet handed over, so callers wait for what they know was sent.
        """
        wait_until(
            lambda: len(self.datagrams_so_far()) >= count,
            timeout=timeout,
            what=f"{count} datagrams in {self.pcap_path}",
            diagnostics=lambda: f"have {len(self.datagrams_so_far())}\n{self.process.log_tail()}",
        )

    def stop(self) -> Path:
        status = self.process.stop()
        # dumpcap exits 0 on SIGTERM after writing everything it received.
        if status != 0:
            raise RuntimeError(f"dumpcap exited with {status}\n{self.process.log_tail()}")
        return self.pcap_path


def _probe_source(host: str, port: int) -> str:
    family = "AF_INET6" if ":" in host else "AF_INET"
    return (
        f"import socket; socket.socket(socket.{family}, socket.SOCK_DGRAM)"
        f".sendto({SYNC_PAYLOAD!r}, ({host!r}, {port}))"
    )


def start_capture(
    ns: NetNs, interface: str, capture_filter: str, pcap_path: Path, log_path: Path
) -> Capture:
    """Start dumpcap on `interface` in `ns`; returns once it is capturing."""
    process = start_process(
        f"dumpcap[{ns.name}:{interface}]",
        ["dumpcap", "-q", "-P", "-i", interface, "-f", capture_filter, "-w", str(pcap_path)],
        log_path=log_path,
        netns=ns.name,
    )
    try:

        def ready() -> bool:
            process.check_alive()
            return log_path.exists() and READY_MARKER in log_path.read_text(errors="replace")

        wait_until(ready, timeout=START_TIMEOUT, what="dumpcap to start capturing",
                   diagnostics=process.log_tail)  # fmt: skip
    except BaseException:
        process.stop()
        raise
    return Capture(process, pcap_path)


@contextlib.contextmanager
def capturing(
    ns: NetNs, interface: str, capture_filter: str, pcap_path: Path, log_path: Path
) -> Iterator[Capture]:
    """Capture for the duration of the block; always stops dumpcap."""
    capture = start_capture(ns, interface, capture_filter, pcap_path, log_path)
    try:
        yield capture
    finally:
        capture.process.stop()
