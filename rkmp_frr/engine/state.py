"""The states of an RKMP SA and the transitions allowed between them.

Like h11's ``_state.py``: one explicit table, and every state change goes
through ``check_transition`` so an impossible change is a bug caught at once
rather than a silently wrong SA.
"""

from __future__ import annotations

from enum import Enum


class SaState(Enum):
    INIT_SENT = "init-sent"  # initiator: RKMP_SA_INIT request out
    AUTH_SENT = "auth-sent"  # initiator: RKMP_SA_AUTH request out
    INIT_ANSWERED = "init-answered"  # responder: half-open (RFC 7296 §2.6)
    # Responder: RKMP_SA_AUTH answered, but the initiator has not yet shown
    # that it accepted our AUTH (its next authenticated message does). Keys
    # are held back until then, so a failed authentication on the
    # initiator's side never yields a key here.
    UNCONFIRMED = "unconfirmed"
    ESTABLISHED = "established"
    REKEYED = "rekeyed"  # replaced by a new RKMP SA, waiting for its Delete
    DELETING = "deleting"  # our Delete is out
    CLOSED = "closed"

    # Members are singletons compared by identity: hash them by identity in
    # C rather than by name in Python (Enum.__hash__), for the transition
    # table and the state sets looked up on every exchange.
    __hash__ = object.__hash__


_TRANSITIONS: dict[SaState, frozenset[SaState]] = {
    SaState.INIT_SENT: frozenset({SaState.AUTH_SENT, SaState.CLOSED}),
    SaState.AUTH_SENT: frozenset({SaState.ESTABLISHED, SaState.CLOSED}),
    SaState.INIT_ANSWERED: frozenset({SaState.UNCONFIRMED, SaState.CLOSED}),
    SaState.UNCONFIRMED: frozenset({SaState.ESTABLISHED, SaState.CLOSED}),
    SaState.ESTABLISHED: frozenset({SaState.REKEYED, SaState.DELETING, SaState.CLOSED}),
    SaState.REKEYED: frozenset({SaState.DELETING, SaState.CLOSED}),
    SaState.DELETING: frozenset({SaState.CLOSED}),
    SaState.CLOSED: frozenset(),
}

# States in which the SA has keys both sides trust and can carry
# CREATE_CHILD_SA / INFORMATIONAL exchanges.
USABLE = frozenset({SaState.ESTABLISHED})
# States counted as half-open for the COOKIE threshold (RFC 7296 §2.6).
HALF_OPEN = frozenset({SaState.INIT_ANSWERED})


class StateError(RuntimeError):
    """An impossible state change was attempted (a bug in the engine)."""


def check_transition(old: SaState, new: SaState) -> None:
    if new not in _TRANSITIONS[old]:
        raise StateError(f"RKMP SA cannot go from {old.value} to {new.value}")
