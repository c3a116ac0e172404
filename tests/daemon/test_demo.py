"""``rkmpd demo``: runs the real code paths and prints no key unless asked."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from rkmp_frr.daemon.demo import demo, mask, run_demo
from rkmp_frr.daemon.rkmpd import main
from rkmp_frr.keytable import KeyTableStore


def _keys(root: Path) -> set[str]:
    found = set()
    for side in ("r1", "r2"):
        with KeyTableStore.open(state_dir=root / side / "state") as store:
            found |= {row.key for row in store.rows()}
    return found


def test_demo_negotiates_rekeys_and_masks_keys(tmp_path: Path) -> None:
    out = io.StringIO()
    assert asyncio.run(demo(False, out, tmp_path)) == 0
    text = out.getvalue()
    for heading in ("1. RKMP SA", "2. TCP-AO rekeyed", "3. Key tables", "4. Routing", "5. Summary"):
        assert heading in text
    for protocol in ("tcp-ao", "tcp-md5", "ospfv2"):
        assert f"{protocol}: " in text.split("5. Summary")[1]
    # the sinks' renderers: FRR (TCP-MD5 password, OSPF key chain) and BIRD (TCP-AO keys)
    assert "router bgp 65001" in text and "key chain rkmp-ospf-eth0" in text
    assert "authentication ao;" in text and "protocol ospf v2" in text
    keys = _keys(tmp_path)
    assert len(keys) == 4  # TCP-AO twice (rekeyed), TCP-MD5, OSPFv2
    for key in keys:
        assert key not in text and key.upper() not in text


def test_demo_shows_keys_only_when_asked(tmp_path: Path) -> None:
    out = io.StringIO()
    assert asyncio.run(demo(True, out, tmp_path)) == 0
    assert _keys(tmp_path) <= set(out.getvalue().split())


def test_rkmpd_demo_command_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert "5. Summary" in capsys.readouterr().out
    out = io.StringIO()
    assert run_demo(out=out) == 0


def test_mask_replaces_every_key() -> None:
    class Row:
        key = "ab" * 16

    text = f"password {'ab' * 16} and {'AB' * 16}"
    assert mask(text, [Row()]) == "password <16 octets masked> and <16 octets masked>"  # type: ignore[list-item]
