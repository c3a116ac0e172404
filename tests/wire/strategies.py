"""Hypothesis strategies that generate *valid* wire objects: everything they
produce must encode, and decode back to an equal object."""

from __future__ import annotations

from hypothesis import strategies as st

from rkmp_frr.wire import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    Header,
    IdPayload,
    KePayload,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    RawPayload,
    SaPayload,
    Transform,
    TransformAttribute,
    UnknownPayload,
    VendorIdPayload,
)
from rkmp_frr.wire.constants import ROUTING_SPI_SIZE, HeaderFlag, ProtocolId
from rkmp_frr.wire.payloads import KNOWN_PAYLOAD_TYPES, RAW_PAYLOAD_TYPES

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
small_data = st.binary(max_size=40)
critical = st.booleans()

# Protocol IDs with the SPI sizes the codec accepts for each (None = any).
_SPI_SIZES: dict[int, list[int] | None] = {
    ProtocolId.IKE: [0, 8],
    ProtocolId.AH: [4],
    ProtocolId.ESP: [4],
    **{int(p): [size] for p, size in ROUTING_SPI_SIZE.items()},
    0: None,
    99: None,
    250: None,
}


@st.composite
def protocol_and_spi(draw: st.DrawFn, allow_empty: bool = False) -> tuple[int, bytes]:
    protocol = draw(st.sampled_from(sorted(_SPI_SIZES)))
    sizes = _SPI_SIZES[protocol]
    size = draw(st.integers(0, 16) if sizes is None else st.sampled_from(sizes))
    if allow_empty and draw(st.booleans()):
        size = 0
    return protocol, draw(st.binary(min_size=size, max_size=size))


headers = st.builds(
    Header,
    spi_i=st.binary(min_size=8, max_size=8),
    spi_r=st.binary(min_size=8, max_size=8),
    exchange_type=u8,
    flags=u8.map(HeaderFlag),
    message_id=u32,
    major_version=st.just(2),
    minor_version=st.integers(0, 15),
)

attributes = st.builds(
    TransformAttribute,
    attribute_type=st.integers(0, 0x7FFF),
    value=st.one_of(u16, st.binary(max_size=12)),
)

transforms = st.builds(
    Transform,
    transform_type=u8,
    transform_id=u16,
    attributes=st.lists(attributes, max_size=3).map(tuple),
)


@st.composite
def proposals(draw: st.DrawFn, number: int) -> Proposal:
    protocol, spi = draw(protocol_and_spi())
    return Proposal(
        number, protocol, spi, tuple(draw(st.lists(transforms, min_size=1, max_size=5)))
    )


@st.composite
def sa_payloads(draw: st.DrawFn) -> SaPayload:
    count = draw(st.integers(1, 4))
    items: tuple[Proposal, ...]
    if count == 1:  # a lone proposal (an answer) may carry any number but 0
        items = (draw(proposals(draw(st.integers(1, 255)))),)
    else:
        items = tuple(draw(proposals(n)) for n in range(1, count + 1))
    return SaPayload(items, critical=draw(critical))


@st.composite
def notify_payloads(draw: st.DrawFn) -> NotifyPayload:
    protocol, spi = draw(protocol_and_spi(allow_empty=True))
    if protocol == 0:
        spi = b""
    return NotifyPayload(draw(u16), protocol, spi, draw(small_data), critical=draw(critical))


@st.composite
def delete_payloads(draw: st.DrawFn) -> DeletePayload:
    protocol, spi = draw(protocol_and_spi())
    if protocol == ProtocolId.IKE:
        return DeletePayload(protocol, 0, (), critical=draw(critical))
    size = len(spi)
    count = draw(st.integers(0, 4)) if size else 0
    spis = tuple(draw(st.binary(min_size=size, max_size=size)) for _ in range(count))
    return DeletePayload(protocol, size, spis, critical=draw(critical))


@st.composite
def fragment_payloads(draw: st.DrawFn) -> EncryptedFragmentPayload:
    total = draw(st.integers(1, 0xFFFF))
    number = draw(st.integers(1, total))
    first = draw(u8) if number == 1 else 0
    return EncryptedFragmentPayload(number, total, first, draw(small_data), critical=draw(critical))


unknown_types = st.integers(1, 0xFF).filter(lambda t: t not in KNOWN_PAYLOAD_TYPES)

# Payloads that may appear anywhere in a chain (not SK/SKF).
plain_payloads: st.SearchStrategy[Payload] = st.one_of(
    sa_payloads(),
    st.builds(KePayload, group=u16, data=small_data, critical=critical),
    st.builds(IdPayload, id_type=u8, data=small_data, initiator=st.booleans(), critical=critical),
    st.builds(CertPayload, encoding=u8, data=small_data, critical=critical),
    st.builds(CertReqPayload, encoding=u8, data=small_data, critical=critical),
    st.builds(AuthPayload, method=u8, data=small_data, critical=critical),
    st.builds(NoncePayload, data=st.binary(min_size=16, max_size=256), critical=critical),
    notify_payloads(),
    delete_payloads(),
    st.builds(VendorIdPayload, data=small_data, critical=critical),
    st.builds(
        RawPayload,
        payload_type=st.sampled_from(sorted(RAW_PAYLOAD_TYPES)),
        data=small_data,
        critical=critical,
    ),
    st.builds(UnknownPayload, payload_type=unknown_types, data=small_data),
)

encrypted_payloads: st.SearchStrategy[Payload] = st.one_of(
    st.builds(EncryptedPayload, first_payload=u8, data=small_data, critical=critical),
    fragment_payloads(),
)

payload_chains = st.lists(plain_payloads, max_size=8).map(tuple)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    payloads = draw(payload_chains)
    if draw(st.booleans()):
        payloads = (*payloads, draw(encrypted_payloads))
    return Message(draw(headers), payloads)
