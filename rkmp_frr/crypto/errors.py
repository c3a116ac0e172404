"""Typed crypto errors. Messages never carry key material."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class: an operation could not be performed as asked."""


class InvalidPublicValue(CryptoError):
    """A peer's KE data is malformed or not a valid group element
    (RFC 7296 §5, RFC 6989)."""


class IntegrityError(CryptoError):
    """An SK payload failed its integrity check or could not be decrypted."""


class AuthenticationError(CryptoError):
    """An AUTH payload or a certificate chain did not verify."""


class ProposalError(CryptoError):
    """A proposal string or SA proposal names something unknown or
    inconsistent."""
