"""tshark as an independent IKEv2 decoder and SK decryptor.

Keys go into `ikev2_decryption_table` in a private WIRESHARK_CONFIG_DIR
(one SA per line: SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ"). The
algorithm names are Wireshark's own UAT strings, checked against tshark 4.0.
This module formats the table itself from plain keys, independently of the
project's keylog code, so tests can use it as a reference.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from integration.harness.process import HarnessError

DECRYPTION_TABLE = "ikev2_decryption_table"

# Wireshark UAT names for the ciphers and MACs our tests use.
TSHARK_ENCR_NAMES = {
    "aes128": "AES-CBC-128 [RFC3602]",
    "aes192": "AES-CBC-192 [RFC3602]",
    "aes256": "AES-CBC-256 [RFC3602]",
    "aes128gcm16": "AES-GCM-128 with 16 octet ICV [RFC5282]",
    "aes192gcm16": "AES-GCM-192 with 16 octet ICV [RFC5282]",
    "aes256gcm16": "AES-GCM-256 with 16 octet ICV [RFC5282]",
}
TSHARK_INTEG_NAMES = {
    "sha1": "HMAC_SHA1_96 [RFC2404]",
    "sha256": "HMAC_SHA2_256_128 [RFC4868]",
    "sha384": "HMAC_SHA2_384_192 [RFC4868]",
    "sha512": "HMAC_SHA2_512_256 [RFC4868]",
}
TSHARK_INTEG_NONE = "NONE [RFC4306]"


def tshark_algorithm_names(proposal: str) -> tuple[str, str]:
    """(encryption, integrity) UAT names for a strongSwan-style proposal.

    "aes256gcm16-prfsha256-x25519" -> AES-GCM-256..., NONE;
    "aes256-sha256-x25519" -> AES-CBC-256..., HMAC_SHA2_256_128....
    """
    parts = proposal.split("-")
    encr = TSHARK_ENCR_NAMES.get(parts[0])
    if encr is None:
        raise ValueError(f"no tshark name for cipher {parts[0]!r}")
    if "gcm" in parts[0]:
        return encr, TSHARK_INTEG_NONE
    integ = next((TSHARK_INTEG_NAMES[p] for p in parts[1:] if p in TSHARK_INTEG_NAMES), None)
    if integ is None:
        raise ValueError(f"no integrity algorithm in {proposal!r}")
    return encr, integ


@dataclass(frozen=True)
class DecryptionEntry:
    """One row of the IKEv2 decryption table."""

    spi_i: bytes
    spi_r: bytes
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    encr_name: str
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    integ_name: str

    def line(self) -> str:
        return (
            f"{self.spi_i.hex()},{self.spi_r.hex()},{self.sk_ei.hex()},{self.sk_er.hex()},"
            f'"{self.encr_name}",{self.sk_ai.hex()},{self.sk_ar.hex()},"{self.integ_name}"'
        )


def write_decryption_table(config_dir: Path, lines: Iterable[str]) -> Path:
    """Write table lines (ours or the project's keylog lines) into config_dir."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / DECRYPTION_TABLE
    path.write_text("".join(line.rstrip("\n") + "\n" for line in lines))
    return path


def run_tshark(
    pcap: Path, *, config_dir: Path, args: Sequence[str] = ("-V",), timeout: float = 60.0
) -> str:
    """tshark's text output for `pcap` with the keys in `config_dir`."""
    env = dict(os.environ)
    env["WIRESHARK_CONFIG_DIR"] = str(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    command = ["tshark", "-n", "-r", str(pcap), *args]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise HarnessError(f"{command} exited with {result.returncode}:\n{result.stderr}")
    return result.stdout


def tshark_fields(
    pcap: Path, *, config_dir: Path, fields: Sequence[str], display_filter: str | None = None
) -> list[list[str]]:
    """`-T fields` output: one list of field values per packet."""
    args = ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for name in fields:
        args += ["-e", name]
    if display_filter:
        args += ["-Y", display_filter]
    out = run_tshark(pcap, config_dir=config_dir, args=args)
    return [line.split("\t") for line in out.splitlines()]


# "Integrity Checksum Data: 3f99... (16 bytes)[correct]" (AEAD) or
# "... (16 bytes) <HMAC_SHA2_256_128 [RFC4868]>[correct]" (CBC + HMAC), or
# "[incorrect, should be ...]" in `-V` output.
_ICV_RE = re.compile(
    r"Integrity Checksum Data: [0-9a-f]+ \(\d+ bytes\)(?: <[^>]*>)?\[(correct|incorrect)\b"
)
_EXPERT_RE = re.compile(r"\[Expert Info \((?:Error|Warning)/[^)]*\): .*\]")


def icv_verdicts(verbose_text: str) -> list[str]:
    """ "correct" / "incorrect" for every SK payload tshark checked, in order."""
    return _ICV_RE.findall(verbose_text)


def expert_problems(verbose_text: str) -> list[str]:
    """Expert-info errors and warnings (malformed packets, bad checksums)."""
    return _EXPERT_RE.findall(verbose_text)
