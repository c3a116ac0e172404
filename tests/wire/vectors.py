"""Wire vectors shared by the tests.

Hand-built vectors are written field by field from the RFC 7296 §3 figures
(not produced by the encoder). The captured vectors are real IKEv2
datagrams from Wireshark's test capture
``test/captures/ikev2-decrypt-aes128ccm12.pcap``, as transcribed (with
their Ethernet/IP/UDP headers, removed here) in scapy's
``test/contrib/ikev2.uts``.
"""

from __future__ import annotations


def hexbytes(text: str) -> bytes:
    """Hex with whitespace and ``#`` comments allowed."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return bytes.fromhex("".join("".join(lines).split()))


# RFC 7748 §6.1, Alice's X25519 public key: a realistic 32-octet KE value.
X25519_PUBLIC = hexbytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
NONCE_I = bytes(range(32))

# RKMP_SA_INIT request (DESIGN.md §2): HDR, SAi1, KEi, Ni, N(RKMP_SUPPORTED).
RKMP_SA_INIT_REQUEST = hexbytes(
    """
    0123456789abcdef 0000000000000000   # SPIi, SPIr
    21 20 22 08 00000000 000000a0       # next SA, v2.0, IKE_SA_INIT, I, msgid 0, len 160
    # SA payload: next KE, len 48
    22 00 0030
      00 00 002c 01 01 00 04            # last proposal, len 44, #1, IKE, SPI size 0, 4 transforms
        03 00 000c 01 00 000c 800e 0100 # ENCR AES_CBC, Key Length (TV) 256
        03 00 0008 02 00 0005           # PRF HMAC_SHA2_256
        03 00 0008 03 00 000c           # INTEG HMAC_SHA2_256_128
        00 00 0008 04 00 001f           # KE Curve25519 (last transform)
    # KE payload: next Nonce, len 40, group 31, RESERVED
    28 00 0028 001f 0000
      8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a
    # Nonce payload: next Notify, len 36
    29 00 0024
      000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
    # Notify: last payload, len 8, protocol 0, SPI size 0, type RKMP_SUPPORTED (40960)
    00 00 0008 00 00 a000
    """
)

# Inside of an RKMP_SA_AUTH request's SK (first payload IDi):
# IDi(FQDN r1.example.net), AUTH(shared key MIC), SA(TCP-AO, SendID 5).
RKMP_SA_AUTH_INNER = hexbytes(
    """
    27 00 0016 02 000000 72312e6578616d706c652e6e6574  # IDi -> AUTH, FQDN
    21 00 0028 02 000000                               # AUTH -> SA, SHARED_KEY_MIC
      5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
    00 00 001d                                         # SA, last payload, len 29
      00 00 0019 01 c9 01 02 05                        # prop #1 TCP_AO, SPI size 1, 2 tf, SPI 05
        03 00 0008 03 00 0008                          # INTEG AES_CMAC_96
        00 00 0008 f1 00 0001                          # RKMP options: TCP_AO_INCLUDE_OPTIONS
    """
)

# Captured (Wireshark test capture, see module docstring).
CAPTURED_SA_INIT_REQUEST = hexbytes(
    "ea684d21597afd3600000000000000002120220800000000000000f8220000280000002401010003"
    "0300000c0100000f800e008003000008020000050000000804000013280000480013000032c6dffe"
    "5c43b0d5811f7eaaa84c9f78bf99b9069c2b072e0b82f46bf6f66dd45f97ef89ee285fd5df527a44"
    "776b529fc9d8a909d842a6fb59b96a095395617229000024b655462d6f4b66f872ccd7f0f4b48577"
    "32921339cbaa5237edba244f262b68232900001c00004004949c9db5739d75a974a49c184618369b"
    "34b7f9422900001c000040053e721b46be07d53111425d7f80d2c6e220c6072e000000100000402f"
    "0001000200030004"
)
CAPTURED_SA_INIT_RESPONSE = hexbytes(
    "ea684d21597afd36d9fe2ab22dac23ac2120222000000000000000f0220000280000002401010003"
    "0300000c0100000f800e00800300000802000005000000080400001328000048001300002c66bead"
    "b6ce8535d6218cb401aa5a1eb4035b97caddaf36374a979c0446b8800506bf9d6f950952326bf301"
    "1913da93bb8e40f815376be1a06801c0a63e3b54290000249e5d267379e681e7d38d81c710d38340"
    "1de7e3607b926d90a9958adcb52831aa2900001c000040047a0785273d59203829a697550f31cbb9"
    "4eb72b432900001c00004005c3e58a8cc9933ce0b78f2a50e8de80134e12ce310000000800004014"
)
CAPTURED_INFORMATIONAL_REQUEST = hexbytes(
    "ea684d21597afd36d9fe2ab22dac23ac2e202508000000020000003d2a000021cca0b35de5abc51c"
    "9987cbf1f5ecff210eb767cdb85179383b964d78e2"
)
CAPTURED_INFORMATIONAL_RESPONSE = hexbytes(
    "ea684d21597afd36d9fe2ab22dac23ac2e202520000000020000003500000019a80c957bac15c3f8"
    "afdf315a81cc4b7c40e8660d44"
)

CAPTURED = (
    CAPTURED_SA_INIT_REQUEST,
    CAPTURED_SA_INIT_RESPONSE,
    CAPTURED_INFORMATIONAL_REQUEST,
    CAPTURED_INFORMATIONAL_RESPONSE,
)
