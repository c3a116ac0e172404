"""Identities carried in ID payloads (RFC 7296 §3.5), with a text form for
configuration and logs.

Text forms (``Identity.from_text`` / ``to_text`` round-trip):
- ``192.0.2.1`` -> ID_IPV4_ADDR, ``2001:db8::1`` -> ID_IPV6_ADDR
- ``user@example.net`` -> ID_RFC822_ADDR (any text with an ``@``)
- ``r1.example.net`` -> ID_FQDN (anything else)
- ``keyid:0a0b`` -> ID_KEY_ID (hex octets)
- ``dn:3011...`` -> ID_DER_ASN1_DN (hex of the DER encoding; build one from
  bytes with ``Identity.from_der_dn``)
- ``fqdn:...`` and ``rfc822:...`` force those types; ``to_text`` uses them
  when the plain form would read back as another type (e.g. an FQDN
  ``1.2.3.4``).
FQDN and RFC822 data are printable ASCII without spaces (RFC 7296 §3.5 says
FQDN/RFC822 are ASCII strings; a space-free form keeps the text form
unambiguous).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rkmp_frr.wire._make import maker2
from rkmp_frr.wire.constants import IdType
from rkmp_frr.wire.errors import MalformedMessage
from rkmp_frr.wire.payloads import MAX_BODY_LENGTH, IdPayload

# ID payload data after the 4 octets of ID Type and RESERVED.
MAX_ID_LENGTH = MAX_BODY_LENGTH - 4

# Printable ASCII without space: what FQDN/RFC822 identities may contain.
_VISIBLE_BYTES = bytes(range(0x21, 0x7F))
_DER_SEQUENCE = 0x30
_DER_LONG_FORM = 0x80

_PREFIX_KEY_ID = "keyid:"
_PREFIX_DN = "dn:"
_PREFIX_FQDN = "fqdn:"
_PREFIX_RFC822 = "rfc822:"
_PREFIXES = (_PREFIX_KEY_ID, _PREFIX_DN, _PREFIX_FQDN, _PREFIX_RFC822)
# An IPv4 address is ASCII digits and dots; an IPv6 address has a colon.
# Anything else need not be tried as an address (a failed parse is slow).
_IPV4_CHARACTERS = "0123456789."

_SUPPORTED = frozenset(
    {
        IdType.ID_IPV4_ADDR,
        IdType.ID_IPV6_ADDR,
        IdType.ID_FQDN,
        IdType.ID_RFC822_ADDR,
        IdType.ID_KEY_ID,
        IdType.ID_DER_ASN1_DN,
    }
)


@dataclass(frozen=True, slots=True)
class Identity:
    """A validated (ID type, identification data) pair.

    Constructing one with data that does not suit the type raises
    ValueError; decoding one from the wire raises MalformedMessage.
    """

    id_type: IdType
    data: bytes

    def __post_init__(self) -> None:
        problem = _problem(self.id_type, self.data)
        if problem:
            raise ValueError(problem)

    # --- wire ---------------------------------------------------------------

    @classmethod
    def from_payload(cls, payload: IdPayload) -> Identity:
        """Interpret an IDi/IDr payload; MalformedMessage if it is not a
        supported, well-formed identity."""
        problem = _problem(payload.id_type, payload.data)
        if problem:
            raise MalformedMessage(problem, 0)
        if cls is not Identity:
            return cls(IdType(payload.id_type), payload.data)
        return _make_identity(_ID_TYPES[payload.id_type], payload.data)  # checked just now

    def to_payload(self, initiator: bool) -> IdPayload:
        """IDi if ``initiator`` else IDr."""
        return IdPayload(int(self.id_type), self.data, initiator)

    # --- text ---------------------------------------------------------------

    @classmethod
    def from_text(cls, text: str) -> Identity:
        """Parse the text form (module docstring); ValueError if invalid."""
        if text.startswith(_PREFIXES):
            return cls._from_prefixed_text(text)
        address = _ip_address(text)
        if address is not None:
            if "%" in text:
                raise ValueError(f"an IPv6 zone has no meaning in an identity: {text!r}")
            if address.version == 4:
                return cls(IdType.ID_IPV4_ADDR, address.packed)
            return cls(IdType.ID_IPV6_ADDR, address.packed)
        if "@" in text:
            return cls(IdType.ID_RFC822_ADDR, _to_ascii(text))
        return cls(IdType.ID_FQDN, _to_ascii(text))

    @classmethod
    def _from_prefixed_text(cls, text: str) -> Identity:
        if text.startswith(_PREFIX_KEY_ID):
            return cls(IdType.ID_KEY_ID, _from_hex(text[len(_PREFIX_KEY_ID) :]))
        if text.startswith(_PREFIX_DN):
            return cls(IdType.ID_DER_ASN1_DN, _from_hex(text[len(_PREFIX_DN) :]))
        if text.startswith(_PREFIX_FQDN):
            return cls(IdType.ID_FQDN, _to_ascii(text[len(_PREFIX_FQDN) :]))
        return cls(IdType.ID_RFC822_ADDR, _to_ascii(text[len(_PREFIX_RFC822) :]))

    @classmethod
    def from_der_dn(cls, der: bytes) -> Identity:
        """An ID_DER_ASN1_DN identity from the DER encoding of a Name."""
        return cls(IdType.ID_DER_ASN1_DN, bytes(der))

    def to_text(self) -> str:
        """The text form; ``Identity.from_text(i.to_text()) == i``."""
        if self.id_type == IdType.ID_IPV4_ADDR:
            return str(ipaddress.IPv4Address(self.data))
        if self.id_type == IdType.ID_IPV6_ADDR:
            return str(ipaddress.IPv6Address(self.data))
        if self.id_type == IdType.ID_KEY_ID:
            return _PREFIX_KEY_ID + self.data.hex()
        if self.id_type == IdType.ID_DER_ASN1_DN:
            return _PREFIX_DN + self.data.hex()
        plain = self.data.decode("ascii")  # validated visible ASCII
        if _plain_reads_back(plain, self):
            return plain
        prefix = _PREFIX_FQDN if self.id_type == IdType.ID_FQDN else _PREFIX_RFC822
        return prefix + plain

    def __str__(self) -> str:
        return self.to_text()


_make_identity = maker2(Identity, "id_type", "data")
_ID_TYPES = {int(id_type): id_type for id_type in IdType}


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``ipaddress.ip_address(text)``, or None where that raises ValueError."""
    if ":" not in text and text.strip(_IPV4_CHARACTERS):
        return None  # neither form: skip the (exception-raising) parse
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _plain_reads_back(plain: str, identity: Identity) -> bool:
    """Whether ``from_text(plain) == identity`` for the visible-ASCII data
    of an FQDN or RFC822 identity (``to_text``'s question)."""
    if plain.startswith(_PREFIXES) or _ip_address(plain) is not None:
        return False  # reads back as another type (or fails)
    kind = IdType.ID_RFC822_ADDR if "@" in plain else IdType.ID_FQDN
    return kind == identity.id_type


