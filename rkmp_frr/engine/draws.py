"""Random draws the engine makes, as ``random.Random``'s own methods make
them (same values from the same generator state), written here so that the
compiled core does not run ``random.py``'s Python code for each: a
handshake makes several (jitter of retransmissions and lifetimes, a key
ID). None of them needs secrecy; nonces, SPIs and keys use ``Engine.random_bytes``.
"""

from __future__ import annotations

import random


def uniform(rng: random.Random, low: float, high: float) -> float:
    """``rng.uniform(low, high)``."""
    return low + (high - low) * rng.random()


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` for n > 0: rejection sampling on getrandbits, as
    ``Random._randbelow`` does, so no value is favoured."""
    bits = n.bit_length()
    value = rng.getrandbits(bits)
    while value >= n:
        value = rng.getrandbits(bits)
    return value
