"""BIRD renderer: the whole include file for a key table state.

The golden files under ``golden/`` were checked by hand against BIRD's
documentation (and parse with ``bird -p`` 2.0.12 / 2.17.1). Regenerate
them with ``RKMP_UPDATE_GOLDEN=1`` after an intended change, and review
the diff.
"""

from __future__ import annotations

import dataclasses
import os
import random
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from rkmp_frr.keytable.row import Direction, KeyRow, Lifetimes
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdConfig,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
    render_bird,
)
from rkmp_frr.sinks.features import Version, bird_features
from rkmp_frr.sinks.keyed import Secured, SecuredKind
from rkmp_frr.sinks.render import MissingSinkConfig, UnrenderableRow, UnsupportedFeature
from rkmp_frr.sinks.secrets import mask_key
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import (
    EXCLUDE_OPTIONS,
    IMMEDIATE,
    PEER,
    PEER_B,
    T0,
    make_row,
    rekeyed,
    since,
    with_direction,
)

GOLDEN = Path(__file__).parent / "golden"
BIRD2012 = bird_features(Version(2, 0, 12))
BIRD217 = bird_features(Version(2, 17, 6))
CONFIG = BirdRenderConfig(
    bgp=(
        BirdBgpSession(
            "rkmp_peer1", PEER, neighbor_as=65002, template="rkmp_peer", options=("hold time 9;",)
        ),
        BirdBgpSession(
            "rkmp_peer2", PEER_B, neighbor_as=65003, local_as=65001, local_address="192.0.2.254"
        ),
    ),
    ospf=(
        BirdOspfInstance(
            "core",
            2,
            (
                BirdOspfArea(
                    "0",
                    (
                        BirdOspfInterface("eth0", ("type ptp;", "hello 5;")),
                        BirdOspfInterface("lo", ("stub;",), secured=False),
                    ),
                ),
            ),
            options=("ipv4 { import all; export none; };",),
        ),
        BirdOspfInstance(
            "core6",
            3,
            (BirdOspfArea("0.0.0.1", (BirdOspfInterface("eth1", ("type ptp;",)),)),),
            options=("ipv6 { import all; export none; };",),
        ),
    ),
)
# Everything CONFIG secures, as if rkmpd had keyed it before (a revoke).
KEYED = frozenset(
    {
        Secured(SecuredKind.BGP, "rkmp_peer1"),
        Secured(SecuredKind.BGP, "rkmp_peer2"),
        Secured(SecuredKind.OSPF, "core/eth0"),
        Secured(SecuredKind.OSPF6, "core6/eth1"),
    }
)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RKMP_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs; see the module docstring"


def md5(key_id: int, lifetimes: Lifetimes, peer: str = PEER) -> KeyRow:
    return make_row(ProtocolId.TCP_MD5, key_id, lifetimes, peer=peer)


def ao(
    send_id: int, recv_id: int, lifetimes: Lifetimes, integ: IntegId = IntegId.HMAC_SHA1_96
) -> KeyRow:
    return make_row(ProtocolId.TCP_AO, send_id, lifetimes, remote_key_id=recv_id, integ=integ)


def ospf(key_id: int, lifetimes: Lifetimes, integ: IntegId = IntegId.RKMP_HMAC_SHA2_256) -> KeyRow:
    return make_row(
        ProtocolId.OSPFV2, key_id, lifetimes, interfaces=frozenset({"eth0"}), integ=integ
    )


def ospf6(key_id: int, lifetimes: Lifetimes) -> KeyRow:
    return make_row(ProtocolId.OSPFV3, key_id, lifetimes, interfaces=frozenset({"eth1"}))


def block(text: str, header: str) -> str:
    """The protocol block starting with ``header``."""
    start = text.index(header)
    return text[start : text.index("\n}\n", start) + 3]


# --- BGP TCP-MD5 ----------------------------------------------------------------------


