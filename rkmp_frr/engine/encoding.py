"""Payloads whose encoding is computed once.

RKMP_SA_INIT offers and answers carry the same SA payload for every SA of
a policy; encoding it again per handshake is measurable work on the hot
path. ``PreEncodedSa`` is an ``SaPayload`` that keeps its validated body.
"""

from __future__ import annotations

from rkmp_frr.wire import Proposal, SaPayload


class PreEncodedSa(SaPayload):
    """An SA payload encoded (and so validated) once, at construction."""

    __slots__ = ("_body",)
    _body: bytes

    def __init__(self, proposals: tuple[Proposal, ...]) -> None:
        super().__init__(proposals)
        object.__setattr__(self, "_body", SaPayload.encode_body(self))

    def encode_body(self) -> bytes:
        return self._body
