"""Codec and crypto-floor benchmark (issue 2): messages encoded/decoded per
second for an RKMP_SA_INIT and an SK-protected RKMP_SA_AUTH, and, in the
same run, the crypto operations the codec sits on.

    .venv/bin/python benchmarks/codec.py [--seconds 1.0] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rkmp_frr.crypto import CryptoProposal, decrypt_message, encrypt_message, get_ke_group
from rkmp_frr.crypto.prf import get_prf
from rkmp_frr.selfcheck import auth_request, run_sa_init
from rkmp_frr.wire import Identity, decode_message, encode_message
from rkmp_frr.wire.constants import KeId, PrfId

SUITE = "aes256gcm16-prfsha256-x25519"


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second, timed in batches until ``seconds`` pass."""
    count, batch = 0, 64
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            operation()
        count += batch
    return count / elapsed


def measure(seconds: float) -> dict[str, float]:
    init = run_sa_init(SUITE)
    auth = auth_request(init, secrets.token_bytes(32), Identity.from_text("r1.example.net"))
    init_msg, auth_msg = decode_message(init.request), decode_message(auth)
    inner = decrypt_message(auth, SUITE, init.keys_i.sk_ei, init.keys_i.sk_ai).payloads
    proposal = str(CryptoProposal.from_suite(init.suite))
    x25519, prf = get_ke_group(KeId.CURVE25519), get_prf(PrfId.HMAC_SHA2_256)
    peer = x25519.generate().public_bytes
    gcm, nonce, plain = AESGCM(secrets.token_bytes(32)), secrets.token_bytes(12), bytes(300)
    keymat = init.suite.keymat_size

    return {
        "sa_init_decode_per_s": rate(lambda: decode_message(init.request), seconds),
        "sa_init_encode_per_s": rate(lambda: encode_message(init_msg), seconds),
        "sa_auth_decode_per_s": rate(lambda: decode_message(auth), seconds),
        "sa_auth_encode_per_s": rate(lambda: encode_message(auth_msg), seconds),
        "sa_auth_decrypt_per_s": rate(
            lambda: decrypt_message(auth, proposal, init.keys_i.sk_ei, init.keys_i.sk_ai),
            seconds,
        ),
        "sa_auth_encrypt_per_s": rate(
            lambda: encrypt_message(
                auth_msg.header, inner, proposal, init.keys_i.sk_ei, init.keys_i.sk_ai
            ),
            seconds,
        ),
        "x25519_keygen_exchange_per_s": rate(
            lambda: x25519.generate().shared_secret(peer), seconds
        ),
        f"prf_plus_{keymat}B_per_s": rate(
            lambda: prf.plus(init.keys_i.sk_d, bytes(64), keymat), seconds
        ),
        "aes_gcm_300B_seal_per_s": rate(lambda: gcm.encrypt(nonce, plain, b""), seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    results = measure(args.seconds)
    for name, value in results.items():
        print(f"{name:32} {value:12,.0f}")
    if args.json:
        print(json.dumps({k: round(v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
