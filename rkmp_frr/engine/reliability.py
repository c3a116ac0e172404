"""Reliable request/response delivery over datagrams (RFC 7296 §2.1-§2.4).

The initiator of an exchange retransmits its request until a response
arrives or the retransmission budget is spent; the responder keeps its last
response and sends it again when the same request arrives again. With a
window of one (RFC 7296 §2.3, no SET_WINDOW_SIZE) one request per direction
is outstanding at a time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rkmp_frr.engine import draws
from rkmp_frr.engine.policy import RetransmitPolicy
from rkmp_frr.engine.tasks.base import Task


def wait_time(policy: RetransmitPolicy, attempt: int, rng: random.Random) -> float:
    """How long to wait after transmission ``attempt`` (0 = first)."""
    wait = policy.interval(attempt)
    if policy.jitter:
        wait -= wait * draws.uniform(rng, 0.0, policy.jitter)
    return wait


@dataclass(slots=True, eq=False)
class OutstandingRequest:
    """Our request in flight: the exact datagram (retransmissions are
    byte-identical, RFC 7296 §2.1), the task waiting for the answer, and
    when to act next."""

    message_id: int
    datagram: bytes
    task: Task
    deadline: float
    attempt: int = 0

    def on_deadline(self, policy: RetransmitPolicy, rng: random.Random, now: float) -> bool:
        """Called when ``deadline`` has passed: True to retransmit (the next
        deadline is set), False when the budget is spent."""
        if self.attempt >= policy.tries:
            return False
        self.attempt += 1
        self.deadline = now + wait_time(policy, self.attempt, rng)
        return True


@dataclass(slots=True)
class ResponseCache:
    """The last request we answered and our answer (RFC 7296 §2.1: a
    retransmitted request gets the same response again, and is not
    processed a second time)."""

    message_id: int = -1
    request: bytes = b""
    response: bytes = b""

    def store(self, message_id: int, request: bytes, response: bytes) -> None:
        self.message_id = message_id
        self.request = request
        self.response = response

    def lookup(self, message_id: int, request: bytes) -> bytes | None:
        """Our cached response if ``request`` is exactly the request we last
        answered (an exact match needs no decryption to be trusted)."""
        if message_id == self.message_id and request == self.request and self.response:
            return self.response
        return None