def _from_hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"not hexadecimal octets: {text!r}") from None


def _to_ascii(text: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"identity is not ASCII: {text!r}") from None


def _problem(id_type: int, data: bytes) -> str | None:
    """Why ``data`` is not a valid identity of ``id_type``, or None."""
    if not isinstance(data, bytes):
        return f"identity data must be bytes, got {type(data).__name__}"
    if id_type not in _SUPPORTED:
        return f"unsupported ID type {id_type}"
    if not 1 <= len(data) <= MAX_ID_LENGTH:
        return f"ID data of {len(data)} octets"
    if id_type == IdType.ID_IPV4_ADDR:
        return None if len(data) == 4 else f"IPv4 ID of {len(data)} octets"
    if id_type == IdType.ID_IPV6_ADDR:
        return None if len(data) == 16 else f"IPv6 ID of {len(data)} octets"
    if id_type in (IdType.ID_FQDN, IdType.ID_RFC822_ADDR):
        # RFC 7296 §3.5: ASCII strings, no terminator (bytes.translate deletes
        # every visible character: anything left is not allowed).
        if data.translate(None, _VISIBLE_BYTES):
            return "FQDN/RFC822 ID is not printable ASCII without spaces"
        return None
    if id_type == IdType.ID_DER_ASN1_DN:
        return None if _is_der_sequence(data) else "DER DN ID is not one DER SEQUENCE"
    return None  # ID_KEY_ID: opaque octets


def _is_der_sequence(data: bytes) -> bool:
    """A light DER check: one SEQUENCE with a minimal definite length that
    spans the data exactly (the DN's content is not parsed)."""
    if len(data) < 2 or data[0] != _DER_SEQUENCE:
        return False
    first = data[1]
    if first < _DER_LONG_FORM:
        return 2 + first == len(data)
    count = first & 0x7F
    if not 1 <= count <= 3 or len(data) < 2 + count or data[2] == 0:
        return False  # 0x80 is indefinite length (not DER); leading zeros are not minimal
    length = int.from_bytes(data[2 : 2 + count], "big")
    if length < _DER_LONG_FORM:
        return False  # the short form was required
    return 2 + count + length == len(data)
