"""Unit tests of the engine's small parts: policy, reliability, cookies,
the state table."""

from __future__ import annotations

import dataclasses
import ipaddress
import random

import pytest

from rkmp_frr.crypto.errors import ProposalError
from rkmp_frr.crypto.proposals import (
    parse_proposal,
    parse_proposals,
    parse_suite,
    proposals_to_wire,
    select_offer,
)
from rkmp_frr.engine import Engine, negotiation
from rkmp_frr.engine.child_sa import ChildSa
from rkmp_frr.engine.cookies import CookieJar
from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.engine.policy import (
    ChildPolicy,
    Lifetime,
    LocalConfig,
    PeerPolicy,
    PskCredential,
    RetransmitPolicy,
    parsed_proposals,
)
from rkmp_frr.engine.reliability import OutstandingRequest, ResponseCache, wait_time
from rkmp_frr.engine.state import SaState, StateError, check_transition
from rkmp_frr.engine.tasks.base import Task
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import SaPayload
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId


def test_default_retransmission_budget_is_strongswans() -> None:
    policy = RetransmitPolicy()
    # strongSwan: 4 s x 1.8^n, 5 retransmissions, give up after ~165 s.
    assert [round(policy.interval(n), 3) for n in range(3)] == [4.0, 7.2, 12.96]
    assert 165 < policy.budget < 166


def test_retransmission_schedule_and_give_up() -> None:
    policy = RetransmitPolicy(timeout=1.0, base=2.0, tries=3)
    rng = random.Random(0)
    request = OutstandingRequest(0, b"x", Task(), deadline=wait_time(policy, 0, rng))
    deadlines = [request.deadline]
    while request.on_deadline(policy, rng, request.deadline):
        deadlines.append(request.deadline)
    assert deadlines == [1.0, 3.0, 7.0, 15.0]  # 1 + 2 + 4 + 8
    assert request.attempt == 3
    assert deadlines[-1] == policy.budget


