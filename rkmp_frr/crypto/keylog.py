"""Key log lines for Wireshark's IKEv2 decryption table.

The operator asks for this with ``--keylog``: the line holds SA keys in the
clear on purpose. Format of ``$WIRESHARK_CONFIG_DIR/ikev2_decryption_table``
(Wireshark's "IKEv2 Decryption Table" UAT, epan/dissectors/packet-isakmp.c,
checked against tshark 4.0): one SA per line,

    SPIi,SPIr,SK_ei,SK_er,"<encryption>",SK_ai,SK_ar,"<integrity>"

with unquoted lower-case hex and the algorithm names exactly as Wireshark
spells them. An AEAD SA has empty SK_a fields and integrity "NONE [RFC4306]";
its SK_e include the salt.
"""

from __future__ import annotations

from rkmp_frr.crypto.keyschedule import RkmpKeys
from rkmp_frr.crypto.proposals import parse_suite
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.wire.constants import EncrId, IntegId

# Wireshark's names (vs_ikev2_encr_algs / vs_ikev2_auth_algs).
_ENCR_NAMES: dict[tuple[EncrId, int], str] = {
    (EncrId.AES_CBC, 128): "AES-CBC-128 [RFC3602]",
    (EncrId.AES_CBC, 192): "AES-CBC-192 [RFC3602]",
    (EncrId.AES_CBC, 256): "AES-CBC-256 [RFC3602]",
    (EncrId.AES_GCM_16, 128): "AES-GCM-128 with 16 octet ICV [RFC5282]",
    (EncrId.AES_GCM_16, 256): "AES-GCM-256 with 16 octet ICV [RFC5282]",
}
_INTEG_NAMES: dict[IntegId, str] = {
    IntegId.HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]",
    IntegId.HMAC_SHA2_384_192: "HMAC_SHA2_384_192 [RFC4868]",
    IntegId.HMAC_SHA2_512_256: "HMAC_SHA2_512_256 [RFC4868]",
}
_INTEG_NONE = "NONE [RFC4306]"


def wireshark_encr_name(suite: CryptoSuite) -> str:
    return _ENCR_NAMES[(suite.encr.encr_id, suite.encr.key_bits)]


def wireshark_integ_name(suite: CryptoSuite) -> str:
    return _INTEG_NONE if suite.integ is None else _INTEG_NAMES[suite.integ.integ_id]


def keylog_line(spi_i: bytes, spi_r: bytes, keys: RkmpKeys, proposal: str | CryptoSuite) -> str:
    """One ``ikev2_decryption_table`` line (no newline) for an RKMP SA.
    ``proposal`` is the negotiated suite or its proposal string."""
    suite = parse_suite(proposal) if isinstance(proposal, str) else proposal
    fields = (
        spi_i.hex(),
        spi_r.hex(),
        keys.sk_ei.hex(),
        keys.sk_er.hex(),
        f'"{wireshark_encr_name(suite)}"',
        keys.sk_ai.hex(),
        keys.sk_ar.hex(),
        f'"{wireshark_integ_name(suite)}"',
    )
    return ",".join(fields)
