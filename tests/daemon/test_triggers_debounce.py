"""The trailing-edge debouncer, on a virtual clock."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.daemon.debounce import DebounceConfig, Debouncer


def test_single_trigger_released_after_settle() -> None:
    debouncer: Debouncer[str, str] = Debouncer(DebounceConfig(settle=2.0, max_delay=10.0))
    debouncer.submit("a", "negotiate a", now=100.0)
    assert debouncer.next_deadline() == 102.0
    assert debouncer.poll(101.999) == []
    assert debouncer.poll(102.0) == ["negotiate a"]
    assert debouncer.next_deadline() is None
    assert debouncer.poll(200.0) == []


def test_burst_releases_latest_action_once_after_quiet() -> None:
    debouncer: Debouncer[str, int] = Debouncer(DebounceConfig(settle=1.0, max_delay=10.0))
    for t, action in ((0.0, 1), (0.5, 2), (1.2, 3)):
        assert debouncer.poll(t) == []
        debouncer.submit("a", action, now=t)
    assert debouncer.poll(2.1) == []
    assert debouncer.poll(2.2) == [3]
    assert debouncer.poll(100.0) == []


def test_max_delay_caps_a_burst_that_never_settles() -> None:
    debouncer: Debouncer[str, float] = Debouncer(DebounceConfig(settle=1.0, max_delay=3.0))
    released: list[tuple[float, float]] = []
    t = 0.0
    while t < 10.0:
        released += [(t, a) for a in debouncer.poll(t)]
        debouncer.submit("a", t, now=t)
        t += 0.5
    # Triggers every 0.5 s never leave 1 s of quiet: released every 3 s.
    assert released == [(3.0, 2.5), (6.0, 5.5), (9.0, 8.5)]


def test_keys_are_independent_and_released_in_deadline_order() -> None:
    debouncer: Debouncer[str, str] = Debouncer(DebounceConfig(settle=1.0, max_delay=5.0))
    debouncer.submit("late", "L", now=0.5)
    debouncer.submit("early", "E", now=0.0)
    assert len(debouncer) == 2 and "late" in debouncer
    assert debouncer.poll(10.0) == ["E", "L"]


def test_cancel_drops_pending_action() -> None:
    debouncer: Debouncer[str, str] = Debouncer()
    debouncer.submit("a", "x", now=0.0)
    assert debouncer.deadline("a") == 1.0
    assert debouncer.cancel("a") is True
    assert debouncer.cancel("a") is False
    assert debouncer.poll(100.0) == []


@pytest.mark.parametrize(
    ("settle", "max_delay"),
    [(-1.0, 5.0), (2.0, 1.0), (float("nan"), 5.0), (1.0, float("inf"))],
)
def test_config_rejects_nonsense(settle: float, max_delay: float) -> None:
    with pytest.raises(ValueError):
        DebounceConfig(settle=settle, max_delay=max_delay)


# Submissions: (gap since the previous one, key).
_submissions = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=4.0, allow_nan=False), st.sampled_from("abc")),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    submissions=_submissions,
    settle=st.floats(min_value=0.0, max_value=2.0),
    extra=st.floats(min_value=0.0, max_value=5.0),
)
def test_debouncer_invariants(
    submissions: list[tuple[float, str]], settle: float, extra: float
) -> None:
    config = DebounceConfig(settle=settle, max_delay=settle + extra)
    # An action is (key, index of its submission).
    debouncer: Debouncer[str, tuple[str, int]] = Debouncer(config)
    released: dict[str, list[tuple[float, int]]] = defaultdict(list)  # key -> (time, index)

    def run_until(t: float) -> None:
        while (deadline := debouncer.next_deadline()) is not None and deadline <= t:
            for key, index in debouncer.poll(deadline):
                released[key].append((deadline, index))

    now = 0.0
    submitted: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for index, (gap, key) in enumerate(submissions):
        now += gap
        run_until(now)
        debouncer.submit(key, (key, index), now)
        submitted[key].append((now, index))
    run_until(float("inf"))

    assert len(debouncer) == 0
    for key, subs in submitted.items():
        releases = released[key]
        times = [t for t, _ in releases]
        indexes = [i for _, i in releases]
        # The last submission for a key is what is acted on last.
        assert indexes[-1] == subs[-1][1]
        # Releases are submitted actions, in submission order, never early.
        submit_time = {i: t for t, i in subs}
        assert indexes == sorted(indexes)
        assert all(t >= submit_time[i] for t, i in releases)
        # At most one release per key per settle period.
        assert all(b - a >= settle - 1e-9 for a, b in pairwise(times))
        # Every submission is acted on (by itself or a later one of its
        # burst) within max_delay.
        for t, i in subs:
            assert any(j >= i and r <= t + config.max_delay + 1e-9 for r, j in releases)
