"""Whatever a peer sends, the engine never raises: random payloads in
RKMP_SA_INIT requests, and random (but authenticated) payloads in every
exchange of an established SA."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rkmp_frr.engine import ChildSaCreated, ChildSaRekeyed
from rkmp_frr.wire import (
    AuthPayload,
    DeletePayload,
    Header,
    IdPayload,
    KePayload,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    Transform,
    encode_message,
)
from rkmp_frr.wire.constants import (
    ROUTING_SPI_SIZE,
    ExchangeType,
    HeaderFlag,
    KeId,
    NotifyType,
    ProtocolId,
)

from .harness import ADDR_A, ADDR_B, pair
from .test_errors import _deliver, _request, _sa
from .test_exchanges import established

PROTOCOLS = [ProtocolId.IKE, *ROUTING_SPI_SIZE]
transforms = st.builds(
    Transform, st.sampled_from([1, 2, 3, 4, 5, 241, 7]), st.integers(0, 1100), st.just(())
)


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    protocol = draw(st.sampled_from(PROTOCOLS))
    size = 8 if protocol == ProtocolId.IKE else ROUTING_SPI_SIZE[protocol]
    spi = draw(st.sampled_from([b"", bytes(size), b"\x05" * size]))
    if protocol != ProtocolId.IKE:
        spi = spi or bytes(size)
    return Proposal(1, protocol, spi, tuple(draw(st.lists(transforms, min_size=1, max_size=6))))


@st.composite
def deletes(draw: st.DrawFn) -> DeletePayload:
    protocol = draw(st.sampled_from(PROTOCOLS))
    if protocol == ProtocolId.IKE:
        return DeletePayload(protocol, 0, ())
    size = ROUTING_SPI_SIZE[protocol]
    spis = draw(st.lists(st.integers(0, 255).map(lambda v: v.to_bytes(size, "big")), max_size=3))
    return DeletePayload(protocol, size, tuple(spis))


notify_types = st.sampled_from([int(t) for t in NotifyType] + [3, 9999, 40961])
payloads = st.one_of(
    st.builds(lambda p: SaPayload((p,)), proposals()),
    st.builds(
        KePayload,
        st.sampled_from([KeId.CURVE25519, KeId.ECP_256, 1, 0]),
        st.binary(min_size=1, max_size=70),
    ),
    st.builds(NoncePayload, st.binary(min_size=16, max_size=40)),
    st.builds(
        NotifyPayload,
        notify_types,
        st.sampled_from([0, ProtocolId.TCP_AO, ProtocolId.OSPFV3]),
        st.just(b""),
        st.binary(max_size=4),
    ),
    st.builds(
        lambda t, spi: NotifyPayload(t, ProtocolId.BFD, spi),
        notify_types,
        st.binary(min_size=1, max_size=1),
    ),
    deletes(),
    st.builds(
        IdPayload, st.sampled_from([1, 2, 11, 99]), st.binary(min_size=1, max_size=8), st.booleans()
    ),
    st.builds(AuthPayload, st.sampled_from([2, 14, 1]), st.binary(min_size=1, max_size=40)),
)
chains = st.lists(payloads, max_size=5).map(tuple)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(chains)
def test_random_rkmp_sa_init_requests(chain: tuple[Payload, ...]) -> None:
    net, a, b = pair()
    header = Header(b"\x42" * 8, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
    _deliver(net, a, b, encode_message(Message(header, chain)))
    b.engine.handle_timer(net.now + 100)


@FAST
@given(
    st.sampled_from(
        [ExchangeType.IKE_AUTH, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL, 40]
    ),
    chains,
    st.booleans(),
)
def test_random_authenticated_requests(
    exchange: int, chain: tuple[Payload, ...], to_b: bool
) -> None:
    net, a, b = established(seed=3)
    src, dst = (a, b) if to_b else (b, a)
    _deliver(net, src, dst, _request(_sa(src), exchange, chain))
    _sa(src).next_request_id += 1  # we sent one request outside the SA's own bookkeeping
    net.run(1.0)
    # Whatever happened, both sides still agree enough to add a child SA
    # (unless the random request deleted the RKMP SA, which is allowed).
    if a.engine.rkmp_sas(ADDR_B) and b.engine.rkmp_sas(ADDR_A):
        before = len(a.of_type(ChildSaCreated)) + len(a.of_type(ChildSaRekeyed))
        a.engine.generate_sa(ADDR_B, ProtocolId.TCP_AO, net.now)
        net.settle()
        assert len(a.of_type(ChildSaCreated)) + len(a.of_type(ChildSaRekeyed)) == before + 1
