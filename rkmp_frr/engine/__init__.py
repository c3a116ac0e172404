"""The RKMP protocol engine: sans-I/O state machines (DESIGN.md §3).

``Engine`` turns datagrams, timer ticks and API calls into datagrams, one
next deadline and events; see ``engine.py``.
"""

from rkmp_frr.engine.engine import Engine, KeyIdsInUse
from rkmp_frr.engine.errors import (
    EngineError,
    NotEstablished,
    PolicyError,
    UnknownChildSa,
    UnknownPeer,
)
from rkmp_frr.engine.events import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    DeleteReason,
    Event,
    FailureReason,
    PeerAlive,
    PeerRestarted,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.policy import (
    CertCredential,
    CertTrust,
    ChildPolicy,
    DosPolicy,
    Lifetime,
    LocalConfig,
    OnFailure,
    PeerPolicy,
    PskCredential,
    RetransmitPolicy,
)
from rkmp_frr.engine.types import Address

__all__ = [
    "Address",
    "CertCredential",
    "CertTrust",
    "ChildParams",
    "ChildPolicy",
    "ChildRef",
    "ChildSaCreated",
    "ChildSaDeleted",
    "ChildSaFailed",
    "ChildSaRekeyed",
    "DeleteReason",
    "DosPolicy",
    "Engine",
    "EngineError",
    "Event",
    "FailureReason",
    "KeyIdsInUse",
    "Lifetime",
    "LocalConfig",
    "NotEstablished",
    "OnFailure",
    "PeerAlive",
    "PeerPolicy",
    "PeerRestarted",
    "PolicyError",
    "PskCredential",
    "RetransmitPolicy",
    "RkmpSaDeleted",
    "RkmpSaEstablished",
    "RkmpSaFailed",
    "RkmpSaRef",
    "RkmpSaRekeyed",
    "UnknownChildSa",
    "UnknownPeer",
]
