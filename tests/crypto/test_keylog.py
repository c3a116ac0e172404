"""Wireshark key log lines, checked for format and, when tshark is
installed, by letting tshark decrypt and verify our SK payloads."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rkmp_frr.crypto import (
    RkmpKeys,
    derive_rkmp_keys,
    encrypt_message,
    keylog_line,
    parse_suite,
)
from rkmp_frr.wire import AuthPayload, Header, IdPayload, Payload
from rkmp_frr.wire.constants import AuthMethod, ExchangeType, HeaderFlag, IdType

SUITES = [
    ("aes128-sha256-x25519", "AES-CBC-128 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]"),
    ("aes192-sha384-ecp256", "AES-CBC-192 [RFC3602]", "HMAC_SHA2_384_192 [RFC4868]"),
    ("aes256-sha512-x448", "AES-CBC-256 [RFC3602]", "HMAC_SHA2_512_256 [RFC4868]"),
    ("aes256-sha256-x25519", "AES-CBC-256 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]"),
    ("aes128gcm16-prfsha256-x25519", "AES-GCM-128 with 16 octet ICV [RFC5282]", "NONE [RFC4306]"),
    ("aes256gcm16-prfsha384-ecp384", "AES-GCM-256 with 16 octet ICV [RFC5282]", "NONE [RFC4306]"),
]


def _keys(proposal: str, index: int) -> tuple[bytes, bytes, RkmpKeys]:
    spi_i = bytes((0x10 + index,)) * 8
    spi_r = bytes((0x20 + index,)) * 8
    keys = derive_rkmp_keys(proposal, b"g" * 32, b"i" * 32, b"r" * 32, spi_i, spi_r)
    return spi_i, spi_r, keys


@pytest.mark.parametrize(("proposal", "encr", "integ"), SUITES)
def test_line_format(proposal: str, encr: str, integ: str) -> None:
    spi_i, spi_r, keys = _keys(proposal, 0)
    line = keylog_line(spi_i, spi_r, keys, proposal)
    fields = line.split(",")
    assert len(fields) == 8 and "\n" not in line
    assert fields[0] == spi_i.hex() and fields[1] == spi_r.hex()
    assert fields[2] == keys.sk_ei.hex() and fields[3] == keys.sk_er.hex()
    assert fields[4] == f'"{encr}"' and fields[7] == f'"{integ}"'
    assert fields[5] == keys.sk_ai.hex() and fields[6] == keys.sk_ar.hex()
    if parse_suite(proposal).encr.aead:
        assert fields[5] == fields[6] == ""
    assert keylog_line(spi_i, spi_r, keys, parse_suite(proposal)) == line
    assert re.fullmatch(r"[0-9a-f]*", "".join(fields[:4] + fields[5:7]))


# ----------------------------------------------------------- tshark check

INNER: tuple[Payload, ...] = (
    IdPayload(IdType.ID_FQDN, b"router-a.example", initiator=True),
    AuthPayload(AuthMethod.SHARED_KEY_MIC, bytes(range(32))),
)


def _ip_udp(payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", 500, 500, 8 + len(payload), 0) + payload
    return (
        struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\x0a\0\0\1", b"\x0a\0\0\2"
        )
        + udp
    )


def _pcap(packets: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)  # LINKTYPE_RAW
    for number, packet in enumerate(packets):
        out += struct.pack("<IIII", number, 0, len(packet), len(packet)) + packet
    return out


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_decrypts_and_verifies_with_our_key_log(tmp_path: Path) -> None:
    lines: list[str] = []
    packets: list[bytes] = []
    for index, (proposal, _, _) in enumerate(SUITES):
        spi_i, spi_r, keys = _keys(proposal, index)
        lines.append(keylog_line(spi_i, spi_r, keys, proposal))
        header = Header(spi_i, spi_r, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1)
        sk_ei, sk_ai = keys.sk_ei, keys.sk_ai
        packets.append(_ip_udp(encrypt_message(header, INNER, proposal, sk_ei, sk_ai)))
        # The responder direction uses SK_er / SK_ar.
        reply = Header(spi_i, spi_r, ExchangeType.IKE_AUTH, HeaderFlag.RESPONSE, 1)
        sk_er, sk_ar = keys.sk_er, keys.sk_ar
        packets.append(_ip_udp(encrypt_message(reply, INNER, proposal, sk_er, sk_ar)))
    tampered = bytearray(packets[0])
    tampered[-1] ^= 1
    packets.append(bytes(tampered))
    (tmp_path / "ikev2_decryption_table").write_text("\n".join(lines) + "\n")
    (tmp_path / "capture.pcap").write_bytes(_pcap(packets))
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(tmp_path)}
    result = subprocess.run(
        ["tshark", "-n", "-r", str(tmp_path / "capture.pcap"), "-V"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    checks = re.findall(r"Integrity Checksum Data: .*\[(correct|incorrect)", result.stdout)
    good = 2 * len(SUITES)
    assert checks == ["correct"] * good + ["incorrect"]
    assert result.stdout.count("ID_FQDN: router-a.example") >= good
