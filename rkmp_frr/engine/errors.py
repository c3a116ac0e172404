"""Errors the engine raises to its caller (API misuse), never to a peer."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of the engine's API errors."""


class UnknownPeer(EngineError):
    """No peer policy matches the address."""


class UnknownChildSa(EngineError):
    """No child SA with that protocol and key ID exists for the peer."""


class NotEstablished(EngineError):
    """The operation needs an established RKMP SA with the peer."""


class PolicyError(EngineError):
    """The policy is inconsistent (e.g. a protocol without a child policy)."""