def test_bgp_md5_insert() -> None:
    row = md5(1, since(T0))
    out = render_bird([row], CONFIG, BIRD2012, T0, keyed=KEYED)
    golden("bgp_md5.conf", out.text)
    assert f'password "{row.key}";' in block(out.text, "protocol bgp rkmp_peer1")
    assert "disabled" not in block(out.text, "protocol bgp rkmp_peer1")
    # No key for the other session (nor for the OSPF interfaces): closed.
    peer2 = block(out.text, "protocol bgp rkmp_peer2")
    assert "password" not in peer2 and "\tdisabled;\n" in peer2
    assert out.closed == ("rkmp_peer2", "core/eth0", "core6/eth1")
    assert out.md5_changes_since(None) == ("rkmp_peer1",)


def test_bgp_md5_rekey_and_revoke_name_the_restarted_sessions() -> None:
    old = md5(1, since(T0))
    first = render_bird([old], CONFIG, BIRD2012, T0, keyed=KEYED)
    old2, new = rekeyed(old, md5(2, since(T0)), T0 + 100, IMMEDIATE)
    second = render_bird([old2, new], CONFIG, BIRD2012, T0 + 100, keyed=KEYED)
    assert f'password "{new.key}";' in second.text and old.key not in second.text
    assert second.md5_changes_since(first) == ("rkmp_peer1",)
    assert (
        render_bird([old2, new], CONFIG, BIRD2012, T0 + 100, keyed=KEYED).md5_changes_since(second)
        == ()
    )
    revoked = render_bird([], CONFIG, BIRD2012, T0 + 200, keyed=KEYED)
    assert "password" not in revoked.text
    assert revoked.md5_changes_since(second) == ("rkmp_peer1",)
    # Fail closed: the session is disabled, not left to run unauthenticated.
    assert block(revoked.text, "protocol bgp rkmp_peer1") == (
        "protocol bgp rkmp_peer1 from rkmp_peer {\n"
        f"\tneighbor {PEER} as 65002;\n"
        "\thold time 9;\n"
        "\t# fail closed: no usable key, so no session until there is one\n"
        "\tdisabled;\n"
        "}\n"
    )
    assert "protocol rkmp_peer1: no usable key, disabled (fail closed)" in revoked.notes
    back = md5(3, since(T0 + 300))
    reopened = render_bird([back], CONFIG, BIRD2012, T0 + 300, keyed=KEYED)
    peer1 = block(reopened.text, "protocol bgp rkmp_peer1")
    assert "disabled" not in peer1 and f'password "{back.key}";' in peer1
    assert reopened.md5_changes_since(revoked) == ("rkmp_peer1",)


def test_bgp_restart_without_keys_disables_every_keyed_session() -> None:
    out = render_bird([], CONFIG, BIRD217, T0, keyed=KEYED)
    for name in ("rkmp_peer1", "rkmp_peer2"):
        assert "\tdisabled;\n" in block(out.text, f"protocol bgp {name}")
    assert "authentication" not in out.text and "password" not in out.text


def test_bgp_key_not_valid_yet_keeps_the_session_disabled_until_it_is() -> None:
    later = md5(1, Lifetimes(T0 + 60, T0 + 9000, T0 + 60, T0 + 9000))
    early = render_bird([later], CONFIG, BIRD2012, T0, keyed=KEYED)
    assert "\tdisabled;\n" in block(early.text, "protocol bgp rkmp_peer1")
    assert early.next_change_at == T0 + 60
    on_time = render_bird([later], CONFIG, BIRD2012, T0 + 60, keyed=KEYED)
    assert "disabled" not in block(on_time.text, "protocol bgp rkmp_peer1")


def test_bgp_ao_revoke_disables_the_session() -> None:
    old, new = ao_rekey()
    keyed = render_bird([old, new], CONFIG, BIRD217, T0 + 1200, keyed=KEYED)
    assert "disabled" not in block(keyed.text, "protocol bgp rkmp_peer1")
    revoked = block(
        render_bird([], CONFIG, BIRD217, T0 + 1300, keyed=KEYED).text, "protocol bgp rkmp_peer1"
    )
    assert "\tdisabled;\n" in revoked and "authentication" not in revoked


