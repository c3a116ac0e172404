"""Payloads and messages whose encoding is mostly computed once.

RKMP_SA_INIT offers and answers carry the same SA payload for every SA of
a policy, and the same status notifies; encoding them again per handshake
is measurable work on the hot path. ``PreEncodedSa`` is an ``SaPayload``
that keeps its validated body; ``encode_init`` writes the usual
RKMP_SA_INIT shape from those pre-encoded parts, giving exactly the octets
``encode_message`` gives for the same message (tests compare the two).
"""

from __future__ import annotations

from struct import Struct

from rkmp_frr.wire import (
    Header,
    KePayload,
    Message,
    NoncePayload,
    Payload,
    Proposal,
    SaPayload,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.constants import HEADER_LENGTH, PayloadType
from rkmp_frr.wire.header import pack_header
from rkmp_frr.wire.message import MAX_PAYLOADS
from rkmp_frr.wire.payloads import ENCRYPTED_PAYLOAD_TYPES

# Next Payload, C|RESERVED, Payload Length (RFC 7296 §3.2).
_GENERIC = Struct(">BBH")
_GENERIC_SIZE = _GENERIC.size
_MAX_TAILS = 64


class PreEncodedSa(SaPayload):
    """An SA payload encoded (and so validated) once, at construction."""

    __slots__ = ("_body",)
    _body: bytes

    def __init__(self, proposals: tuple[Proposal, ...]) -> None:
        super().__init__(proposals)
        object.__setattr__(self, "_body", SaPayload.encode_body(self))

    def encode_body(self) -> bytes:
        return self._body


# Encoded tails by the identity of their (immutable, shared) payload tuple;
# each entry keeps its tuple alive, so an id is never reused while cached.
_tails: dict[int, tuple[tuple[Payload, ...], int, bytes]] = {}


def _encoded_tail(tail: tuple[Payload, ...]) -> tuple[int, bytes] | None:
    """(first payload type, octets) of ``tail``; None for a tail the
    generic encoder must handle (SK/SKF, which end a chain; too long)."""
    entry = _tails.get(id(tail))
    if entry is None or entry[0] is not tail:
        if len(tail) > MAX_PAYLOADS - 3 or any(
            p.payload_type in ENCRYPTED_PAYLOAD_TYPES for p in tail
        ):
            return None
        first, octets = encode_payloads(tail)
        if len(_tails) >= _MAX_TAILS:
            _tails.clear()
        entry = (tail, first, octets)
        _tails[id(tail)] = entry
    return entry[1], entry[2]


def encode_init(
    header: Header,
    sa: SaPayload,
    ke: KePayload,
    nonce: NoncePayload,
    tail: tuple[Payload, ...],
) -> bytes:
    """``encode_message(Message(header, (sa, ke, nonce, *tail)))``, the SA
    body and the encoding of ``tail`` (e.g. the status notifies, the same
    tuple for every SA) taken from earlier work. Same octets, and the same
    EncodeError for bad values."""
    encoded_tail = _encoded_tail(tail) if tail else (0, b"")
    if (
        encoded_tail is None
        or sa.critical is not False
        or ke.critical is not False
        or nonce.critical is not False
    ):
        return encode_message(Message(header, (sa, ke, nonce, *tail)))  # the general case
    tail_first, tail_octets = encoded_tail
    ke_body = ke.encode_body()  # checks group and data
    nonce_body = nonce.encode_body()  # checks the nonce length
    sa_body = sa.encode_body()
    sa_length = _GENERIC_SIZE + len(sa_body)
    ke_length = _GENERIC_SIZE + len(ke_body)
    nonce_length = _GENERIC_SIZE + len(nonce_body)
    length = HEADER_LENGTH + sa_length + ke_length + nonce_length + len(tail_octets)
    pack = _GENERIC.pack
    return b"".join(
        (
            pack_header(header, PayloadType.SA, length),
            pack(PayloadType.KE, 0, sa_length),
            sa_body,
            pack(PayloadType.NONCE, 0, ke_length),
            ke_body,
            pack(tail_first, 0, nonce_length),
            nonce_body,
            tail_octets,
        )
    )
