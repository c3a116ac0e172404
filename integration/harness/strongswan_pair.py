"""Two charons across a veth pair: handshake, rekey, delete, all captured.

`run_strongswan_exchange` brings everything up, drives one childless IKE SA
through IKE_SA_INIT, IKE_AUTH, an IKE SA rekey (CREATE_CHILD_SA) and two
INFORMATIONAL deletes, and tears everything down again before returning a
plain record of what was seen on the wire and in charon's logs.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from integration.harness.capture import start_capture
from integration.harness.ike import IkeDatagram, ike_datagrams
from integration.harness.netns import two_node_network
from integration.harness.pcap import UdpDatagram
from integration.harness.process import wait_until
from integration.harness.requirements import charon_path
from integration.harness.strongswan import Charon, Childless, IkeConnection, IkeSaStatus

CONNECTION = "rkmp"
INITIATOR_ID = "initiator.rkmp.test"
RESPONDER_ID = "responder.rkmp.test"
CAPTURE_FILTER = "udp port 500 or udp port 4500"


@dataclass(frozen=True)
class ExchangeRecord:
    """What one strongSwan run produced (all processes already stopped)."""

    proposal: str
    initiator_id: str
    responder_id: str
    psk: bytes = field(repr=False)
    datagrams: tuple[UdpDatagram, ...]
    messages: tuple[IkeDatagram, ...]
    initiator_log: str = field(repr=False)
    responder_log: str = field(repr=False)
    first_sa: IkeSaStatus
    rekeyed_sa: IkeSaStatus | None


def run_strongswan_exchange(proposal: str, work_dir: Path, *, rekey: bool = True) -> ExchangeRecord:
    """Run the whole scenario for `proposal`; files stay under `work_dir`."""
    binary = charon_path()
    if binary is None:
        raise RuntimeError("charon not found")
    psk = secrets.token_bytes(32)
    with two_node_network() as link, contextlib.ExitStack() as stack:
        initiator = Charon(link.left.ns, work_dir / "initiator", binary)
        responder = Charon(link.right.ns, work_dir / "responder", binary)
        for charon in (initiator, responder):
            stack.callback(charon.stop)
            charon.start()
        initiator.load(IkeConnection(
            name=CONNECTION,
            local_addr=str(link.left.address), remote_addr=str(link.right.address),
            local_id=INITIATOR_ID, remote_id=RESPONDER_ID,
            proposals=proposal, psk=psk, childless=Childless.FORCE,
        ))  # fmt: skip
        responder.load(IkeConnection(
            name=CONNECTION,
            local_addr=str(link.right.address), remote_addr=str(link.left.address),
            local_id=RESPONDER_ID, remote_id=INITIATOR_ID,
            proposals=proposal, psk=psk, childless=Childless.ALLOW,
        ))  # fmt: skip

        pcap = work_dir / "ike.pcap"
        capture = start_capture(
            link.left.ns, link.left.ifname, CAPTURE_FILTER, pcap, work_dir / "dumpcap.log"
        )
        stack.callback(capture.process.stop)
        capture.sync(link.left.ns, str(link.right.address), 4500)

        initiator.initiate(CONNECTION)
        first_sa = initiator.wait_ike_state(CONNECTION)
        responder.wait_ike_state(CONNECTION)

        rekeyed_sa = None
        if rekey:
            initiator.rekey(CONNECTION)

            def rekeyed() -> IkeSaStatus | None:
                sas = [s for s in initiator.ike_sas() if s.name == CONNECTION]
                if (
                    len(sas) == 1
                    and sas[0].state == "ESTABLISHED"
                    and sas[0].spi_i != first_sa.spi_i
                ):
                    return sas[0]
                return None

            rekeyed_sa = wait_until(rekeyed, timeout=15, what="IKE SA rekey",
                                    diagnostics=initiator.diagnostics)  # fmt: skip

        initiator.terminate(CONNECTION)
        responder.wait_no_ike_sa(CONNECTION)
        capture.wait_for_datagrams(initiator.sent_packet_count() + responder.sent_packet_count())
        capture.stop()
        datagrams = tuple(capture.datagrams_so_far())
        return ExchangeRecord(
            proposal=proposal,
            initiator_id=INITIATOR_ID,
            responder_id=RESPONDER_ID,
            psk=psk,
            datagrams=datagrams,
            messages=tuple(ike_datagrams(datagrams)),
            initiator_log=initiator.log_text(),
            responder_log=responder.log_text(),
            first_sa=first_sa,
            rekeyed_sa=rekeyed_sa,
        )