# --- BGP TCP-AO -----------------------------------------------------------------------


def ao_rekey() -> tuple[KeyRow, KeyRow]:
    old = ao(1, 2, since(T0))
    return rekeyed(old, ao(3, 4, since(T0), IntegId.AES_CMAC_96), T0 + 1000)


def marks(out: BirdConfig) -> list[tuple[str, str]]:
    """(send id line, mark line or "") per TCP-AO key, in file order."""
    found = []
    lines = out.text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("send id"):
            after = lines[i + 4].strip()
            found.append((line.strip(), after if after in ("preferred;", "deprecated;") else ""))
    return found


def test_bgp_ao_rekey_is_make_before_break() -> None:
    old, new = ao_rekey()
    # Accepted but not yet sent: the old key stays preferred, the new one plain.
    early = render_bird([old, new], CONFIG, BIRD217, T0 + 1100, keyed=KEYED)
    assert marks(early) == [("send id 1;", "preferred;"), ("send id 3;", "")]
    assert early.next_change_at == T0 + 1180
    # From the new key's send start: new preferred, old deprecated (still accepted).
    late = render_bird([old, new], CONFIG, BIRD217, T0 + 1200, keyed=KEYED)
    golden("bgp_ao_rekey.conf", late.text)
    assert marks(late) == [("send id 1;", "deprecated;"), ("send id 3;", "preferred;")]
    # After the grace period only the new key is left.
    done = render_bird([old, new], CONFIG, BIRD217, T0 + 1481, keyed=KEYED)
    assert marks(done) == [("send id 3;", "preferred;")]
    assert late.md5_changes_since(early) == ()


def test_bgp_ao_before_217_is_refused() -> None:
    old, new = ao_rekey()
    with pytest.raises(UnsupportedFeature) as caught:
        render_bird([old, new], CONFIG, BIRD2012, T0 + 1100)
    error = caught.value
    assert (error.daemon, error.version, error.protocol) == ("bird", "BIRD 2.0.12", "TCP-AO")
    assert error.requirement == "BIRD >= 2.17 or BIRD >= 3.1"
    with pytest.raises(UnsupportedFeature):
        render_bird([old], CONFIG, bird_features(Version(3, 0, 5)), T0)
    render_bird([old], CONFIG, bird_features(Version(3, 1, 0)), T0)


def test_bgp_ao_without_a_current_key_keeps_the_newest_plain() -> None:
    leftover = ao(1, 2, Lifetimes(T0, T0 + 100, T0, T0 + 400))
    out = render_bird([leftover], CONFIG, BIRD217, T0 + 200)
    assert marks(out) == [("send id 1;", "")]
    assert "no TCP-AO key is current" in out.notes[0]


def test_bgp_ao_keys_that_exclude_tcp_options_are_refused() -> None:
    row = make_row(ProtocolId.TCP_AO, 1, since(T0), remote_key_id=2, options=EXCLUDE_OPTIONS)
    with pytest.raises(UnsupportedFeature, match="leave TCP options out of the MAC"):
        render_bird([row], CONFIG, BIRD217, T0)


def test_bgp_ao_duplicate_ids_are_refused() -> None:
    a = ao(1, 2, since(T0))
    b = dataclasses.replace(ao(1, 5, since(T0 + 10)), spi=9, admin_key_name="rkmp/TCP-AO/x/09")
    out = render_bird([a, b], CONFIG, BIRD217, T0 + 20, strict=False)
    assert [str(e) for e in out.refused] == [
        "bird sink: TCP-AO row rkmp/TCP-AO/x/09: another key has its Send or Recv ID"
    ]
    assert marks(out) == [("send id 1;", "preferred;")]


