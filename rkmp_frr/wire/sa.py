"""The Security Association payload (RFC 7296 §3.3): proposals, transforms
and transform attributes.

Structure checked when decoding (and refused when encoding):
- at least one proposal; Last Substruc is 2 on every proposal but the last,
  which has 0, and the proposals fill the payload exactly (§3.3.1);
- proposal numbers: a single proposal (a response) may carry any number
  1..255; several proposals (an offer) are numbered 1, 2, 3... (§3.3.1);
- SPI Size matches the Protocol ID where this profile knows the protocol:
  IKE 0 or 8, AH/ESP 4, RKMP routing protocols per DESIGN.md §2;
- Num Transforms (at least one) equals the transforms present; Last
  Substruc is 3 on every transform but the last, which has 0; the
  transforms fill the proposal exactly (§3.3.2);
- attributes (§3.3.5) fill their transform exactly; TV (AF bit set) has a
  2-octet value, TLV a length-counted value.
RESERVED fields must be zero (see message.py for why the codec is strict).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct

from rkmp_frr.wire._checks import (
    UINT8_MAX,
    UINT16_MAX,
    check_bool,
    check_bytes,
    check_uint,
)
from rkmp_frr.wire._make import maker2, maker3, maker4
from rkmp_frr.wire.constants import (
    ATTRIBUTE_FORMAT_TV,
    ROUTING_SPI_SIZE,
    PayloadType,
    ProtocolId,
    TransformAttributeType,
)
from rkmp_frr.wire.errors import EncodeError, MalformedMessage

# Bounds on substructure counts (codec policy, not wire numbers): they keep
# the work per datagram small whatever a peer sends.
MAX_PROPOSALS = 64
MAX_TRANSFORMS = 128
MAX_ATTRIBUTES = 16

LAST_PROPOSAL = 0
MORE_PROPOSALS = 2  # §3.3.1: "2 if there are more Proposal Substructures"
LAST_TRANSFORM = 0
MORE_TRANSFORMS = 3  # §3.3.2: "3 if there are more Transform Substructures"
ATTRIBUTE_TYPE_MAX = 0x7FFF

# Last Substruc, RESERVED, Proposal Length, Proposal Num, Protocol ID,
# SPI Size, Num Transforms.
_PROPOSAL = Struct(">BBHBBBB")
# Last Substruc, RESERVED, Transform Length, Transform Type, RESERVED,
# Transform ID.
_TRANSFORM = Struct(">BBHBBH")
# AF|Attribute Type, Attribute Length or Value.
_ATTRIBUTE = Struct(">HH")
_PROPOSAL_SIZE = _PROPOSAL.size
_TRANSFORM_SIZE = _TRANSFORM.size
_ATTRIBUTE_SIZE = _ATTRIBUTE.size

# SPI sizes per protocol where they are fixed (RFC 7296 §3.3.1, DESIGN.md §2).
_IKE_SPI_SIZES = frozenset({0, 8})  # 0 in IKE_SA_INIT, 8 when rekeying
_SPI_SIZES: dict[int, frozenset[int]] = {
    ProtocolId.IKE: _IKE_SPI_SIZES,
    ProtocolId.AH: frozenset({4}),
    ProtocolId.ESP: frozenset({4}),
    **{int(p): frozenset({size}) for p, size in ROUTING_SPI_SIZE.items()},
}


def spi_size_allowed(protocol_id: int, spi_size: int) -> bool:
    """Whether an SPI of ``spi_size`` octets fits ``protocol_id``.

    Protocols this profile does not know accept any size: the engine
    rejects them with NO_PROPOSAL_CHOSEN, not the codec.
    """
    sizes = _SPI_SIZES.get(protocol_id)
    return sizes is None or spi_size in sizes


@dataclass(frozen=True, slots=True)
class TransformAttribute:
    """RFC 7296 §3.3.5. An int value is TV format (AF bit set, 2 octets);
    a bytes value is TLV format."""

    attribute_type: int
    value: int | bytes

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, attribute_type: int, value: int | bytes) -> None:
        object.__setattr__(self, "attribute_type", attribute_type)
        object.__setattr__(self, "value", value)


@dataclass(frozen=True, slots=True)
class Transform:
    """RFC 7296 §3.3.2."""

    transform_type: int
    transform_id: int
    attributes: tuple[TransformAttribute, ...] = ()

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        transform_type: int,
        transform_id: int,
        attributes: tuple[TransformAttribute, ...] = (),
    ) -> None:
        object.__setattr__(self, "transform_type", transform_type)
        object.__setattr__(self, "transform_id", transform_id)
        object.__setattr__(self, "attributes", attributes)

    @property
    def key_length(self) -> int | None:
        """The Key Length attribute (§3.3.5, TV format), if present."""
        for attribute in self.attributes:
            if attribute.attribute_type == TransformAttributeType.KEY_LENGTH and isinstance(
                attribute.value, int
            ):
                return attribute.value
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    """RFC 7296 §3.3.1. ``spi`` is empty for IKE_SA_INIT proposals."""

    number: int
    protocol_id: int
    spi: bytes
    transforms: tuple[Transform, ...]

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        number: int,
        protocol_id: int,
        spi: bytes,
        transforms: tuple[Transform, ...],
    ) -> None:
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "protocol_id", protocol_id)
        object.__setattr__(self, "spi", spi)
        object.__setattr__(self, "transforms", transforms)


@dataclass(frozen=True, slots=True)
class SaPayload:
    """RFC 7296 §3.3."""

    @property
    def payload_type(self) -> int:
        return PayloadType.SA

    proposals: tuple[Proposal, ...]
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, proposals: tuple[Proposal, ...], critical: bool = False) -> None:
        object.__setattr__(self, "proposals", proposals)
        object.__setattr__(self, "critical", critical)

    def encode_body(self) -> bytes:
        """The payload body (after the generic payload header)."""
        check_bool("SaPayload.critical", self.critical)
        count = len(self.proposals)
        if not 1 <= count <= MAX_PROPOSALS:
            raise EncodeError(f"SA payload needs 1..{MAX_PROPOSALS} proposals, got {count}")
        parts: list[bytes] = []
        for index, proposal in enumerate(self.proposals):
            if count > 1 and proposal.number != index + 1:
                raise EncodeError(f"proposal {index + 1} of {count} has number {proposal.number!r}")
            last = LAST_PROPOSAL if index == count - 1 else MORE_PROPOSALS
            parts.append(_encode_proposal(proposal, last))
        return b"".join(parts)


# --- decoding ---------------------------------------------------------------

_make_sa = maker2(SaPayload, "proposals", "critical")
_make_proposal = maker4(Proposal, "number", "protocol_id", "spi", "transforms")
_make_transform = maker3(Transform, "transform_type", "transform_id", "attributes")
_make_attribute = maker2(TransformAttribute, "attribute_type", "value")

# Decoded SA payloads by body octets. Every peer of a policy sends the same
# offer, and the objects are immutable, so the same body gives the same
# object back without decoding it again. Bounded: small bodies only, and the
# whole cache is dropped when full (whatever a peer sends, it stays small).
_CACHE_BODY_MAX = 512
_CACHE_ENTRIES = 256
_decoded: dict[bytes, SaPayload] = {}


def decode_sa(data: bytes, start: int, end: int, critical: bool) -> SaPayload:
    """Decode the SA payload body ``data[start:end]`` (offsets absolute)."""
    if critical or end - start > _CACHE_BODY_MAX:
        return _decode_sa(data, start, end, critical)
    body = data[start:end]
    payload = _decoded.get(body)
    if payload is None:
        payload = _decode_sa(data, start, end, critical)
        if len(_decoded) >= _CACHE_ENTRIES:
            _decoded.clear()
        _decoded[body] = payload
    return payload


def _decode_sa(data: bytes, start: int, end: int, critical: bool) -> SaPayload:
    proposals: list[Proposal] = []
    pos = start
    while True:
        index = len(proposals)
        if index == MAX_PROPOSALS:
            raise MalformedMessage(f"SA payload has more than {MAX_PROPOSALS} proposals", pos)
        proposal_start = pos
        proposal, last, pos = _decode_proposal(data, pos, end)
        number = proposal.number
        # §3.3.1: offers are numbered 1, 2, ...; a lone proposal (an answer)
        # carries the number of the one accepted, never 0.
        if number == 0 or (number != index + 1 and (index or last != LAST_PROPOSAL)):
            raise MalformedMessage(
                f"SA proposal {index + 1} has number {number}", proposal_start + 4
            )
        proposals.append(proposal)
        if last == LAST_PROPOSAL:
            break
        if pos == end:
            raise MalformedMessage("SA proposal marked not last but payload ends", pos)
    if pos != end:
        raise MalformedMessage(f"{end - pos} octets after the last SA proposal", pos)
    return _make_sa(tuple(proposals), critical)


def _decode_proposal(data: bytes, pos: int, end: int) -> tuple[Proposal, int, int]:
    """Decode one proposal at ``pos``; return it, its Last Substruc value and
    the position after it."""
    if end - pos < _PROPOSAL_SIZE:
        raise MalformedMessage("SA proposal header truncated", pos)
    last, reserved, length, number, protocol_id, spi_size, num_transforms = _PROPOSAL.unpack_from(
        data, pos
    )
    if last != LAST_PROPOSAL and last != MORE_PROPOSALS:
        raise MalformedMessage(f"SA proposal Last Substruc {last} is not 0 or 2", pos)
    if reserved:
        raise MalformedMessage("SA proposal RESERVED field is not zero", pos + 1)
    if length > end - pos:
        raise MalformedMessage(f"SA proposal length {length} exceeds payload", pos + 2)
    if length < _PROPOSAL_SIZE + spi_size:
        raise MalformedMessage(f"SA proposal length {length} too short for its SPI", pos + 2)
    if not spi_size_allowed(protocol_id, spi_size):
        raise MalformedMessage(
            f"SPI size {spi_size} is invalid for protocol {protocol_id}", pos + 6
        )
    if num_transforms == 0:
        raise MalformedMessage("SA proposal has no transforms", pos + 7)
    if num_transforms > MAX_TRANSFORMS:
        raise MalformedMessage(f"SA proposal has more than {MAX_TRANSFORMS} transforms", pos + 7)
    spi_start = pos + _PROPOSAL_SIZE
    transforms_start = spi_start + spi_size
    proposal_end = pos + length
    transforms = _decode_transforms(data, transforms_start, proposal_end, num_transforms)
    proposal = _make_proposal(number, protocol_id, data[spi_start:transforms_start], transforms)
    return proposal, last, proposal_end


def _decode_transforms(data: bytes, pos: int, end: int, count: int) -> tuple[Transform, ...]:
    transforms: list[Transform] = []
    for index in range(count):
        if end - pos < _TRANSFORM_SIZE:
            raise MalformedMessage(f"proposal announces {count} transforms but holds {index}", pos)
        last, reserved1, length, transform_type, reserved2, transform_id = _TRANSFORM.unpack_from(
            data, pos
        )
        expected_last = LAST_TRANSFORM if index == count - 1 else MORE_TRANSFORMS
        if last != expected_last:
            raise MalformedMessage(
                f"transform {index + 1} of {count} has Last Substruc {last}, "
                f"expected {expected_last}",
                pos,
            )
        if reserved1 or reserved2:
            raise MalformedMessage("transform RESERVED field is not zero", pos)
        if length < _TRANSFORM_SIZE or length > end - pos:
            raise MalformedMessage(f"transform length {length} does not fit its proposal", pos + 2)
        transform_end = pos + length
        attributes = _decode_attributes(data, pos + _TRANSFORM_SIZE, transform_end)
        transforms.append(_make_transform(transform_type, transform_id, attributes))
        pos = transform_end
    if pos != end:
        raise MalformedMessage(f"{end - pos} octets after the last transform of a proposal", pos)
    return tuple(transforms)


def _decode_attributes(data: bytes, pos: int, end: int) -> tuple[TransformAttribute, ...]:
    if pos == end:  # the common case: no attributes
        return ()
    attributes: list[TransformAttribute] = []
    while pos < end:
        if len(attributes) == MAX_ATTRIBUTES:
            raise MalformedMessage(f"transform has more than {MAX_ATTRIBUTES} attributes", pos)
        if end - pos < _ATTRIBUTE_SIZE:
            raise MalformedMessage("transform attribute truncated", pos)
        type_field, length_or_value = _ATTRIBUTE.unpack_from(data, pos)
        attribute_type = type_field & ATTRIBUTE_TYPE_MAX
        value_start = pos + _ATTRIBUTE_SIZE
        if type_field & ATTRIBUTE_FORMAT_TV:
            attributes.append(_make_attribute(attribute_type, length_or_value))
            pos = value_start
        else:
            if length_or_value > end - value_start:
                raise MalformedMessage(
                    f"attribute length {length_or_value} exceeds its transform", pos + 2
                )
            pos = value_start + length_or_value
            attributes.append(_make_attribute(attribute_type, data[value_start:pos]))
    return tuple(attributes)


# --- encoding ---------------------------------------------------------------


def _encode_proposal(proposal: Proposal, last: int) -> bytes:
    number, protocol_id, spi = proposal.number, proposal.protocol_id, proposal.spi
    transforms = proposal.transforms
    if (
        type(spi) is bytes
        and isinstance(number, int)
        and isinstance(protocol_id, int)
        and 1 <= number <= UINT8_MAX
        and 0 <= protocol_id <= UINT8_MAX
        and len(spi) <= UINT8_MAX
        and spi_size_allowed(protocol_id, len(spi))
        and 1 <= (count := len(transforms)) <= MAX_TRANSFORMS
    ):
        body = b"".join(
            [
                _encode_transform(t, LAST_TRANSFORM if i == count - 1 else MORE_TRANSFORMS)
                for i, t in enumerate(transforms)
            ]
        )
        length = _PROPOSAL_SIZE + len(spi) + len(body)
        if length <= UINT16_MAX:
            header = _PROPOSAL.pack(last, 0, length, number, protocol_id, len(spi), count)
            return header + spi + body
    return _encode_proposal_checked(proposal, last)


def _encode_proposal_checked(proposal: Proposal, last: int) -> bytes:
    number = check_uint("Proposal.number", proposal.number, UINT8_MAX, 1)
    protocol_id = check_uint("Proposal.protocol_id", proposal.protocol_id, UINT8_MAX)
    spi = check_bytes("Proposal.spi", proposal.spi, UINT8_MAX)
    if not spi_size_allowed(protocol_id, len(spi)):
        raise EncodeError(f"SPI size {len(spi)} is invalid for protocol {protocol_id}")
    count = len(proposal.transforms)
    if not 1 <= count <= MAX_TRANSFORMS:
        raise EncodeError(f"proposal needs 1..{MAX_TRANSFORMS} transforms, got {count}")
    transforms = b"".join(
        _encode_transform(t, LAST_TRANSFORM if i == count - 1 else MORE_TRANSFORMS)
        for i, t in enumerate(proposal.transforms)
    )
    length = _PROPOSAL_SIZE + len(spi) + len(transforms)
    if length > UINT16_MAX:
        raise EncodeError(f"proposal length {length} exceeds {UINT16_MAX}")
    header = _PROPOSAL.pack(last, 0, length, number, protocol_id, len(spi), count)
    return header + spi + transforms


def _encode_transform(transform: Transform, last: int) -> bytes:
    transform_type, transform_id = transform.transform_type, transform.transform_id
    if (
        transform.attributes == ()
        and isinstance(transform_type, int)
        and isinstance(transform_id, int)
        and 0 <= transform_type <= UINT8_MAX
        and 0 <= transform_id <= UINT16_MAX
    ):
        return _TRANSFORM.pack(last, 0, _TRANSFORM_SIZE, transform_type, 0, transform_id)
    transform_type = check_uint("Transform.transform_type", transform.transform_type, UINT8_MAX)
    transform_id = check_uint("Transform.transform_id", transform.transform_id, UINT16_MAX)
    if len(transform.attributes) > MAX_ATTRIBUTES:
        raise EncodeError(f"transform has more than {MAX_ATTRIBUTES} attributes")
    attributes = b"".join(_encode_attribute(a) for a in transform.attributes)
    length = _TRANSFORM_SIZE + len(attributes)
    if length > UINT16_MAX:
        raise EncodeError(f"transform length {length} exceeds {UINT16_MAX}")
    return _TRANSFORM.pack(last, 0, length, transform_type, 0, transform_id) + attributes


def _encode_attribute(attribute: TransformAttribute) -> bytes:
    attribute_type = check_uint(
        "TransformAttribute.attribute_type", attribute.attribute_type, ATTRIBUTE_TYPE_MAX
    )
    value = attribute.value
    if isinstance(value, int):
        tv_value = check_uint("TransformAttribute.value", value, UINT16_MAX)
        return _ATTRIBUTE.pack(ATTRIBUTE_FORMAT_TV | attribute_type, tv_value)
    tlv_value = check_bytes("TransformAttribute.value", value, UINT16_MAX)
    return _ATTRIBUTE.pack(attribute_type, len(tlv_value)) + tlv_value
