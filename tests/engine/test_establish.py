"""RKMP_SA_INIT + RKMP_SA_AUTH between two in-memory engines."""

from __future__ import annotations

from rkmp_frr.engine import ChildSaCreated, RkmpSaEstablished

from .harness import ADDR_A, ADDR_B, pair


def test_psk_establishment_with_first_child() -> None:
    net, a, b = pair()
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert len(a.of_type(RkmpSaEstablished)) == 1
    assert len(b.of_type(RkmpSaEstablished)) == 1
    created_a = a.of_type(ChildSaCreated)
    created_b = b.of_type(ChildSaCreated)
    assert len(created_a) == 1 and len(created_b) == 1
    ca, cb = created_a[0].child, created_b[0].child
    assert ca.master_key == cb.master_key
    assert ca.ref.local_key_id == cb.ref.remote_key_id
    assert ca.ref.remote_key_id == cb.ref.local_key_id
    [sa_a] = a.engine.rkmp_sas(ADDR_B)
    [sa_b] = b.engine.rkmp_sas(ADDR_A)
    assert (sa_a.spi_i, sa_a.spi_r) == (sa_b.spi_i, sa_b.spi_r)
