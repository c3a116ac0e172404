#!/usr/bin/env python3
"""Mutation fuzzer for the RKMP wire codec.

Takes a corpus of valid messages (RKMP_SA_INIT request/response shapes, an
SK-bearing RKMP_SA_AUTH, informational messages, a cleartext message with
every payload type, and SK inner chains), applies random mutations (bit
flips, byte and 16-bit length-field rewrites, truncation, insertion,
deletion, splicing) and feeds the result to ``decode_message`` (or
``decode_payloads`` for inner chains).

Counted as a failure: any exception other than ``MalformedMessage`` (an
"escape"), and any input that decodes but does not re-encode to the same
octets. Prints one summary line; exits 1 on any failure.

    .venv/bin/python benchmarks/fuzz_wire.py --iterations 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass

from rkmp_frr.wire import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    Header,
    IdPayload,
    KePayload,
    MalformedMessage,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    RawPayload,
    SaPayload,
    Transform,
    TransformAttribute,
    UnknownPayload,
    UnsupportedCriticalPayload,
    UnsupportedMajorVersion,
    VendorIdPayload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.constants import (
    AuthMethod,
    CertEncoding,
    EncrId,
    EsnId,
    ExchangeType,
    HeaderFlag,
    IdType,
    IntegId,
    KeId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    RkmpOptionId,
    TransformType,
)

SPI_I = bytes.fromhex("0123456789abcdef")
SPI_R = bytes.fromhex("fedcba9876543210")
KEY_LENGTH = 14
MAX_EXAMPLES = 5  # failing inputs kept for the report
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Seed:
    """A valid input: a whole message (``first_payload`` None) or an SK
    inner chain starting with ``first_payload``."""

    name: str
    data: bytes
    first_payload: int | None
    length_fields: tuple[int, ...]  # offsets of 16/32-bit length fields


def _ike_proposals() -> tuple[Proposal, ...]:
    def kl(bits: int) -> tuple[TransformAttribute, ...]:
        return (TransformAttribute(KEY_LENGTH, bits),)

    return (
        Proposal(
            1,
            ProtocolId.IKE,
            b"",
            (
                Transform(TransformType.ENCR, EncrId.AES_CBC, kl(256)),
                Transform(TransformType.ENCR, EncrId.AES_CBC, kl(128)),
                Transform(TransformType.PRF, PrfId.HMAC_SHA2_256),
                Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128),
                Transform(TransformType.KE, KeId.CURVE25519),
                Transform(TransformType.KE, KeId.ECP_256),
            ),
        ),
        Proposal(
            2,
            ProtocolId.IKE,
            b"",
            (
                Transform(TransformType.ENCR, EncrId.AES_GCM_16, kl(256)),
                Transform(TransformType.PRF, PrfId.HMAC_SHA2_384),
                Transform(TransformType.KE, KeId.CURVE25519),
            ),
        ),
    )


def _routing_sa() -> SaPayload:
    return SaPayload(
        (
            Proposal(
                1,
                ProtocolId.TCP_AO,
                b"\x05",
                (
                    Transform(TransformType.INTEG, IntegId.AES_CMAC_96),
                    Transform(TransformType.RKMP_OPTIONS, RkmpOptionId.TCP_AO_INCLUDE_OPTIONS),
                    Transform(TransformType.RKMP_OPTIONS, 9, (TransformAttribute(1, b"opt"),)),
                ),
            ),
            Proposal(
                2,
                ProtocolId.OSPFV3,
                b"\x00\x07",
                (
                    Transform(TransformType.INTEG, IntegId.RKMP_HMAC_SHA2_256),
                    Transform(TransformType.KE, KeId.CURVE25519),
                    Transform(TransformType.ESN, EsnId.NO_ESN),
                ),
            ),
        )
    )


def _messages() -> list[tuple[str, Message]]:
    init = Header(SPI_I, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
    init_r = Header(SPI_I, SPI_R, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
    auth = Header(SPI_I, SPI_R, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1)
    info = Header(SPI_I, SPI_R, ExchangeType.INFORMATIONAL, HeaderFlag.RESPONSE, 7)
    return [
        (
            "sa_init_request",
            Message(
                init,
                (
                    SaPayload(_ike_proposals()),
                    KePayload(KeId.CURVE25519, bytes(range(32))),
                    NoncePayload(bytes(range(100, 132))),
                    NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, data=bytes(20)),
                    NotifyPayload(NotifyType.NAT_DETECTION_DESTINATION_IP, data=bytes(20)),
                    NotifyPayload(NotifyType.RKMP_SUPPORTED),
                    VendorIdPayload(b"rkmp-frr"),
                ),
            ),
        ),
        (
            "sa_init_response",
            Message(
                init_r,
                (
                    SaPayload((_ike_proposals()[1],)),
                    KePayload(KeId.CURVE25519, bytes(range(32, 64))),
                    NoncePayload(bytes(range(200, 232))),
                    NotifyPayload(NotifyType.RKMP_SUPPORTED),
                    CertReqPayload(CertEncoding.X509_SIGNATURE, bytes(40)),
                ),
            ),
        ),
        ("sa_auth_sk", Message(auth, (EncryptedPayload(PayloadType.IDi, bytes(range(96))),))),
        (
            "sa_auth_skf",
            Message(auth, (EncryptedFragmentPayload(1, 2, PayloadType.IDi, bytes(48)),)),
        ),
        ("informational_sk", Message(info, (EncryptedPayload(0, bytes(range(48))),))),
        (
            "cleartext_everything",
            Message(
                info,
                (
                    _routing_sa(),
                    IdPayload(IdType.ID_IPV4_ADDR, bytes([192, 0, 2, 1]), initiator=False),
                    CertPayload(CertEncoding.X509_SIGNATURE, bytes(30)),
                    AuthPayload(AuthMethod.DIGITAL_SIGNATURE, bytes(40)),
                    NotifyPayload(NotifyType.REKEY_SA, ProtocolId.ESP, b"\x01\x02\x03\x04"),
                    DeletePayload(ProtocolId.TCP_AO, 1, (b"\x05", b"\x06")),
                    DeletePayload(ProtocolId.ESP, 4, (b"\x00\x00\x00\x01",)),
                    RawPayload(PayloadType.TSi, bytes.fromhex("0100000007000010" + "00" * 8)),
                    UnknownPayload(99, b"skip me"),
                    EncryptedPayload(PayloadType.NOTIFY, bytes(32)),
                ),
            ),
        ),
    ]


def _chains() -> list[tuple[str, tuple[Payload, ...]]]:
    return [
        (
            "sa_auth_inner",
            (
                IdPayload(IdType.ID_FQDN, b"r1.example.net", initiator=True),
                CertPayload(CertEncoding.X509_SIGNATURE, bytes(20)),
                IdPayload(IdType.ID_FQDN, b"r2.example.net", initiator=False),
                AuthPayload(AuthMethod.SHARED_KEY_MIC, bytes(32)),
                _routing_sa(),
                NotifyPayload(NotifyType.INITIAL_CONTACT),
            ),
        ),
        (
            "create_child_inner",
            (
                NotifyPayload(NotifyType.REKEY_SA, ProtocolId.BFD, b"\x03"),
                _routing_sa(),
                NoncePayload(bytes(32)),
                KePayload(KeId.CURVE25519, bytes(32)),
            ),
        ),
        (
            "informational_inner",
            (
                DeletePayload(
                    ProtocolId.OSPFV3_IPSEC, 4, (b"\x00\x00\x10\x00", b"\x00\x00\x10\x01")
                ),
                DeletePayload(ProtocolId.IKE, 0, ()),
                NotifyPayload(NotifyType.AUTHENTICATION_FAILED),
            ),
        ),
    ]


def _length_fields(
    data: bytes, pos: int, next_type: int, extra: tuple[int, ...]
) -> tuple[int, ...]:
    """Offsets of the Payload Length fields along a valid chain."""
    fields = list(extra)
    while next_type and pos + 4 <= len(data):
        fields.append(pos + 2)
        if next_type in (PayloadType.SK, PayloadType.SKF):
            break
        next_type = data[pos]
        pos += int.from_bytes(data[pos + 2 : pos + 4], "big")
    return tuple(fields)


def build_corpus() -> list[Seed]:
    corpus: list[Seed] = []
    for name, message in _messages():
        data = encode_message(message)
        assert decode_message(data) == message, name
        corpus.append(Seed(name, data, None, _length_fields(data, 28, data[16], (24, 26))))
    for name, chain in _chains():
        first, data = encode_payloads(chain)
        assert decode_payloads(first, data) == chain, name
        corpus.append(Seed(name, data, first, _length_fields(data, 0, first, ())))
    return corpus


# --- mutations ------------------------------------------------------------------

INTERESTING = (0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x7F, 0x80, 0xFF)


def _mutate(rng: random.Random, seed: Seed, corpus: list[Seed]) -> bytes:
    data = bytearray(seed.data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            data += rng.randbytes(rng.randint(1, 8))
            continue
        size = len(data)
        pos = rng.randrange(size)
        op = rng.randrange(10)
        if op == 0:  # bit flip
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1:  # random octet
            data[pos] = rng.randrange(256)
        elif op == 2:  # interesting octet
            data[pos] = rng.choice(INTERESTING)
        elif op in (3, 4):  # 16-bit length rewrite, usually a real length field
            if seed.length_fields and rng.random() < 0.7:
                pos = rng.choice(seed.length_fields)
            old = int.from_bytes(data[pos : pos + 2].ljust(2, b"\0"), "big")
            choice = rng.randrange(3)
            if choice == 0:
                value = rng.randrange(0x10000)
            elif choice == 1:
                value = rng.randrange(17)
            else:
                value = min(0xFFFF, max(0, old + rng.randint(-8, 8)))
            data[pos : pos + 2] = value.to_bytes(2, "big")
        elif op == 5:  # truncate
            del data[pos:]
        elif op == 6:  # insert random octets
            data[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 7:  # delete a range
            del data[pos : pos + rng.randint(1, 16)]
        elif op == 8:  # splice in a slice of another corpus entry
            other = rng.choice(corpus).data
            start = rng.randrange(len(other))
            data[pos:pos] = other[start : start + rng.randint(1, 64)]
        else:  # duplicate a slice of itself (repeated payloads)
            start = rng.randrange(size)
            data[pos:pos] = data[start : start + rng.randint(1, 64)]
    # Usually keep the header Length consistent so mutations reach payloads.
    if seed.first_payload is None and len(data) >= 28 and rng.random() < 0.85:
        data[24:28] = len(data).to_bytes(4, "big")
    return bytes(data)


@dataclass
class Tally:
    decoded: int = 0
    malformed: int = 0
    critical: int = 0
    version: int = 0
    escapes: int = 0
    mismatches: int = 0


def _round_trip(data: bytes, seed: Seed) -> bytes:
    """Decode ``data`` as ``seed`` is (message or inner chain), re-encode."""
    if seed.first_payload is None:
        return encode_message(decode_message(data))
    return encode_payloads(decode_payloads(seed.first_payload, data))[1]


def _run_one(
    data: bytes, seed: Seed, tally: Tally, failures: list[str], reasons: Counter[str]
) -> None:
    try:
        encoded = _round_trip(data, seed)
    except UnsupportedCriticalPayload:
        tally.critical += 1
        return
    except UnsupportedMajorVersion:
        tally.version += 1
        return
    except MalformedMessage as error:
        tally.malformed += 1
        reasons[_DIGITS.sub("N", error.reason)] += 1
        return
    except Exception:  # an escape: the codec's contract is broken
        tally.escapes += 1
        if len(failures) < MAX_EXAMPLES:
            failures.append(f"escape on {seed.name} {data.hex()}\n{traceback.format_exc()}")
        return
    tally.decoded += 1
    if encoded != data:
        tally.mismatches += 1
        if len(failures) < MAX_EXAMPLES:
            failures.append(f"re-encode mismatch on {seed.name} {data.hex()} -> {encoded.hex()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--verbose", action="store_true", help="print the commonest reasons")
    args = parser.parse_args(argv)
    seed_value = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed_value)
    corpus = build_corpus()
    tally = Tally()
    failures: list[str] = []
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(args.iterations):
        seed = rng.choice(corpus)
        _run_one(_mutate(rng, seed, corpus), seed, tally, failures, reasons)
    elapsed = time.perf_counter() - started
    for failure in failures:
        print(failure, file=sys.stderr)
    if args.verbose:
        for reason, count in reasons.most_common(25):
            print(f"  {count:8d}  {reason}")
    ok = tally.escapes == 0 and tally.mismatches == 0
    print(
        f"fuzz_wire: {'OK' if ok else 'FAIL'} seed={seed_value} iterations={args.iterations} "
        f"corpus={len(corpus)} decoded={tally.decoded} malformed={tally.malformed} "
        f"unsupported_critical={tally.critical} unsupported_version={tally.version} "
        f"escapes={tally.escapes} reencode_mismatches={tally.mismatches} "
        f"time={elapsed:.1f}s rate={args.iterations / max(elapsed, 1e-9):,.0f}/s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
