"""RKMP wire codec: bytes <-> message objects (RFC 7296 §3, RFC 7383 §2.5).

Pure functions and frozen dataclasses; no I/O. Decoding raises only
``MalformedMessage`` (and its subclasses); encoding raises ``EncodeError``.
"""

from rkmp_frr.wire import constants
from rkmp_frr.wire.errors import (
    EncodeError,
    MalformedMessage,
    UnsupportedCriticalPayload,
    UnsupportedMajorVersion,
)
from rkmp_frr.wire.header import Header, decode_header
from rkmp_frr.wire.identity import Identity
from rkmp_frr.wire.message import (
    MAX_PAYLOADS,
    Message,
    add_non_esp_marker,
    decode_message,
    decode_message_with_header,
    decode_payloads,
    encode_message,
    encode_payloads,
    strip_non_esp_marker,
)
from rkmp_frr.wire.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    RawPayload,
    UnknownPayload,
    VendorIdPayload,
)
from rkmp_frr.wire.sa import Proposal, SaPayload, Transform, TransformAttribute

__all__ = [
    "MAX_PAYLOADS",
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "DeletePayload",
    "EncodeError",
    "EncryptedFragmentPayload",
    "EncryptedPayload",
    "Header",
    "IdPayload",
    "Identity",
    "KePayload",
    "MalformedMessage",
    "Message",
    "NoncePayload",
    "NotifyPayload",
    "Payload",
    "Proposal",
    "RawPayload",
    "SaPayload",
    "Transform",
    "TransformAttribute",
    "UnknownPayload",
    "UnsupportedCriticalPayload",
    "UnsupportedMajorVersion",
    "VendorIdPayload",
    "add_non_esp_marker",
    "constants",
    "decode_header",
    "decode_message",
    "decode_message_with_header",
    "decode_payloads",
    "encode_message",
    "encode_payloads",
    "strip_non_esp_marker",
]
