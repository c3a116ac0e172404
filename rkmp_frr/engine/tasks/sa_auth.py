"""RKMP_SA_AUTH (IKE_AUTH, RFC 7296 §1.2, §2.15): authenticate both sides
and create the first routing-protocol SA, without traffic selectors.

    HDR, SK{IDi, [CERT+,] [CERTREQ,] [IDr,] AUTH, [N(INITIAL_CONTACT),] [SAi2]}  -->
                            <--  HDR, SK{IDr, [CERT+,] AUTH, [SAr2 | N(error)]}

SAi2 is left out (RFC 6023 childless) when the peer did not announce
RKMP_SUPPORTED: a plain IKEv2 peer cannot take routing SAs there, so they
follow with CREATE_CHILD_SA.

No key before mutual authentication: the responder holds its first child
SA (and its RkmpSaEstablished) until the initiator's next authenticated
message shows that our AUTH was accepted; it asks for one at once with an
empty INFORMATIONAL. An initiator that rejects the responder's AUTH says so
with an INFORMATIONAL AUTHENTICATION_FAILED (RFC 7296 §2.21.2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rkmp_frr.crypto import auth as authn
from rkmp_frr.crypto import certs
from rkmp_frr.crypto.errors import CryptoError
from rkmp_frr.engine.events import FailureReason
from rkmp_frr.engine.policy import CertCredential, CertTrust, PskCredential, id_payload_of
from rkmp_frr.engine.routing_proposals import build_child_answer
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks.base import Task, error_notify, notify, reason_for
from rkmp_frr.engine.tasks.create_child import (
    CreateChildTask,
    accept_child_offer,
    finish_first_child,
    first_child_offer,
    make_child,
)
from rkmp_frr.engine.tasks.informational import LivenessTask
from rkmp_frr.wire import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    Identity,
    IdPayload,
    MalformedMessage,
    Message,
    NotifyPayload,
    Payload,
    SaPayload,
)
from rkmp_frr.wire.constants import AuthMethod, CertEncoding, ExchangeType, NotifyType

if TYPE_CHECKING:
    from rkmp_frr.engine.rkmp_sa import RkmpSa


# The confirmation probe's first retransmission (seconds; see ``respond``).
CONFIRM_FIRST_WAIT = 0.25


# --- AUTH payloads -------------------------------------------------------------------


def _signed_octets(sa: RkmpSa, *, ours: bool, identity: IdPayload) -> bytes:
    """InitiatorSignedOctets or ResponderSignedOctets (§2.15)."""
    assert sa.keys is not None
    initiator_side = sa.initiator == ours
    if initiator_side:
        first, nonce, sk_p = sa.init_request, sa.nr, sa.keys.sk_pi
    else:
        first, nonce, sk_p = sa.init_response, sa.ni, sa.keys.sk_pr
    return authn.signed_octets(sa.prf, sk_p, first, nonce, identity.id_type, identity.data)


def _own_auth(sa: RkmpSa, identity: IdPayload) -> AuthPayload:
    credential = sa.engine.config.local_credential_for(sa.policy)
    octets = _signed_octets(sa, ours=True, identity=identity)
    if isinstance(credential, PskCredential):
        data = authn.compute_psk_auth(sa.prf, credential.key, octets)
        return AuthPayload(AuthMethod.SHARED_KEY_MIC, data)
    key = authn.as_signing_key(credential.private_key)
    hashes = sa.peer_hashes or authn.supported_hash_algorithms()
    scheme = authn.choose_signature_scheme(key, hashes)
    return AuthPayload(AuthMethod.DIGITAL_SIGNATURE, authn.sign_auth(key, octets, scheme))


def _cert_payloads(sa: RkmpSa) -> tuple[Payload, ...]:
    credential = sa.engine.config.local_credential_for(sa.policy)
    if not isinstance(credential, CertCredential):
        return ()
    return tuple(CertPayload(CertEncoding.X509_SIGNATURE, der) for der in credential.chain)


def verify_peer(sa: RkmpSa, message: Message, identity: IdPayload, now: float) -> str | None:
    """Check the peer's identity and AUTH; None if good, else why not (for
    tests and logs only: the peer just gets AUTHENTICATION_FAILED)."""
    try:
        peer_id = Identity.from_payload(identity)
    except MalformedMessage:
        return "malformed identity"
    expected = sa.policy.remote_identity
    if expected is not None and sa.engine.identity(expected) != peer_id:
        return "unexpected identity"
    auth = message.find(AuthPayload)
    if auth is None:
        return "no AUTH payload"
    octets = _signed_octets(sa, ours=False, identity=identity)
    remote = sa.engine.config.remote_auth_for(sa.policy)
    try:
        if isinstance(remote, PskCredential):
            if auth.method != AuthMethod.SHARED_KEY_MIC:
                return "AUTH method is not a shared key MIC"
            authn.verify_psk_auth(sa.prf, remote.key, octets, auth.data)
        else:
            _verify_certificate(sa, message, remote, identity, auth, octets, now)
    except CryptoError as error:  # AuthenticationError and friends
        return str(error)
    sa.remote_identity = peer_id.to_text()
    return None


def _verify_certificate(
    sa: RkmpSa,
    message: Message,
    trust: CertTrust,
    identity: IdPayload,
    auth: AuthPayload,
    octets: bytes,
    now: float,
) -> None:
    payloads = message.find_all(CertPayload)
    if not payloads:
        raise certs.CredentialError("no certificate sent")
    leaf = certs.certificate_from_payload(payloads[0].encoding, payloads[0].data)
    others = [certs.certificate_from_payload(p.encoding, p.data) for p in payloads[1:]]
    when = datetime.fromtimestamp(now, UTC)
    chain = certs.validate_chain(leaf, others, sa.engine.trust_anchors(trust), when)
    if not certs.identity_matches_certificate(identity.id_type, identity.data, chain.end_entity):
        raise certs.CredentialError("identity is not in the certificate")
    authn.verify_signature_auth(auth.method, auth.data, octets, chain.public_key)


# --- initiator -----------------------------------------------------------------------


class SaAuthTask(Task):
    exchange = ExchangeType.IKE_AUTH
    allowed_states = frozenset({SaState.INIT_SENT})
    migratable = False

    def __init__(self) -> None:
        self.child_task: CreateChildTask | None = None
        self.identity: IdPayload | None = None

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        engine = sa.engine
        sa.set_state(SaState.AUTH_SENT)
        identity = id_payload_of(engine.config.identity_for(sa.policy), True)
        self.identity = identity
        payloads: list[Payload] = [identity, *_cert_payloads(sa)]
        certreq = engine.certreq_for(sa.policy)
        if certreq is not None:
            payloads.append(CertReqPayload(CertEncoding.X509_SIGNATURE, certreq))
        if sa.policy.remote_identity is not None:
            payloads.append(id_payload_of(sa.policy.remote_identity, False))
        try:
            payloads.append(_own_auth(sa, identity))
        except CryptoError:  # e.g. no signature hash the responder accepts
            sa.fail(FailureReason.AUTHENTICATION_FAILED, now)
            return None
        if not engine.has_other_sa(sa):
            # RFC 7296 §2.4: no other SA with this peer on our side, so any it
            # still has is stale (e.g. this sidecar restarted).
            payloads.append(notify(NotifyType.INITIAL_CONTACT))
        if sa.peer_rkmp and sa.wanted_children:
            offer = first_child_offer(sa, sa.wanted_children[0])
            if offer is not None:
                sa.wanted_children = sa.wanted_children[1:]
                self.child_task, sa_payload = offer
                payloads.append(sa_payload)
        return tuple(payloads)

    def on_abort(self, sa: RkmpSa, now: float) -> None:
        if self.child_task is not None:
            self.child_task.on_abort(sa, now)

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        self.on_abort(sa, now)
        sa.fail(FailureReason.TIMEOUT, now)

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        identity = message.find(IdPayload)
        if identity is None or identity.initiator or message.find(AuthPayload) is None:
            error = error_notify(message)
            self.on_abort(sa, now)
            sa.fail(reason_for(error.notify_type) if error else FailureReason.INVALID_SYNTAX, now)
            return True
        problem = verify_peer(sa, message, identity, now)
        if problem is not None:
            self.on_abort(sa, now)
            sa.send_oneway(ExchangeType.INFORMATIONAL, (notify(NotifyType.AUTHENTICATION_FAILED),))
            sa.fail(FailureReason.AUTHENTICATION_FAILED, now)
            return True
        sa.establish(now)
        if message.notify(NotifyType.INITIAL_CONTACT) is not None:
            sa.engine.initial_contact(sa, now)
        if self.child_task is not None:
            finish_first_child(sa, self.child_task, message, now)
        for protocol in sa.wanted_children:
            sa.queue_task(CreateChildTask(protocol, ensure=True), now)
        sa.wanted_children = ()
        return True


# --- responder -----------------------------------------------------------------------


def respond(
    sa: RkmpSa, message: Message, now: float
) -> tuple[tuple[Payload, ...], Callable[[], None] | None]:
    if sa.state is not SaState.INIT_ANSWERED:
        return (notify(NotifyType.INVALID_SYNTAX),), None
    identity = next((p for p in message.payloads if isinstance(p, IdPayload) and p.initiator), None)
    if identity is None or message.find(AuthPayload) is None:
        return (notify(NotifyType.INVALID_SYNTAX),), lambda: sa.fail(
            FailureReason.INVALID_SYNTAX, now
        )
    problem = verify_peer(sa, message, identity, now)
    if problem is not None:
        return (notify(NotifyType.AUTHENTICATION_FAILED),), lambda: sa.fail(
            FailureReason.AUTHENTICATION_FAILED, now
        )
    engine = sa.engine
    own_id = id_payload_of(engine.config.identity_for(sa.policy), False)
    try:
        own_auth = _own_auth(sa, own_id)
    except CryptoError:  # e.g. no signature hash the initiator accepts
        return (notify(NotifyType.AUTHENTICATION_FAILED),), lambda: sa.fail(
            FailureReason.AUTHENTICATION_FAILED, now
        )
    payloads: list[Payload] = [own_id, *_cert_payloads(sa), own_auth]
    sa_payload = message.find(SaPayload)
    if sa_payload is not None:
        payloads.append(_first_child(sa, sa_payload, now))
    initial_contact = message.notify(NotifyType.INITIAL_CONTACT) is not None

    def after() -> None:
        sa.set_state(SaState.UNCONFIRMED)
        sa.half_open_until = float("inf")
        engine.half_open_done(sa)
        if initial_contact:
            engine.initial_contact(sa, now)
        # Sent at once, but retried soon: the initiator may still be
        # checking our AUTH when it arrives, and strongSwan then drops it
        # ("ignoring INFORMATIONAL in IKE_SA state CONNECTING": its workers
        # process the two datagrams in either order).
        sa.queue_task(LivenessTask(report=False, first_wait=CONFIRM_FIRST_WAIT), now)

    return tuple(payloads), after


def _first_child(sa: RkmpSa, sa_payload: SaPayload, now: float) -> Payload:
    """SAr2, or the error notify that takes its place (RFC 7296 §2.21.2:
    the RKMP SA stands even if the child SA fails)."""
    accepted = accept_child_offer(sa, sa_payload, in_auth=True, ke_group=None)
    if isinstance(accepted, NotifyPayload):
        return accepted
    child = make_child(
        sa,
        accepted.policy,
        accepted.selection,
        local_key_id=accepted.local_key_id,
        remote_key_id=accepted.remote_key_id,
        ni=sa.ni,
        nr=sa.nr,
        g_ir=None,
        initiator=False,
        now=now,
    )
    child.reported = False  # announced when the SA is confirmed
    child.announce_pending = True
    sa.add_child(child)
    return SaPayload(
        (
            build_child_answer(
                accepted.policy.protocol,
                accepted.proposal.number,
                accepted.local_key_id,
                accepted.selection,
            ),
        )
    )
