"""The engine's draws give what random.Random's own methods give from the
same generator state, so seeded runs are unchanged by using them."""

from __future__ import annotations

import random

import pytest

from rkmp_frr.engine import draws


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
def test_uniform_is_random_uniform(seed: int) -> None:
    ours, reference = random.Random(seed), random.Random(seed)
    for low, high in [(0.0, 1.0), (2.0, 4.0), (0.0, 0.0), (5.0, -5.0)] * 50:
        assert draws.uniform(ours, low, high) == reference.uniform(low, high)


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
def test_below_is_randrange(seed: int) -> None:
    ours, reference = random.Random(seed), random.Random(seed)
    for n in [1, 2, 3, 5, 7, 8, 255, 256, 257, 1000, 0xFFFF, 2**32 + 1] * 20:
        value = draws.below(ours, n)
        assert value == reference.randrange(n)
        assert 0 <= value < n
    assert ours.random() == reference.random()  # and the states stayed in step