def test_bgp_ao_sha256_is_rendered_with_a_note() -> None:
    row = ao(1, 2, since(T0), IntegId.HMAC_SHA2_256_128)
    out = render_bird([row], CONFIG, BIRD217, T0)
    assert "algorithm hmac sha256;" in out.text
    assert "96-bit MAC" in out.notes[0]


def test_ao_wins_over_md5_for_one_session() -> None:
    out = render_bird([ao(1, 2, since(T0)), md5(1, since(T0))], CONFIG, BIRD217, T0)
    assert "authentication ao;" in out.text and "password" not in block(
        out.text, "protocol bgp rkmp_peer1"
    )
    assert out.md5_passwords == {}
    assert "TCP-MD5 password left out" in out.notes[0]


# --- OSPF -----------------------------------------------------------------------------


def test_ospf_rekey_gives_two_password_blocks_with_their_windows() -> None:
    old = ospf(3, since(T0))
    old2, new = rekeyed(old, ospf(4, since(T0)), T0 + 1000)
    v3 = ospf6(9, since(T0 - 86400))
    out = render_bird([old2, new, v3], CONFIG, BIRD2012, T0 + 1000, keyed=KEYED)
    golden("ospf_rekey.conf", out.text)
    core = block(out.text, "protocol ospf v2 core")
    # The old key: sent until its send end (BIRD's "to" is exclusive: +1 s),
    # accepted 300 s longer; the new key: accepted now, sent from +180 s.
    assert (
        f'\t\t\tpassword "{old.key}" {{\n'
        "\t\t\t\tid 3;\n"
        "\t\t\t\talgorithm hmac sha256;\n"
        '\t\t\t\tgenerate from "2025-06-15 15:06:40";\n'
        '\t\t\t\tgenerate to "2025-06-15 15:26:21";\n'
        '\t\t\t\taccept from "2025-06-15 15:06:40";\n'
        '\t\t\t\taccept to "2025-06-15 15:31:21";\n'
        "\t\t\t};\n"
    ) in core
    assert (
        f'\t\t\tpassword "{new.key}" {{\n'
        "\t\t\t\tid 4;\n"
        "\t\t\t\talgorithm hmac sha256;\n"
        '\t\t\t\tgenerate from "2025-06-15 15:26:20";\n'
        '\t\t\t\taccept from "2025-06-15 15:23:20";\n'
        "\t\t\t};\n"
    ) in core
    assert 'interface "lo" {\n\t\t\tstub;\n\t\t};' in core  # not secured: left alone
    assert "stub yes" not in out.text and out.closed == ("rkmp_peer1", "rkmp_peer2")


def test_ospf_keyed_md5_and_directions() -> None:
    accept_only = with_direction(ospf(5, since(T0), IntegId.RKMP_KEYED_MD5), Direction.IN)
    send_only = with_direction(ospf(6, since(T0)), Direction.OUT)
    out = render_bird([accept_only, send_only], CONFIG, BIRD2012, T0)
    core = block(out.text, "protocol ospf v2 core")
    assert (
        "\t\t\t\tid 5;\n"
        "\t\t\t\talgorithm keyed md5;\n"
        '\t\t\t\tgenerate from "2025-06-15 15:06:40";\n'
        '\t\t\t\tgenerate to "2025-06-15 15:06:40";\n'  # an empty window: never sent
        '\t\t\t\taccept from "2025-06-15 15:06:40";\n'
        "\t\t\t};\n"
    ) in core
    assert (
        "\t\t\t\tid 6;\n"
        "\t\t\t\talgorithm hmac sha256;\n"
        '\t\t\t\tgenerate from "2025-06-15 15:06:40";\n'
        '\t\t\t\taccept from "2025-06-15 15:06:40";\n'
        '\t\t\t\taccept to "2025-06-15 15:06:40";\n'  # never accepted
        "\t\t\t};\n"
    ) in core


