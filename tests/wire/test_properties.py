"""Property tests: exact round trips, and decoding never raises anything
but MalformedMessage (random bytes, and valid messages mutated)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rkmp_frr.wire import (
    MalformedMessage,
    Message,
    Payload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.payloads import ENCRYPTED_PAYLOAD_TYPES, KNOWN_PAYLOAD_TYPES

from .strategies import messages, payload_chains, plain_payloads
from .vectors import CAPTURED, RKMP_SA_AUTH_INNER, RKMP_SA_INIT_REQUEST

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decodes_exactly_or_is_malformed(data: bytes) -> None:
    """The codec contract for arbitrary input."""
    try:
        message = decode_message(data)
    except MalformedMessage as error:
        assert isinstance(error.reason, str) and error.reason
        assert isinstance(error.offset, int)
        return
    assert encode_message(message) == data


# --- round trips ----------------------------------------------------------------


@SETTINGS
@given(plain_payloads)
def test_every_payload_round_trips(payload: Payload) -> None:
    first, wire = encode_payloads([payload])
    assert first == payload.payload_type
    assert decode_payloads(first, wire) == (payload,)


@SETTINGS
@given(payload_chains)
def test_every_chain_round_trips(chain: tuple[Payload, ...]) -> None:
    first, wire = encode_payloads(chain)
    assert decode_payloads(first, wire) == chain
    assert encode_payloads(decode_payloads(first, wire)) == (first, wire)


@SETTINGS
@given(messages())
def test_every_message_round_trips(message: Message) -> None:
    wire = encode_message(message)
    assert int.from_bytes(wire[24:28], "big") == len(wire)
    decoded = decode_message(wire)
    assert decoded == message
    assert encode_message(decoded) == wire


# --- robustness -------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_malformed(data: bytes) -> None:
    decodes_exactly_or_is_malformed(data)


@SETTINGS
@given(
    header=st.binary(min_size=24, max_size=24),
    version=st.sampled_from([0x20, 0x20, 0x21, 0x10, 0x30]),
    first=st.integers(0, 255),
    body=st.binary(max_size=300),
)
def test_random_payloads_behind_a_consistent_header(
    header: bytes, version: int, first: int, body: bytes
) -> None:
    # Header fields sane enough that decoding reaches the payload chain.
    data = bytearray(header + (28 + len(body)).to_bytes(4, "big") + body)
    data[16] = first
    data[17] = version
    decodes_exactly_or_is_malformed(bytes(data))


@SETTINGS
@given(st.integers(0, 255), st.binary(max_size=300), st.integers(0, 1000))
def test_decode_payloads_on_random_bytes(first: int, data: bytes, offset: int) -> None:
    try:
        payloads = decode_payloads(first, data, offset)
    except MalformedMessage as error:
        assert error.offset >= offset
        return
    assert encode_payloads(payloads) == (first, data)


@SETTINGS
@given(
    payload_type=st.sampled_from(sorted(KNOWN_PAYLOAD_TYPES)),
    critical=st.booleans(),
    body=st.one_of(st.binary(max_size=12), st.binary(max_size=80)),
    following=st.binary(max_size=8),
)
def test_each_payload_type_on_random_bodies(
    payload_type: int, critical: bool, body: bytes, following: bytes
) -> None:
    # A correct generic header around a random body reaches every body
    # decoder with short and odd lengths; random octets may follow it.
    data = bytes([0, 0x80 if critical else 0]) + (4 + len(body)).to_bytes(2, "big") + body
    data += following
    try:
        payloads = decode_payloads(payload_type, data)
    except MalformedMessage:
        return
    assert encode_payloads(payloads) == (payload_type, data)


FIXED_CORPUS = (RKMP_SA_INIT_REQUEST, *CAPTURED)


def length_field_positions(data: bytes) -> list[int]:
    """Where the Payload Length fields of a valid message are (§3.2)."""
    positions = [24]
    pos, next_type = 28, data[16]
    while next_type and pos + 4 <= len(data):
        positions.append(pos + 2)
        if next_type in ENCRYPTED_PAYLOAD_TYPES:
            break
        next_type = data[pos]
        pos += int.from_bytes(data[pos + 2 : pos + 4], "big")
    return positions


corpus = st.one_of(st.sampled_from(FIXED_CORPUS), messages().map(encode_message))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message with 1-4 random edits, the header length usually
    kept consistent so the edits reach the payload decoders."""
    data = bytearray(draw(corpus))
    fields = length_field_positions(bytes(data))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "length", "truncate", "insert", "delete"]))
        if not data:
            data.extend(draw(st.binary(min_size=1, max_size=8)))
            continue
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "length":
            # Overwrite a 16-bit field (lengths are 16 bits on every level),
            # often a real Payload Length field, often by a small amount.
            if draw(st.booleans()):
                pos = draw(st.sampled_from(fields))
            old = int.from_bytes(data[pos : pos + 2].ljust(2, b"\0"), "big")
            value = draw(
                st.one_of(
                    st.integers(0, 0xFFFF),
                    st.integers(0, 16),
                    st.integers(max(0, old - 8), min(0xFFFF, old + 8)),
                )
            )
            data[pos : pos + 2] = value.to_bytes(2, "big")
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos : pos + draw(st.integers(1, 8))]
    if len(data) >= 28 and draw(st.integers(0, 3)):
        data[24:28] = len(data).to_bytes(4, "big")
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_raise_malformed(data: bytes) -> None:
    decodes_exactly_or_is_malformed(data)


@SETTINGS
@given(st.integers(0, len(RKMP_SA_AUTH_INNER) - 1), st.integers(0, 255))
def test_mutated_inner_chain_only_raises_malformed(pos: int, value: int) -> None:
    data = bytearray(RKMP_SA_AUTH_INNER)
    data[pos] = value
    try:
        payloads = decode_payloads(35, bytes(data))
    except MalformedMessage:
        return
    assert encode_payloads(payloads) == (35, bytes(data))
