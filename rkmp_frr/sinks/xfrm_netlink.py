"""XFRM netlink (the kernel's IPsec SA and policy tables) on pyroute2.

pyroute2 has no XFRM API, so this module describes the messages of
``linux/xfrm.h`` with pyroute2's message classes (``nlmsg`` for message
bodies, ``nla`` for attributes) and talks to the kernel through pyroute2's
``AsyncNetlinkSocket`` on NETLINK_XFRM. It is the only module that knows
those layouts; the kernel sink works with the records below.

====================  ====================================  ====================
message               body                                  used for
====================  ====================================  ====================
XFRM_MSG_NEWSA        xfrm_usersa_info + XFRMA_ALG_*        add an SA
XFRM_MSG_DELSA        xfrm_usersa_id                        delete an SA
XFRM_MSG_GETSA        xfrm_usersa_id; empty with NLM_F_DUMP read one SA; dump
XFRM_MSG_NEWPOLICY    xfrm_userpolicy_info + XFRMA_TMPL     add a policy
XFRM_MSG_UPDPOLICY    (the same)                            replace a policy
XFRM_MSG_DELPOLICY    xfrm_userpolicy_id                    delete a policy
XFRM_MSG_GETPOLICY    xfrm_userpolicy_id; empty (dump)      read one; dump
====================  ====================================  ====================

Layouts are the LP64 ones (x86-64, arm64: a u64 is aligned to 8), with the
padding spelt out: sizeof(xfrm_selector) = 56, xfrm_usersa_info = 224,
xfrm_usersa_id = 24, xfrm_userpolicy_info = 168, xfrm_userpolicy_id = 64,
xfrm_user_tmpl = 64; xfrm_algo is 68 octets and xfrm_algo_auth 72 before
their keys. Numbers that cross the wire in network order (SPIs, ports) are
big-endian; everything else is in host order.

Errors from the kernel arrive as typed exceptions (:class:`XfrmError` and its
subclasses by errno). SA records carry their keys (the sink compares what
it reads back with what it wrote) but no repr or error message shows them.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

from pyroute2.netlink import (
    NETLINK_XFRM,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    nla,
    nlmsg,
    nlmsg_base,
    nlmsg_decoder_generic,
    nlmsg_encoder_generic,
    nlmsgerr,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nlsocket import AsyncNetlinkSocket, Marshal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

XFRM_INF = 0xFFFF_FFFF_FFFF_FFFF  # "no limit" in xfrm_lifetime_cfg
ALL_ALGORITHMS = 0xFFFF_FFFF  # xfrm_user_tmpl aalgos/ealgos/calgos: any


class XfrmMsg(IntEnum):
    """``XFRM_MSG_*`` (linux/xfrm.h)."""

    NEWSA = 0x10
    DELSA = 0x11
    GETSA = 0x12
    NEWPOLICY = 0x13
    DELPOLICY = 0x14
    GETPOLICY = 0x15
    UPDPOLICY = 0x19
    UPDSA = 0x1A


class XfrmAttr(IntEnum):
    """The ``XFRMA_*`` attributes this module writes or reads."""

    ALG_AUTH = 1  # struct xfrm_algo (the kernel reports both forms of the MAC)
    ALG_CRYPT = 2  # struct xfrm_algo
    TMPL = 5  # one or more struct xfrm_user_tmpl
    SRCADDR = 13  # xfrm_address_t
    LASTUSED = 15  # u64
    POLICY_TYPE = 16  # struct xfrm_userpolicy_type
    ALG_AUTH_TRUNC = 20  # struct xfrm_algo_auth
    SA_EXTRA_FLAGS = 24  # u32


class XfrmProto(IntEnum):
    """The IPsec protocol of an SA (``xfrm_id.proto``: IP protocol numbers)."""

    ESP = socket.IPPROTO_ESP  # 50
    AH = socket.IPPROTO_AH  # 51


class XfrmMode(IntEnum):
    TRANSPORT = 0
    TUNNEL = 1


class PolicyDir(IntEnum):
    IN = 0
    OUT = 1
    FWD = 2


class PolicyAction(IntEnum):
    ALLOW = 0
    BLOCK = 1


# --- records -------------------------------------------------------------------------


def _unspecified(family: int) -> IPAddress:
    return ipaddress.IPv6Address(0) if family == socket.AF_INET6 else ipaddress.IPv4Address(0)


@dataclass(frozen=True, slots=True)
class Selector:
    """``struct xfrm_selector``: which packets a policy or an SA covers."""

    family: int
    daddr: IPAddress
    saddr: IPAddress
    prefixlen_d: int = 0
    prefixlen_s: int = 0
    proto: int = 0  # an IP protocol number; 0: any
    dport: int = 0
    dport_mask: int = 0
    sport: int = 0
    sport_mask: int = 0
    ifindex: int = 0  # 0: any interface
    user: int = 0

    @classmethod
    def any(cls, family: int, proto: int = 0, ifindex: int = 0) -> Selector:
        zero = _unspecified(family)
        return cls(family, zero, zero, proto=proto, ifindex=ifindex)

    def describe(self) -> str:
        text = f"{self.saddr}/{self.prefixlen_s} -> {self.daddr}/{self.prefixlen_d}"
        if self.proto:
            text += f" proto {self.proto}"
        if self.ifindex:
            text += f" ifindex {self.ifindex}"
        return text


@dataclass(frozen=True, slots=True)
class AuthAlgorithm:
    """``struct xfrm_algo_auth``: a MAC by its kernel crypto name, its key,
    and the ICV length in bits (truncation)."""

    name: str  # e.g. "hmac(sha256)"
    key: bytes = field(repr=False)
    trunc_bits: int


@dataclass(frozen=True, slots=True)
class CryptAlgorithm:
    """``struct xfrm_algo``: a cipher by its kernel crypto name and key."""

    name: str  # e.g. "ecb(cipher_null)"
    key: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class XfrmSaId:
    """How the kernel finds an ESP/AH SA: destination, SPI and protocol."""

    daddr: IPAddress
    spi: int
    proto: XfrmProto

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.daddr.version == 6 else socket.AF_INET

    def __str__(self) -> str:
        return f"{self.proto.name.lower()} spi 0x{self.spi:08x} dst {self.daddr}"


@dataclass(frozen=True, slots=True)
class XfrmState:
    """One SA (``struct xfrm_usersa_info`` and its algorithm attributes).

    Equality covers what the SA does (addresses, SPI, mode, selector,
    algorithms and keys); the traffic counters the kernel reports are left
    out of it."""

    daddr: IPAddress
    spi: int
    proto: XfrmProto
    saddr: IPAddress
    mode: XfrmMode
    selector: Selector
    auth: AuthAlgorithm | None
    crypt: CryptAlgorithm | None = None
    reqid: int = 0
    replay_window: int = 0
    flags: int = 0
    octets: int = field(default=0, compare=False)
    packets: int = field(default=0, compare=False)

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.daddr.version == 6 else socket.AF_INET

    @property
    def sa_id(self) -> XfrmSaId:
        return XfrmSaId(self.daddr, self.spi, self.proto)

    def __str__(self) -> str:
        return str(self.sa_id)


@dataclass(frozen=True, slots=True)
class XfrmTemplate:
    """``struct xfrm_user_tmpl``: the SA a policy wants (0 / the unspecified
    address: any)."""

    proto: XfrmProto
    mode: XfrmMode
    family: int
    reqid: int = 0
    spi: int = 0
    daddr: IPAddress | None = None
    saddr: IPAddress | None = None
    share: int = 0
    optional: bool = False
    aalgos: int = ALL_ALGORITHMS
    ealgos: int = ALL_ALGORITHMS
    calgos: int = ALL_ALGORITHMS

    @property
    def template_daddr(self) -> IPAddress:
        return self.daddr if self.daddr is not None else _unspecified(self.family)

    @property
    def template_saddr(self) -> IPAddress:
        return self.saddr if self.saddr is not None else _unspecified(self.family)


@dataclass(frozen=True, slots=True)
class XfrmPolicyId:
    """How the kernel names a policy: its selector and direction (main type)."""

    selector: Selector
    direction: PolicyDir

    def __str__(self) -> str:
        return f"policy {self.direction.name.lower()} {self.selector.describe()}"


@dataclass(frozen=True, slots=True)
class XfrmPolicy:
    """One policy (``struct xfrm_userpolicy_info`` and XFRMA_TMPL). The
    kernel-assigned index is left out of equality."""

    selector: Selector
    direction: PolicyDir
    templates: tuple[XfrmTemplate, ...]
    priority: int = 0
    action: PolicyAction = PolicyAction.ALLOW
    flags: int = 0
    share: int = 0
    index: int = field(default=0, compare=False)

    @property
    def policy_id(self) -> XfrmPolicyId:
        return XfrmPolicyId(self.selector, self.direction)

    def __str__(self) -> str:
        return str(self.policy_id)


# --- errors --------------------------------------------------------------------------


class XfrmError(Exception):
    """The kernel refused an XFRM request (or answered something unusable).

    ``code`` is the errno (0 when the problem is not the kernel's error);
    messages name SAs and policies by their identity, never by key."""

    def __init__(self, operation: str, code: int = 0, detail: str = "") -> None:
        self.operation = operation
        self.code = code
        self.detail = detail
        reason = detail or (errno.errorcode.get(code, str(code)) if code else "failed")
        if code and not detail:
            reason = f"{reason} ({_strerror(code)})"
        super().__init__(f"{operation}: {reason}")


class XfrmExists(XfrmError):
    """EEXIST: an SA or policy with that identity is already there."""


class XfrmNotFound(XfrmError):
    """ENOENT/ESRCH: no such SA or policy."""


class XfrmPermissionError(XfrmError):
    """EPERM/EACCES: the XFRM tables need CAP_NET_ADMIN."""


class XfrmUnsupported(XfrmError):
    """The kernel lacks what was asked for: the protocol (no esp4/esp6 or
    ah4/ah6 module), the algorithm, or XFRM itself."""


class XfrmInvalid(XfrmError):
    """EINVAL: the kernel rejected the message's contents."""


class XfrmVerifyError(XfrmError):
    """Reading back after a change did not show what was written."""


_BY_ERRNO: dict[int, type[XfrmError]] = {
    errno.EEXIST: XfrmExists,
    errno.ENOENT: XfrmNotFound,
    errno.ESRCH: XfrmNotFound,
    errno.EPERM: XfrmPermissionError,
    errno.EACCES: XfrmPermissionError,
    errno.EPROTONOSUPPORT: XfrmUnsupported,
    errno.ENOSYS: XfrmUnsupported,
    errno.EAFNOSUPPORT: XfrmUnsupported,
    errno.ENOPROTOOPT: XfrmUnsupported,
    errno.EOPNOTSUPP: XfrmUnsupported,
    errno.EINVAL: XfrmInvalid,
}


def _strerror(code: int) -> str:
    import os

    return os.strerror(code)


def error_from_errno(operation: str, code: int, detail: str = "") -> XfrmError:
    """The typed error for a netlink errno (positive or negative)."""
    code = abs(code)
    return _BY_ERRNO.get(code, XfrmError)(operation, code, detail)


# --- pyroute2 message classes --------------------------------------------------------
#
# Field names are the kernel's, prefixed with the member they sit in where
# structs nest (``sel_daddr`` is xfrm_usersa_info.sel.daddr). "__pad" fields
# are the C compiler's padding.


def _selector_fields(prefix: str) -> tuple[tuple[str, str], ...]:
    return (
        (f"{prefix}daddr", "16s"),
        (f"{prefix}saddr", "16s"),
        (f"{prefix}dport", ">H"),
        (f"{prefix}dport_mask", ">H"),
        (f"{prefix}sport", ">H"),
        (f"{prefix}sport_mask", ">H"),
        (f"{prefix}family", "H"),
        (f"{prefix}prefixlen_d", "B"),
        (f"{prefix}prefixlen_s", "B"),
        (f"{prefix}proto", "B"),
        ("__pad", "3x"),
        (f"{prefix}ifindex", "i"),
        (f"{prefix}user", "I"),
    )


_LIFETIME_CFG = (
    ("lft_soft_byte_limit", "Q"),
    ("lft_hard_byte_limit", "Q"),
    ("lft_soft_packet_limit", "Q"),
    ("lft_hard_packet_limit", "Q"),
    ("lft_soft_add_expires_seconds", "Q"),
    ("lft_hard_add_expires_seconds", "Q"),
    ("lft_soft_use_expires_seconds", "Q"),
    ("lft_hard_use_expires_seconds", "Q"),
)
_LIFETIME_CUR = (
    ("curlft_bytes", "Q"),
    ("curlft_packets", "Q"),
    ("curlft_add_time", "Q"),
    ("curlft_use_time", "Q"),
)
# What ``ip xfrm`` writes when no limit is given: no byte or packet limit,
# no expiry.
_NO_LIMITS = {
    "lft_soft_byte_limit": XFRM_INF,
    "lft_hard_byte_limit": XFRM_INF,
    "lft_soft_packet_limit": XFRM_INF,
    "lft_hard_packet_limit": XFRM_INF,
}


class _XfrmAttributes:
    """The XFRMA_* attribute classes, shared by the message classes."""

    class xfrm_algo(nla):  # type: ignore[misc]
        """``struct xfrm_algo``: name, key length in bits, then the key."""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"))
        fixed_size = 68

        def ft_encode(self, offset: int) -> tuple[int, int]:
            offset, _ = nla.ft_encode(self, offset)
            return _append_key(self, offset)

        def ft_decode(self, offset: int) -> None:
            nla.ft_decode(self, offset)
            start = offset + self.fixed_size
            dict.__setitem__(self, "alg_key", bytes(self.data[start : self.offset + self.length]))

    class xfrm_algo_auth(nla):  # type: ignore[misc]
        """``struct xfrm_algo_auth``: name, key length and truncation in
        bits, then the key."""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_trunc_len", "I"))
        fixed_size = 72

        def ft_encode(self, offset: int) -> tuple[int, int]:
            offset, _ = nla.ft_encode(self, offset)
            return _append_key(self, offset)

        def ft_decode(self, offset: int) -> None:
            nla.ft_decode(self, offset)
            start = offset + self.fixed_size
            dict.__setitem__(self, "alg_key", bytes(self.data[start : self.offset + self.length]))

    class xfrm_tmpls(nla):  # type: ignore[misc]
        """XFRMA_TMPL: an array of ``struct xfrm_user_tmpl`` (value: a list
        of field dicts)."""

        fields = ()

        def ft_encode(self, offset: int) -> tuple[int, int]:
            for values in self.getvalue() or ():
                cell = _UserTmpl(data=self.data, offset=offset)
                cell.setvalue(dict(values))
                cell.encode()
                offset += _UserTmpl.size
            return offset, 0

        def ft_decode(self, offset: int) -> None:
            end = self.offset + self.length
            cells = []
            while offset + _UserTmpl.size <= end:
                cell = _UserTmpl(data=self.data, offset=offset)
                cell.decode()
                cells.append({k: v for k, v in cell.items() if not k.startswith("__")})
                offset += _UserTmpl.size
            self.value = cells
            dict.__setitem__(self, "value", cells)
            dict.pop(self, "attrs", None)

    nla_map = (
        (XfrmAttr.ALG_AUTH, "XFRMA_ALG_AUTH", "xfrm_algo"),
        (XfrmAttr.ALG_CRYPT, "XFRMA_ALG_CRYPT", "xfrm_algo"),
        (XfrmAttr.TMPL, "XFRMA_TMPL", "xfrm_tmpls"),
        (XfrmAttr.SRCADDR, "XFRMA_SRCADDR", "cdata"),
        (XfrmAttr.LASTUSED, "XFRMA_LASTUSED", "uint64"),
        (XfrmAttr.POLICY_TYPE, "XFRMA_POLICY_TYPE", "cdata"),
        (XfrmAttr.ALG_AUTH_TRUNC, "XFRMA_ALG_AUTH_TRUNC", "xfrm_algo_auth"),
        (XfrmAttr.SA_EXTRA_FLAGS, "XFRMA_SA_EXTRA_FLAGS", "uint32"),
    )


def _append_key(msg: Any, offset: int) -> tuple[int, int]:
    """Write an algorithm's key after its fixed fields, padded to 4 octets
    (the padding is not part of the attribute's length)."""
    key = bytes(dict.get(msg, "alg_key", b"") or b"")
    msg.data.extend(key)
    offset += len(key)
    pad = -len(key) % 4
    msg.data.extend(bytes(pad))
    return offset + pad, pad


class _UserTmpl(nlmsg_base, nlmsg_encoder_generic, nlmsg_decoder_generic):  # type: ignore[misc]
    """One ``struct xfrm_user_tmpl`` inside XFRMA_TMPL (no header of its own)."""

    size: ClassVar[int] = 64
    header = ()
    fields = (
        ("id_daddr", "16s"),
        ("id_spi", ">I"),
        ("id_proto", "B"),
        ("__pad", "3x"),
        ("family", "H"),
        ("__pad", "2x"),
        ("saddr", "16s"),
        ("reqid", "I"),
        ("mode", "B"),
        ("share", "B"),
        ("optional", "B"),
        ("__pad", "x"),
        ("aalgos", "I"),
        ("ealgos", "I"),
        ("calgos", "I"),
    )


class xfrm_usersa_info(_XfrmAttributes, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_NEWSA (and GETSA answers): ``struct xfrm_usersa_info``."""

    size: ClassVar[int] = 224
    fields = (
        *_selector_fields("sel_"),
        ("id_daddr", "16s"),
        ("id_spi", ">I"),
        ("id_proto", "B"),
        ("__pad", "3x"),
        ("saddr", "16s"),
        *_LIFETIME_CFG,
        *_LIFETIME_CUR,
        ("stats_replay_window", "I"),
        ("stats_replay", "I"),
        ("stats_integrity_failed", "I"),
        ("seq", "I"),
        ("reqid", "I"),
        ("family", "H"),
        ("mode", "B"),
        ("replay_window", "B"),
        ("flags", "B"),
        ("__pad", "7x"),
    )


class xfrm_usersa_id(_XfrmAttributes, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_DELSA / GETSA: ``struct xfrm_usersa_id``."""

    size: ClassVar[int] = 24
    fields = (
        ("daddr", "16s"),
        ("spi", ">I"),
        ("family", "H"),
        ("proto", "B"),
        ("__pad", "x"),
    )


class xfrm_userpolicy_info(_XfrmAttributes, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_NEWPOLICY / UPDPOLICY (and GETPOLICY answers)."""

    size: ClassVar[int] = 168
    fields = (
        *_selector_fields("sel_"),
        *_LIFETIME_CFG,
        *_LIFETIME_CUR,
        ("priority", "I"),
        ("index", "I"),
        ("dir", "B"),
        ("action", "B"),
        ("flags", "B"),
        ("share", "B"),
        ("__pad", "4x"),
    )


class xfrm_userpolicy_id(_XfrmAttributes, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_DELPOLICY / GETPOLICY: ``struct xfrm_userpolicy_id``."""

    size: ClassVar[int] = 64
    fields = (
        *_selector_fields("sel_"),
        ("index", "I"),
        ("dir", "B"),
        ("__pad", "3x"),
    )


class xfrm_dump(nlmsg):  # type: ignore[misc]
    """A dump request: the header alone (the kernel filters nothing)."""

    fields = ()


class XfrmMarshal(Marshal):  # type: ignore[misc]
    """Answers by message type: SAs and policies (everything else, e.g.
    acknowledgements, pyroute2 decodes itself)."""

    msg_map: ClassVar[dict[int, type[Any]]] = {
        XfrmMsg.NEWSA: xfrm_usersa_info,
        XfrmMsg.UPDSA: xfrm_usersa_info,
        XfrmMsg.NEWPOLICY: xfrm_userpolicy_info,
        XfrmMsg.UPDPOLICY: xfrm_userpolicy_info,
    }


# --- records <-> messages ------------------------------------------------------------


def _pack_address(address: IPAddress | None, family: int) -> bytes:
    """``xfrm_address_t``: 16 octets, an IPv4 address in the first four."""
    if address is None:
        return bytes(16)
    if (address.version == 6) != (family == socket.AF_INET6):
        raise ValueError(f"address {address} is not of family {family}")
    return address.packed.ljust(16, b"\0")


def _unpack_address(raw: bytes, family: int) -> IPAddress:
    if family == socket.AF_INET:
        return ipaddress.IPv4Address(raw[:4])
    return ipaddress.IPv6Address(raw[:16])


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _selector_values(selector: Selector, prefix: str = "sel_") -> dict[str, Any]:
    return {
        f"{prefix}daddr": _pack_address(selector.daddr, selector.family),
        f"{prefix}saddr": _pack_address(selector.saddr, selector.family),
        f"{prefix}dport": selector.dport,
        f"{prefix}dport_mask": selector.dport_mask,
        f"{prefix}sport": selector.sport,
        f"{prefix}sport_mask": selector.sport_mask,
        f"{prefix}family": selector.family,
        f"{prefix}prefixlen_d": selector.prefixlen_d,
        f"{prefix}prefixlen_s": selector.prefixlen_s,
        f"{prefix}proto": selector.proto,
        f"{prefix}ifindex": selector.ifindex,
        f"{prefix}user": selector.user,
    }


def _selector_from(msg: Any, prefix: str = "sel_", fallback_family: int = 0) -> Selector:
    family = msg[f"{prefix}family"] or fallback_family
    return Selector(
        family=family,
        daddr=_unpack_address(msg[f"{prefix}daddr"], family),
        saddr=_unpack_address(msg[f"{prefix}saddr"], family),
        prefixlen_d=msg[f"{prefix}prefixlen_d"],
        prefixlen_s=msg[f"{prefix}prefixlen_s"],
        proto=msg[f"{prefix}proto"],
        dport=msg[f"{prefix}dport"],
        dport_mask=msg[f"{prefix}dport_mask"],
        sport=msg[f"{prefix}sport"],
        sport_mask=msg[f"{prefix}sport_mask"],
        ifindex=msg[f"{prefix}ifindex"],
        user=msg[f"{prefix}user"],
    )


def state_message(state: XfrmState) -> Any:
    """XFRM_MSG_NEWSA's body for ``state`` (an ``xfrm_usersa_info``)."""
    msg = xfrm_usersa_info()
    msg.update(_selector_values(state.selector))
    msg.update(_NO_LIMITS)
    msg.update(
        {
            "id_daddr": _pack_address(state.daddr, state.family),
            "id_spi": state.spi,
            "id_proto": int(state.proto),
            "saddr": _pack_address(state.saddr, state.family),
            "reqid": state.reqid,
            "family": state.family,
            "mode": int(state.mode),
            "replay_window": state.replay_window,
            "flags": state.flags,
        }
    )
    attrs: list[tuple[str, dict[str, Any]]] = []
    if state.crypt is not None:
        attrs.append(
            (
                "XFRMA_ALG_CRYPT",
                {
                    "alg_name": state.crypt.name.encode("ascii"),
                    "alg_key_len": 8 * len(state.crypt.key),
                    "alg_key": state.crypt.key,
                },
            )
        )
    if state.auth is not None:
        attrs.append(
            (
                "XFRMA_ALG_AUTH_TRUNC",
                {
                    "alg_name": state.auth.name.encode("ascii"),
                    "alg_key_len": 8 * len(state.auth.key),
                    "alg_trunc_len": state.auth.trunc_bits,
                    "alg_key": state.auth.key,
                },
            )
        )
    msg["attrs"] = attrs
    return msg


def _algorithm_key(attr: Any) -> bytes:
    key = bytes(dict.get(attr, "alg_key", b""))
    return key[: (attr["alg_key_len"] + 7) // 8]


def state_from_message(msg: Any) -> XfrmState:
    """An ``xfrm_usersa_info`` message (NEWSA, a GETSA answer) as a record."""
    family = msg["family"]
    auth: AuthAlgorithm | None = None
    trunc = msg.get_attr("XFRMA_ALG_AUTH_TRUNC")
    if trunc is not None:
        auth = AuthAlgorithm(
            _name(trunc["alg_name"]), _algorithm_key(trunc), trunc["alg_trunc_len"]
        )
    else:
        plain = msg.get_attr("XFRMA_ALG_AUTH")
        if plain is not None:  # an SA added without truncation length: 96 bits
            auth = AuthAlgorithm(_name(plain["alg_name"]), _algorithm_key(plain), 96)
    crypt: CryptAlgorithm | None = None
    cipher = msg.get_attr("XFRMA_ALG_CRYPT")
    if cipher is not None:
        crypt = CryptAlgorithm(_name(cipher["alg_name"]), _algorithm_key(cipher))
    return XfrmState(
        daddr=_unpack_address(msg["id_daddr"], family),
        spi=msg["id_spi"],
        proto=_proto(msg["id_proto"]),
        saddr=_unpack_address(msg["saddr"], family),
        mode=XfrmMode(msg["mode"]),
        selector=_selector_from(msg, fallback_family=family),
        auth=auth,
        crypt=crypt,
        reqid=msg["reqid"],
        replay_window=msg["replay_window"],
        flags=msg["flags"],
        octets=msg["curlft_bytes"],
        packets=msg["curlft_packets"],
    )


def _proto(number: int) -> XfrmProto:
    try:
        return XfrmProto(number)
    except ValueError:
        raise XfrmError("decode SA", detail=f"IPsec protocol {number} is not ESP or AH") from None


def sa_id_message(sa: XfrmSaId) -> Any:
    """XFRM_MSG_DELSA / GETSA's body (an ``xfrm_usersa_id``)."""
    msg = xfrm_usersa_id()
    msg.update(
        {
            "daddr": _pack_address(sa.daddr, sa.family),
            "spi": sa.spi,
            "family": sa.family,
            "proto": int(sa.proto),
        }
    )
    return msg


def _template_values(template: XfrmTemplate) -> dict[str, Any]:
    return {
        "id_daddr": _pack_address(template.template_daddr, template.family),
        "id_spi": template.spi,
        "id_proto": int(template.proto),
        "family": template.family,
        "saddr": _pack_address(template.template_saddr, template.family),
        "reqid": template.reqid,
        "mode": int(template.mode),
        "share": template.share,
        "optional": int(template.optional),
        "aalgos": template.aalgos,
        "ealgos": template.ealgos,
        "calgos": template.calgos,
    }


def _template_from(values: dict[str, Any]) -> XfrmTemplate:
    family = values["family"]
    daddr = _unpack_address(values["id_daddr"], family)
    saddr = _unpack_address(values["saddr"], family)
    return XfrmTemplate(
        proto=_proto(values["id_proto"]),
        mode=XfrmMode(values["mode"]),
        family=family,
        reqid=values["reqid"],
        spi=values["id_spi"],
        daddr=None if daddr == _unspecified(family) else daddr,
        saddr=None if saddr == _unspecified(family) else saddr,
        share=values["share"],
        optional=bool(values["optional"]),
        aalgos=values["aalgos"],
        ealgos=values["ealgos"],
        calgos=values["calgos"],
    )


def policy_message(policy: XfrmPolicy) -> Any:
    """XFRM_MSG_NEWPOLICY / UPDPOLICY's body (an ``xfrm_userpolicy_info``)."""
    msg = xfrm_userpolicy_info()
    msg.update(_selector_values(policy.selector))
    msg.update(_NO_LIMITS)
    msg.update(
        {
            "priority": policy.priority,
            "index": policy.index,
            "dir": int(policy.direction),
            "action": int(policy.action),
            "flags": policy.flags,
            "share": policy.share,
        }
    )
    if policy.templates:
        msg["attrs"] = [("XFRMA_TMPL", [_template_values(t) for t in policy.templates])]
    return msg


def policy_from_message(msg: Any) -> XfrmPolicy:
    """An ``xfrm_userpolicy_info`` message as a record."""
    templates: tuple[XfrmTemplate, ...] = ()
    tmpl = msg.get_attr("XFRMA_TMPL")
    if tmpl is not None:
        templates = tuple(_template_from(values) for values in tmpl)
    return XfrmPolicy(
        selector=_selector_from(msg),
        direction=PolicyDir(msg["dir"]),
        templates=templates,
        priority=msg["priority"],
        action=PolicyAction(msg["action"]),
        flags=msg["flags"],
        share=msg["share"],
        index=msg["index"],
    )


def policy_id_message(policy_id: XfrmPolicyId) -> Any:
    """XFRM_MSG_DELPOLICY / GETPOLICY's body (an ``xfrm_userpolicy_id``)."""
    msg = xfrm_userpolicy_id()
    msg.update(_selector_values(policy_id.selector))
    msg.update({"index": 0, "dir": int(policy_id.direction)})
    return msg


def encode(msg: Any, msg_type: XfrmMsg, flags: int, sequence: int = 0, pid: int = 0) -> bytes:
    """A whole netlink message as it goes on the wire (for tests and logs
    of layouts; the socket encodes its own)."""
    msg["header"]["type"] = int(msg_type)
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = sequence
    msg["header"]["pid"] = pid
    msg.reset()
    msg.encode()
    return bytes(msg.data)


def decode(data: bytes) -> list[Any]:
    """Netlink messages (SAs, policies, errors) parsed from ``data``."""
    return list(XfrmMarshal().parse(data))


# --- the socket ----------------------------------------------------------------------

_NEW = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_CHANGE = NLM_F_REQUEST | NLM_F_ACK
_DUMP = NLM_F_REQUEST | NLM_F_DUMP


class _Socket(AsyncNetlinkSocket):  # type: ignore[misc]
    marshal_class = XfrmMarshal


class XfrmSocket:
    """The kernel's XFRM tables through one NETLINK_XFRM socket (asyncio;
    opened on first use, in the caller's network namespace). Needs
    CAP_NET_ADMIN. One request at a time."""

    def __init__(self) -> None:
        self._sock: Any = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _request(self, operation: str, msg: Any, msg_type: XfrmMsg, flags: int) -> list[Any]:
        if self._sock is None:
            try:
                self._sock = _Socket(family=NETLINK_XFRM, ext_ack=True)
            except OSError as exc:
                raise error_from_errno(
                    f"open NETLINK_XFRM for {operation}", exc.errno or 0
                ) from None
        try:
            answers = [m async for m in _answers(self._sock, msg, msg_type, flags)]
        except NetlinkError as exc:
            raise error_from_errno(operation, exc.code, _extack(exc)) from None
        except OSError as exc:
            self.close()
            raise error_from_errno(operation, exc.errno or 0) from None
        return [m for m in answers if not isinstance(m, nlmsgerr)]

    # --- SAs ----------------------------------------------------------------------

    async def states(self) -> list[XfrmState]:
        """Every SA (GETSA dump) that is ESP or AH."""
        found = await self._request("dump SAs", xfrm_dump(), XfrmMsg.GETSA, _DUMP)
        return [
            state_from_message(m)
            for m in found
            if isinstance(m, xfrm_usersa_info) and m["id_proto"] in _PROTOS
        ]

    async def get_state(self, sa: XfrmSaId) -> XfrmState | None:
        """One SA read back by its identity; None if the kernel has none."""
        try:
            found = await self._request(
                f"get {sa}", sa_id_message(sa), XfrmMsg.GETSA, NLM_F_REQUEST
            )
        except XfrmNotFound:
            return None
        for msg in found:
            if isinstance(msg, xfrm_usersa_info):
                return state_from_message(msg)
        raise XfrmError(f"get {sa}", detail="the kernel answered without the SA")

    async def add_state(self, state: XfrmState) -> None:
        await self._request(f"add {state}", state_message(state), XfrmMsg.NEWSA, _NEW)

    async def delete_state(self, sa: XfrmSaId) -> None:
        await self._request(f"delete {sa}", sa_id_message(sa), XfrmMsg.DELSA, _CHANGE)

    # --- policies -----------------------------------------------------------------

    async def policies(self) -> list[XfrmPolicy]:
        """Every policy of the main type (GETPOLICY dump)."""
        found = await self._request("dump policies", xfrm_dump(), XfrmMsg.GETPOLICY, _DUMP)
        return [policy_from_message(m) for m in found if isinstance(m, xfrm_userpolicy_info)]

    async def get_policy(self, policy_id: XfrmPolicyId) -> XfrmPolicy | None:
        operation = f"get {policy_id}"
        try:
            found = await self._request(
                operation, policy_id_message(policy_id), XfrmMsg.GETPOLICY, NLM_F_REQUEST
            )
        except XfrmNotFound:
            return None
        for msg in found:
            if isinstance(msg, xfrm_userpolicy_info):
                return policy_from_message(msg)
        raise XfrmError(operation, detail="the kernel answered without the policy")

    async def add_policy(self, policy: XfrmPolicy) -> None:
        await self._request(f"add {policy}", policy_message(policy), XfrmMsg.NEWPOLICY, _NEW)

    async def update_policy(self, policy: XfrmPolicy) -> None:
        """Replace the policy with the same selector and direction (or add it)."""
        await self._request(f"update {policy}", policy_message(policy), XfrmMsg.UPDPOLICY, _CHANGE)

    async def delete_policy(self, policy_id: XfrmPolicyId) -> None:
        await self._request(
            f"delete {policy_id}", policy_id_message(policy_id), XfrmMsg.DELPOLICY, _CHANGE
        )


_PROTOS = frozenset(int(p) for p in XfrmProto)


async def _answers(sock: Any, msg: Any, msg_type: XfrmMsg, flags: int) -> AsyncIterator[Any]:
    async for answer in await sock.nlm_request(msg, int(msg_type), flags):
        yield answer


def _extack(exc: NetlinkError) -> str:
    """The kernel's extended-ack text (e.g. "Requested type not found")."""
    text = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if not text:
        return ""
    return f"{errno.errorcode.get(exc.code, exc.code)} ({text})"


def states_by_id(states: Iterable[XfrmState]) -> dict[XfrmSaId, XfrmState]:
    return {state.sa_id: state for state in states}


def policies_by_id(policies: Sequence[XfrmPolicy]) -> dict[XfrmPolicyId, XfrmPolicy]:
    return {policy.policy_id: policy for policy in policies}