def test_ospf_revoke_makes_the_interface_stub() -> None:
    """Fail closed: a secured interface without keys sends and accepts
    nothing; an unsecured one is left as configured."""
    keyed = render_bird(
        [ospf(3, since(T0)), ospf6(7, since(T0))], CONFIG, BIRD2012, T0, keyed=KEYED
    )
    assert "stub yes" not in keyed.text
    out = render_bird([], CONFIG, BIRD2012, T0 + 10, keyed=KEYED)
    assert "authentication" not in out.text and "password" not in out.text
    assert out.next_change_at is None
    core = block(out.text, "protocol ospf v2 core")
    assert (
        '\t\tinterface "eth0" {\n'
        "\t\t\ttype ptp;\n"
        "\t\t\thello 5;\n"
        "\t\t\t# fail closed: no key to send with, so no packets in or out\n"
        "\t\t\tstub yes;\n"
        "\t\t};\n"
    ) in core
    assert 'interface "lo" {\n\t\t\tstub;\n\t\t};' in core
    assert "\t\t\tstub yes;\n" in block(out.text, "protocol ospf v3 core6")
    assert out.closed == ("rkmp_peer1", "rkmp_peer2", "core/eth0", "core6/eth1")
    assert "protocol core interface eth0: no key to send with, stub (fail closed)" in out.notes


def test_ospf_interface_without_a_key_to_send_with_is_stub_with_its_keys() -> None:
    """Keys accepted but none sent yet (or accept-only keys): stub, keys
    kept, until a key's generate window starts."""
    later = dataclasses.replace(ospf(3, since(T0)), send_lifetime_start=T0 + 60)
    early = render_bird([later], CONFIG, BIRD2012, T0)
    eth0 = block(early.text, "protocol ospf v2 core")
    assert "stub yes;" in eth0 and f'password "{later.key}"' in eth0
    assert early.next_change_at == T0 + 60
    assert "stub yes;" not in block(
        render_bird([later], CONFIG, BIRD2012, T0 + 60).text, "protocol ospf v2 core"
    )
    accept_only = with_direction(ospf(5, since(T0)), Direction.IN)
    assert "core/eth0" in render_bird([accept_only], CONFIG, BIRD2012, T0).closed


def test_ospf_rows_for_an_unsecured_interface_are_refused() -> None:
    row = make_row(ProtocolId.OSPFV2, 3, since(T0), interfaces=frozenset({"lo"}))
    with pytest.raises(UnrenderableRow, match="interface lo is configured with secured = false"):
        render_bird([row], CONFIG, BIRD2012, T0)


def test_ospf_times_are_in_birds_time_zone() -> None:
    east = dataclasses.replace(CONFIG, timezone=timezone(timedelta(hours=2)))
    out = render_bird([ospf(3, since(T0))], east, BIRD2012, T0)
    assert 'generate from "2025-06-15 17:06:40";' in out.text


def test_ospf_refusals() -> None:
    big_id = ospf6(300, since(T0))
    with pytest.raises(UnrenderableRow, match=r"key ID outside BIRD's password IDs 0\.\.255"):
        render_bird([big_id], CONFIG, BIRD2012, T0)
    elsewhere = make_row(ProtocolId.OSPFV2, 3, since(T0), interfaces=frozenset({"eth9"}))
    with pytest.raises(MissingSinkConfig, match="OSPFv2: no sink configuration for interface eth9"):
        render_bird([elsewhere], CONFIG, BIRD2012, T0)
    anywhere = make_row(ProtocolId.OSPFV2, 3, since(T0))
    with pytest.raises(UnrenderableRow, match="names no interface"):
        render_bird([anywhere], CONFIG, BIRD2012, T0)
    with pytest.raises(UnsupportedFeature, match=r"bird \(BIRD 2.0.2\) cannot do OSPFv3"):
        render_bird([ospf6(3, since(T0))], CONFIG, bird_features(Version(2, 0, 2)), T0)


