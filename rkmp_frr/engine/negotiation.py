"""RKMP_SA_INIT proposal negotiation, memoised for identical inputs.

Every initiator of a policy sends the same offer, and the codec hands back
the same immutable objects for the same SA payload octets (wire/sa.py), so
the responder's choice, and the initiator's check of the answer, are
computed once per (our proposals, their proposals) pair and then looked up.
The memo is keyed by object identity and keeps the key objects alive, so an
entry only ever answers for exactly the objects it was computed from.
Errors are not memoised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from rkmp_frr.crypto.proposals import ChosenProposal, CryptoProposal, check_response, select_offer
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.engine.encoding import PreEncodedSa
from rkmp_frr.wire import Proposal, SaPayload

_V = TypeVar("_V")
MEMO_ENTRIES = 256


class IdentityMemo(Generic[_V]):
    """Values computed from two immutable objects and a number, found again
    by the objects' identity. Bounded: cleared when full."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[tuple[int, int, int], tuple[object, object, _V]] = {}

    def get(self, first: object, second: object, number: int) -> _V | None:
        entry = self._entries.get((id(first), id(second), number))
        if entry is not None and entry[0] is first and entry[1] is second:
            return entry[2]
        return None

    def put(self, first: object, second: object, number: int, value: _V) -> None:
        if len(self._entries) >= MEMO_ENTRIES:
            self._entries.clear()
        self._entries[(id(first), id(second), number)] = (first, second, value)


@dataclass(frozen=True, slots=True)
class InitChoice:
    """The responder's choice for an offer: the proposal accepted, its suite
    and our SA payload naming it (encoded once)."""

    chosen: ChosenProposal
    suite: CryptoSuite
    answer: SaPayload


_NO_CHOICE = InitChoice.__new__(InitChoice)  # memoised "nothing acceptable"
_choices: IdentityMemo[InitChoice] = IdentityMemo()
_checked: IdentityMemo[CryptoSuite] = IdentityMemo()


def choose(
    ours: tuple[CryptoProposal, ...], offered: tuple[Proposal, ...], prefer_ke: int
) -> InitChoice | None:
    """``select_offer(ours, offered, prefer_ke)`` with its suite and answer
    payload; None if nothing is acceptable (NO_PROPOSAL_CHOSEN)."""
    found = _choices.get(ours, offered, prefer_ke)
    if found is None:
        chosen = select_offer(ours, offered, prefer_ke=prefer_ke)
        found = _NO_CHOICE
        if chosen is not None:
            found = InitChoice(chosen, chosen.suite, PreEncodedSa((chosen.to_wire(),)))
        _choices.put(ours, offered, prefer_ke, found)
    return None if found is _NO_CHOICE else found


def check_answer(ours: tuple[CryptoProposal, ...], answer: Proposal) -> CryptoSuite:
    """``check_response(ours, answer)``: the suite, or ProposalError /
    CryptoError (never memoised)."""
    suite = _checked.get(ours, answer, 0)
    if suite is None:
        suite = check_response(ours, answer)
        _checked.put(ours, answer, 0, suite)
    return suite