def test_retransmission_limit_and_jitter() -> None:
    capped = RetransmitPolicy(timeout=4.0, base=2.0, tries=4, limit=10.0)
    assert [capped.interval(n) for n in range(4)] == [4.0, 8.0, 10.0, 10.0]
    jittered = RetransmitPolicy(jitter=0.5)
    waits = {wait_time(jittered, 0, random.Random(seed)) for seed in range(20)}
    assert all(2.0 <= w <= 4.0 for w in waits) and len(waits) > 1


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"base": 0.5}, {"tries": -1}, {"jitter": 1.0}])
def test_bad_retransmit_policy(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetransmitPolicy(**kwargs)  # type: ignore[arg-type]


def test_lifetime_checks() -> None:
    assert Lifetime(100, 10, 5).hard_time == 105
    with pytest.raises(ValueError):
        Lifetime(100, 100, 5)


def test_response_cache_needs_the_exact_request() -> None:
    cache = ResponseCache()
    assert cache.lookup(0, b"req") is None
    cache.store(3, b"req", b"resp")
    assert cache.lookup(3, b"req") == b"resp"
    assert cache.lookup(3, b"other") is None
    assert cache.lookup(2, b"req") is None


@pytest.mark.parametrize(
    "host",
    [
        "192.0.2.0",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.3.1",
        "10.1.2.3",
        "0.0.0.0",
        "255.255.255.255",
        "192.0.2.03",  # leading zero: not an address
        "192.0.2.256",
        "192.0.2",
        "192.0.2.1.",
        " 192.0.2.1",
        "192.0.2.1\x00",
        "0x7f.0.0.1",
        "::ffff:192.0.2.1",
        "2001:db8::1",
        "peer.example",
        "",
    ],
)
@pytest.mark.parametrize("prefix", ["192.0.2.0/30", "192.0.2.1", "0.0.0.0/0", "2001:db8::/32"])
def test_peer_matching_agrees_with_ipaddress(prefix: str, host: str) -> None:
    """The IPv4 fast path of ``PeerPolicy.matches`` says what ``ipaddress``
    says, for good and bad host text alike."""
    network = ipaddress.ip_network(prefix)
    try:
        expected = ipaddress.ip_address(host) in network
    except ValueError:
        expected = False
    assert PeerPolicy("p", prefix).matches(host) is expected


def test_peer_matching_by_prefix_and_exact_text() -> None:
    psk = PskCredential(b"secret-psk")
    net = PeerPolicy("lan", "192.0.2.0/30")
    host = PeerPolicy("host", "peer.example")
    config = LocalConfig("me", psk, peers=(net, host))
    assert config.peer_for("192.0.2.3") is net
    assert config.peer_for("192.0.2.4") is None
    assert config.peer_for("peer.example") is host
    assert config.remote_auth_for(net) is psk
    with pytest.raises(ValueError):
        PskCredential(b"")
    assert "secret" not in repr(psk)


def test_cookie_round_trip_and_rotation() -> None:
    jar = CookieJar(random.Random(1), lifetime=10.0)
    cookie = jar.make(b"n" * 16, "192.0.2.1", b"s" * 8, now=0.0)
    assert jar.check(cookie, b"n" * 16, "192.0.2.1", b"s" * 8, now=1.0)
    assert not jar.check(cookie, b"m" * 16, "192.0.2.1", b"s" * 8, now=1.0)
    assert not jar.check(cookie, b"n" * 16, "192.0.2.9", b"s" * 8, now=1.0)
    assert not jar.check(cookie[:-1], b"n" * 16, "192.0.2.1", b"s" * 8, now=1.0)
    # One rotation later the old secret still works; two rotations later not.
    assert jar.check(cookie, b"n" * 16, "192.0.2.1", b"s" * 8, now=11.0)
    assert not jar.check(cookie, b"n" * 16, "192.0.2.1", b"s" * 8, now=40.0)


def test_state_table() -> None:
    check_transition(SaState.INIT_SENT, SaState.AUTH_SENT)
    check_transition(SaState.UNCONFIRMED, SaState.ESTABLISHED)
    with pytest.raises(StateError):
        check_transition(SaState.INIT_ANSWERED, SaState.ESTABLISHED)
    with pytest.raises(StateError):
        check_transition(SaState.CLOSED, SaState.ESTABLISHED)


def test_configuration_errors_are_caught_when_the_policy_is_built() -> None:
    from rkmp_frr.crypto.errors import ProposalError
    from rkmp_frr.engine import CertTrust

    psk = PskCredential(b"secret-psk")
    with pytest.raises(ProposalError):
        PeerPolicy("p", "192.0.2.1", rkmp_proposals=("aes256-md5-modp768",))
    with pytest.raises(ValueError):
        PeerPolicy("p", "192.0.2.1", remote_identity="bad identity with spaces")
    with pytest.raises(ValueError):
        LocalConfig("", psk)
    from .pki import router

    # A certificate credential needs trust anchors to check the peer with.
    with pytest.raises(ValueError):
        LocalConfig("192.0.2.1", router("192.0.2.1"), peers=(PeerPolicy("p", "192.0.2.2"),))
    LocalConfig(
        "192.0.2.1",
        router("192.0.2.1"),
        peers=(PeerPolicy("p", "192.0.2.2", remote_auth=CertTrust((b"der",))),),
    )


def test_negotiation_memo_answers_only_for_the_same_objects() -> None:
    ours = parsed_proposals(("aes256gcm16-prfsha256-x25519", "aes128-sha256-ecp256"))
    offer = SaPayload(proposals_to_wire(parse_proposals("aes128-sha256-ecp256")))
    choice = negotiation.choose(ours, offer.proposals, KeId.ECP_256)
    assert choice is not None
    expected = select_offer(ours, offer.proposals, prefer_ke=KeId.ECP_256)
    assert choice.chosen == expected and choice.suite == parse_suite("aes128-sha256-ecp256")
    assert choice.answer.proposals == (expected.to_wire(),)
    # Same objects: the memoised value; an equal but distinct offer is
    # computed again (and gives an equal answer).
    assert negotiation.choose(ours, offer.proposals, KeId.ECP_256) is choice
    copy = tuple(dataclasses.replace(p) for p in offer.proposals)
    again = negotiation.choose(ours, copy, KeId.ECP_256)
    assert again is not choice and again == choice
    unacceptable = proposals_to_wire(parse_proposals("aes256-sha512-modp2048"))
    assert negotiation.choose(ours, unacceptable, KeId.MODP_2048) is None
    assert negotiation.choose(ours, unacceptable, KeId.MODP_2048) is None  # memoised "none"


def test_negotiation_memo_checks_answers_and_does_not_keep_errors() -> None:
    ours = parsed_proposals(("aes256gcm16-prfsha256-x25519",))
    answer = ours[0].to_wire(1)
    suite = negotiation.check_answer(ours, answer)
    assert suite == parse_suite("aes256gcm16-prfsha256-x25519")
    assert negotiation.check_answer(ours, answer) is suite
    wrong = parse_proposal("aes128gcm16-prfsha256-x25519").to_wire(1)
    for _ in range(2):
        with pytest.raises(ProposalError):
            negotiation.check_answer(ours, wrong)


def test_identity_memo_is_bounded() -> None:
    memo: negotiation.IdentityMemo[int] = negotiation.IdentityMemo()
    keys = [(object(), object()) for _ in range(negotiation.MEMO_ENTRIES + 10)]
    for index, (first, second) in enumerate(keys):
        memo.put(first, second, 0, index)
        assert memo.get(first, second, 0) == index
        assert memo.get(second, first, 0) is None and memo.get(first, second, 1) is None
    assert len(memo._entries) <= negotiation.MEMO_ENTRIES


class _Clock:
    """A timer target whose deadline the test moves."""

    def __init__(self, when: float) -> None:
        self.deadline: float | None = None
        self.when: float | None = when
        self.fired: list[float] = []

    def next_deadline(self) -> float | None:
        return self.when

    def on_timer(self, now: float) -> None:
        self.fired.append(now)
        self.when = None


def test_timer_heap_drops_stale_entries_and_keeps_the_live_ones() -> None:
    config = LocalConfig(identity="r1.example.net", credential=PskCredential(b"k" * 16))
    engine = Engine(config)
    targets = [_Clock(1000.0 + n) for n in range(50)]
    for step in range(100):  # every deadline moves 100 times: 5000 pushes
        for n, target in enumerate(targets):
            target.when = 1000.0 + n + step
            engine.touch(target)
        engine._flush_timers()
        assert len(engine._timers) <= max(2 * len(targets), 256) + len(targets)
    assert engine.get_timer() == 1099.0
    engine.handle_timer(1099.5)
    assert targets[0].fired == [1099.5] and not any(t.fired for t in targets[1:])
    assert engine.get_timer() == 1100.0
    engine.handle_timer(2000.0)
    assert all(t.fired == ([1099.5] if i == 0 else [2000.0]) for i, t in enumerate(targets))
    assert engine.get_timer() is None


def test_encode_init_gives_the_generic_encoders_octets() -> None:
    """RKMP_SA_INIT written from pre-encoded parts is byte for byte what
    encode_message writes, and falls back to it for shapes it does not
    write itself (critical payloads, a tail with SK)."""
    from rkmp_frr.crypto.proposals import parse_proposal, proposals_to_wire
    from rkmp_frr.engine.encoding import PreEncodedSa, encode_init
    from rkmp_frr.wire import (
        EncodeError,
        EncryptedPayload,
        Header,
        KePayload,
        Message,
        NoncePayload,
        NotifyPayload,
        encode_message,
    )
    from rkmp_frr.wire.constants import ExchangeType, HeaderFlag, NotifyType

    sa = PreEncodedSa(proposals_to_wire((parse_proposal("aes256gcm16-prfsha256-x25519"),)))
    plain = SaPayload(sa.proposals)
    header = Header(b"\x01" * 8, b"\x02" * 8, ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
    ke = KePayload(KeId.CURVE25519, bytes(range(32)))
    nonce = NoncePayload(b"n" * 32)
    status = (
        NotifyPayload(NotifyType.CHILDLESS_IKEV2_SUPPORTED),
        NotifyPayload(NotifyType.SIGNATURE_HASH_ALGORITHMS, data=b"\x00\x02"),
    )
    tails = [(), status, status, (NotifyPayload(NotifyType.COOKIE, data=b"c" * 16),)]
    for tail in tails:
        for first in (sa, plain):
            expected = encode_message(Message(header, (first, ke, nonce, *tail)))
            assert encode_init(header, first, ke, nonce, tail) == expected
    critical = NoncePayload(b"n" * 32, critical=True)
    expected = encode_message(Message(header, (sa, ke, critical, *status)))
    assert encode_init(header, sa, ke, critical, status) == expected
    sk_tail = (EncryptedPayload(0, b"x" * 24),)
    expected = encode_message(Message(header, (sa, ke, nonce, *sk_tail)))
    assert encode_init(header, sa, ke, nonce, sk_tail) == expected
    with pytest.raises(EncodeError):
        encode_init(header, sa, ke, NoncePayload(b"short"), status)
    with pytest.raises(EncodeError):
        encode_init(header, sa, KePayload(70000, b""), nonce, status)


def _child(peer: Address, key_id: int, expires: float) -> ChildSa:
    """A real ChildSa (the compiled core checks argument types)."""
    ref = ChildRef(peer, ProtocolId.TCP_AO, key_id, key_id)
    params = ChildParams(ref, IntegId.HMAC_SHA2_256_128, (), None, expires, expires, True, b"k")
    policy = ChildPolicy(ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA2_256_128,))
    return ChildSa(params, policy, (b"n", b"n"))


@dataclasses.dataclass
class _Sink:
    touched: int = 0
    emitted: list[object] = dataclasses.field(default_factory=list)

    def touch(self, _target: object) -> None:
        self.touched += 1

    def emit(self, event: object) -> None:
        self.emitted.append(event)


def test_orphans_expire_in_order_and_children_taken_early_do_not_count() -> None:
    from rkmp_frr.engine.engine import _Orphans
    from rkmp_frr.engine.events import ChildSaDeleted, DeleteReason

    sink = _Sink()
    orphans = _Orphans(sink.touch, sink.emit)
    peers = [(f"192.0.2.{n}", 500) for n in range(4)]
    children = [_child(peer, n, 100.0 + 10 * n) for n, peer in enumerate(peers)]
    for peer, kid in zip(reversed(peers), reversed(children), strict=True):
        orphans.add(peer, [kid])
    assert orphans.next_deadline() == 100.0
    assert orphans.take(peers[0], ProtocolId.TCP_AO) == children[0].ref
    assert orphans.next_deadline() == 110.0  # c0's entry is stale now
    orphans.on_timer(121.0)
    deleted = [e.child for e in sink.emitted if isinstance(e, ChildSaDeleted)]
    assert deleted == [children[1].ref, children[2].ref]
    assert all(e.reason is DeleteReason.EXPIRED for e in sink.emitted)  # type: ignore[attr-defined]
    assert orphans.by_peer == {peers[3]: [children[3]]}
    assert orphans.next_deadline() == 130.0


PEER_SELECTORS = [
    "10.0.0.1",
    "10.0.0.0/30",
    "10.0.0.0/24",
    "10.0.1.7",
    "10.0.0.0/8",
    "192.0.2.9",
    "2001:db8::1",
    "2001:db8::/64",
    "10.0.0.2",
    "10.0.0.3/32",
    "2001:db8::2/128",
    "not-an-address",
]
PEER_HOSTS = [
    *("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.77", "10.0.1.7", "10.9.9.9"),
    *("192.0.2.9", "192.0.2.10", "2001:db8::1", "2001:db8::2", "2001:db9::1"),
    *("::ffff:10.0.0.1", "not-an-address", "bogus"),
]


def test_peer_for_answers_like_a_scan_in_order() -> None:
    """LocalConfig's index of single addresses gives the first matching
    policy in configuration order, whatever that order."""
    rng = random.Random(3)
    for _ in range(60):
        order = rng.sample(PEER_SELECTORS, rng.randrange(1, len(PEER_SELECTORS)))
        peers = tuple(PeerPolicy(f"p{i}", sel) for i, sel in enumerate(order))
        config = LocalConfig("r1.example", PskCredential(b"k"), peers=peers)
        for host in PEER_HOSTS:
            scanned = next((peer for peer in peers if peer.matches(host)), None)
            assert config.peer_for(host) is scanned, (order, host)