# --- everything else ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "name"), [(ProtocolId.ISIS, "IS-IS"), (ProtocolId.BFD, "BFD")]
)
def test_isis_and_bfd_are_refused(protocol: ProtocolId, name: str) -> None:
    row = make_row(protocol, 3, since(T0), interfaces=frozenset({"eth0"}))
    with pytest.raises(UnsupportedFeature) as caught:
        render_bird([row], CONFIG, BIRD217, T0)
    assert (caught.value.daemon, caught.value.protocol) == ("bird", name)
    lenient = render_bird([row, md5(1, since(T0))], CONFIG, BIRD217, T0, strict=False)
    assert len(lenient.refused) == 1 and "password" in lenient.text


def test_missing_bgp_session_is_refused() -> None:
    with pytest.raises(MissingSinkConfig, match=r"BGP neighbour 192\.0\.2\.9"):
        render_bird([md5(1, since(T0), peer="192.0.2.9")], CONFIG, BIRD2012, T0)


def test_bird_1_is_refused() -> None:
    with pytest.raises(UnsupportedFeature, match="BIRD 2 configuration syntax"):
        render_bird([], CONFIG, bird_features(Version(1, 6, 8)), T0)


def test_output_is_deterministic() -> None:
    old, new = ao_rekey()
    rows = [old, new, ospf(3, since(T0)), ospf6(7, since(T0)), md5(1, since(T0), peer=PEER_B)]
    first = render_bird(rows, CONFIG, BIRD217, T0 + 1200).text
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    reordered_config = dataclasses.replace(CONFIG, bgp=CONFIG.bgp[::-1], ospf=CONFIG.ospf[::-1])
    assert render_bird(shuffled, reordered_config, BIRD217, T0 + 1200).text == first
    assert render_bird(rows, CONFIG, BIRD217, T0 + 1200).text == first


def test_keys_only_in_the_text() -> None:
    old, new = ao_rekey()
    rows = [old, new, ospf(3, since(T0)), ospf6(7, since(T0)), md5(1, since(T0), peer=PEER_B)]
    out = render_bird(rows, CONFIG, BIRD217, T0 + 1200)
    for row in rows:
        assert row.key in out.text
        assert row.key not in out.masked_text and mask_key(row.key) in out.masked_text
        assert row.key not in repr(out) and row.key not in str(out)
    assert out.masked_text.replace(mask_key(new.key), "K") != out.masked_text


def test_sink_config_validation() -> None:
    with pytest.raises(ValueError):
        BirdBgpSession("bad name", PEER)
    with pytest.raises(ValueError):
        BirdBgpSession("ok", "nowhere")
    with pytest.raises(ValueError):
        BirdBgpSession("ok", PEER, options=("a;\nb;",))
    with pytest.raises(ValueError):
        BirdOspfInterface('eth"0')
    with pytest.raises(ValueError):
        BirdOspfArea("backbone", ())
    with pytest.raises(ValueError):
        BirdOspfInstance("o", 4, ())
    with pytest.raises(ValueError, match="share a name"):
        BirdRenderConfig(bgp=(BirdBgpSession("a", PEER), BirdBgpSession("a", PEER_B)))
    eth = BirdOspfArea("0", (BirdOspfInterface("eth0"),))
    with pytest.raises(ValueError, match="eth0 in two OSPFv2 areas"):
        BirdRenderConfig(ospf=(BirdOspfInstance("a", 2, (eth,)), BirdOspfInstance("b", 2, (eth,))))
    BirdRenderConfig(ospf=(BirdOspfInstance("a", 2, (eth,)), BirdOspfInstance("b", 3, (eth,))))


def test_md5_says_authentication_md5_where_bird_has_the_option() -> None:
    row = md5(1, since(T0))
    new = block(render_bird([row], CONFIG, BIRD217, T0).text, "protocol bgp rkmp_peer1")
    assert f'\tauthentication md5;\n\tpassword "{row.key}";\n' in new
    old = block(render_bird([row], CONFIG, BIRD2012, T0).text, "protocol bgp rkmp_peer1")
    assert "authentication" not in old and f'\tpassword "{row.key}";\n' in old


