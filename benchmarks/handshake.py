"""In-memory handshake benchmark (issue 3).

Both sides in one process on one core: an initiator engine per handshake
(distinct address and identity) against one responder engine whose peer
policy is a prefix. One handshake = RKMP_SA_INIT + RKMP_SA_AUTH carrying one
TCP-AO routing SA, PSK, X25519, AES-GCM-256, complete when both sides
reported the RKMP SA and the child SA.

``crypto_floor_per_s`` runs, in the same process and in rounds alternating
with the handshakes, only the DH, PRF and AEAD operations one such
handshake needs on both sides together, on the same data sizes;
``handshakes_per_s / crypto_floor_per_s`` is the share of the time the
protocol machinery leaves to the crypto.

    .venv/bin/python benchmarks/handshake.py [--handshakes 2000] [--rounds 10] [--json] [--profile]

The JSON names the build of the core that ran (``core``: compiled by mypyc, as
``scripts/setup.sh`` builds it where a C compiler works, or pure Python).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import secrets
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rkmp_frr.build import build_name, stale_build_reason
from rkmp_frr.crypto import get_ke_group, get_prf
from rkmp_frr.engine import (
    ChildPolicy,
    ChildSaCreated,
    Engine,
    LocalConfig,
    PeerPolicy,
    PskCredential,
    RkmpSaEstablished,
)
from rkmp_frr.engine.types import Address
from rkmp_frr.wire.constants import IntegId, KeId, PrfId, ProtocolId

SUITE = "aes256gcm16-prfsha256-x25519"
RESPONDER: Address = ("10.255.255.254", 500)
PSK = PskCredential(secrets.token_bytes(32))
TCP_AO = ChildPolicy(ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA2_256_128,))


def initiator_address(index: int) -> Address:
    return (f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}", 500)


def responder() -> Engine:
    peer = PeerPolicy(name="any", address="10.0.0.0/8", rkmp_proposals=(SUITE,), children=(TCP_AO,))
    return Engine(LocalConfig(identity="responder.example.net", credential=PSK, peers=(peer,)))


def initiator(index: int) -> Engine:
    peer = PeerPolicy(name="r", address=RESPONDER[0], rkmp_proposals=(SUITE,), children=(TCP_AO,))
    identity = f"i{index}.example.net"
    return Engine(LocalConfig(identity=identity, credential=PSK, peers=(peer,)))


def _completed(engine: Engine) -> int:
    """Count the events that mark a finished handshake (SA + child)."""
    done = 0
    while (event := engine.next_event()) is not None:
        done += isinstance(event, (RkmpSaEstablished, ChildSaCreated))
    return done


def handshake(resp: Engine, init: Engine, index: int, now: float) -> None:
    """One handshake, datagrams handed across directly; AssertionError if
    either side does not finish."""
    addr = initiator_address(index)
    init.initiate(RESPONDER, now)
    for _ in range(8):  # three exchanges (INIT, AUTH, the responder's confirmation)
        out = init.datagrams_to_send()
        if not out:
            break
        for data, _dst in out:
            resp.receive_datagram(data, addr, now)
        for data, _dst in resp.datagrams_to_send():
            init.receive_datagram(data, RESPONDER, now)
    if _completed(init) != 2 or _completed(resp) != 2:
        raise AssertionError(f"handshake {index} did not complete")


def measure(count: int, rounds: int) -> tuple[float, float]:
    """Handshakes and crypto floors per CPU second, measured in alternating
    rounds so that both see the same conditions (other work on the
    machine shifts a single long run of one of them). The initiators'
    engines are built first: a daemon keeps one engine for all its peers,
    so building one per handshake is the benchmark's cost, not the
    protocol's."""
    resp, now = responder(), 1_000.0
    initiators = [initiator(index) for index in range(count)]
    spent_handshakes = spent_floor = 0.0
    for chunk in range(rounds):
        indexes = range(chunk * count // rounds, (chunk + 1) * count // rounds)
        start = time.process_time()
        for index in indexes:
            handshake(resp, initiators[index], index, now)
        middle = time.process_time()
        for _ in indexes:
            floor_handshake()
        spent_handshakes += middle - start
        spent_floor += time.process_time() - middle
    return count / spent_handshakes, count / spent_floor


def floor_handshake() -> None:
    """The crypto of one handshake, both sides: per side one X25519 keygen
    and exchange, SKEYSEED and prf+ for SK_*, the MACed ID, its own AUTH and
    the check of the peer's (RFC 7296 §2.15), child KEYMAT (§2.17); and for
    the four SK-protected messages (RKMP_SA_AUTH request and response, the
    responder's confirming INFORMATIONAL and its answer) one AES-GCM seal
    and one open each, with the AES key set up once per direction and side
    (as ``SkCipher`` is: four key setups per handshake)."""
    group, prf = get_ke_group(KeId.CURVE25519), get_prf(PrfId.HMAC_SHA2_256)
    a, b = group.generate(), group.generate()
    secrets_ = (a.shared_secret(b.public_bytes), b.shared_secret(a.public_bytes))
    nonces, iv, aad = bytes(64), bytes(8), bytes(32)
    ciphers = []  # per side: (seals its messages, opens the peer's)
    for side, g_ir in enumerate(secrets_):
        seed = prf(nonces, g_ir)
        # SK_d | SK_ei | SK_er | SK_pi | SK_pr (AES-GCM: no SK_a; SK_e has a salt)
        keymat = prf.plus(seed, nonces + bytes(16), 3 * 32 + 2 * 36)
        for _ in range(2):  # own AUTH and the peer's
            maced = prf(keymat[104:136], bytes(20))
            prf(prf(PSK.key, b"Key Pad for IKEv2"), bytes(150) + nonces[:32] + maced)
        prf.plus(keymat[:32], nonces, 32)
        sk_ei, sk_er = AESGCM(keymat[32:64]), AESGCM(keymat[68:100])
        ciphers.append((sk_ei, sk_er) if side == 0 else (sk_er, sk_ei))
    nonce = keymat[64:68] + iv  # salt | IV (RFC 5282 §4)
    # AUTH request, AUTH response, the INFORMATIONAL request and its answer.
    for sender, size in ((0, 120), (1, 120), (1, 4), (0, 4)):
        sealed = ciphers[sender][0].encrypt(nonce, bytes(size), aad)
        ciphers[1 - sender][1].decrypt(nonce, sealed, aad)


def main() -> None:
    parser = argparse.ArgumentParser(description="in-memory RKMP handshake benchmark")
    parser.add_argument("--handshakes", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--rounds", type=int, default=10, help="alternations of the two")
    parser.add_argument("--profile", action="store_true", help="print the top of a profile")
    args = parser.parse_args()
    if (stale := stale_build_reason()) is not None:
        parser.exit(2, f"handshake.py: {stale}: run scripts/setup.sh\n")
    handshake(responder(), initiator(0), 0, 0.0)  # warm-up: imports, caches
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(measure, args.handshakes, 1)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    handshakes, floor = measure(args.handshakes, args.rounds)
    print(f"handshakes_per_s   {handshakes:10,.0f}")
    print(f"crypto_floor_per_s {floor:10,.0f}")
    print(f"ratio              {handshakes / floor:10.2f}")
    print(f"core               {build_name():>10}")
    if args.json:
        result = {
            "handshakes_per_s": round(handshakes, 1),
            "crypto_floor_per_s": round(floor, 1),
            "ratio": round(handshakes / floor, 3),
            "handshakes": args.handshakes,
            "rounds": args.rounds,
            "suite": SUITE,
            "core": build_name(),  # compiled (mypyc) or pure Python: rkmp_frr/build.py
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