# --- fail closed only what rkmpd keyed (rkmp_frr.sinks.keyed) -----------------------------


def test_never_keyed_sessions_and_interfaces_are_rendered_as_configured() -> None:
    """No key and never keyed: the blocks are the sink configuration's,
    without ``disabled``, ``stub`` or authentication."""
    out = render_bird([], CONFIG, BIRD2012, T0)
    assert out.closed == () and out.keyed == frozenset() and out.notes == ()
    assert block(out.text, "protocol bgp rkmp_peer1") == (
        "protocol bgp rkmp_peer1 from rkmp_peer {\n"
        f"\tneighbor {PEER} as 65002;\n"
        "\thold time 9;\n"
        "}\n"
    )
    for word in ("disabled", "stub yes", "authentication", "password"):
        assert word not in out.text
    # Keyed before: the same rows give the closed rendering.
    closed = render_bird([], CONFIG, BIRD2012, T0, keyed=KEYED)
    assert closed.closed == ("rkmp_peer1", "rkmp_peer2", "core/eth0", "core6/eth1")


def test_rendering_names_what_it_keys() -> None:
    later = dataclasses.replace(ospf6(7, since(T0)), send_lifetime_start=T0 + 60)
    out = render_bird([md5(1, since(T0)), ospf(3, since(T0)), later], CONFIG, BIRD2012, T0)
    assert out.keyed == {
        Secured(SecuredKind.BGP, "rkmp_peer1"),
        Secured(SecuredKind.OSPF, "core/eth0"),
        Secured(SecuredKind.OSPF6, "core6/eth1"),
    }
    # A password not valid for sending yet: keyed, so stub until it is.
    assert out.closed == ("core6/eth1",)


def test_an_operators_disabled_and_stub_stay_through_a_revoke_and_keys_back() -> None:
    """BIRD's equivalent of an operator's shutdown or passive setting is a
    statement in the sink configuration (``disabled;`` in a session's
    options, ``stub yes;`` in an interface's): the include file is rendered
    from it each time, so rkmpd's own closing comes and goes around it.
    (``birdc disable`` lasts until the next ``birdc configure`` whatever
    rkmpd does: BIRD 2.0.12 here enables the protocol again at any
    reconfiguration, even of an unchanged file.)"""
    session = dataclasses.replace(CONFIG.bgp[0], options=("hold time 9;", "disabled;"))
    area = CONFIG.ospf[0].areas[0]
    eth0 = dataclasses.replace(area.interfaces[0], options=("type ptp;", "stub yes;"))
    ospf_instance = dataclasses.replace(
        CONFIG.ospf[0], areas=(dataclasses.replace(area, interfaces=(eth0, *area.interfaces[1:])),)
    )
    config = dataclasses.replace(
        CONFIG, bgp=(session, *CONFIG.bgp[1:]), ospf=(ospf_instance, *CONFIG.ospf[1:])
    )

    def operators_lines(text: str) -> None:
        peer1 = block(text, "protocol bgp rkmp_peer1")
        assert "\thold time 9;\n\tdisabled;\n" in peer1
        assert '\t\tinterface "eth0" {\n\t\t\ttype ptp;\n\t\t\tstub yes;\n' in text

    keys = [md5(1, since(T0)), ospf(3, since(T0))]
    first = render_bird(keys, config, BIRD2012, T0)
    operators_lines(first.text)
    assert 'password "' in block(first.text, "protocol bgp rkmp_peer1")
    revoked = render_bird([], config, BIRD2012, T0 + 10, keyed=first.keyed)
    operators_lines(revoked.text)
    assert "# fail closed" in block(revoked.text, "protocol bgp rkmp_peer1")
    assert "password" not in revoked.text
    back = render_bird([md5(2, since(T0 + 20)), ospf(4, since(T0 + 20))], config, BIRD2012,
                       T0 + 20, keyed=first.keyed)  # fmt: skip
    operators_lines(back.text)
    assert "# fail closed" not in back.text and back.closed == ()
