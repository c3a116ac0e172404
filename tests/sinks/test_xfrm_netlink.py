"""XFRM netlink messages against the bytes iproute2 and the kernel use.

The vectors are message bodies (after the 16-octet netlink header) that
``ip xfrm`` (iproute2 6.1.0, Debian 12) sent on this x86-64 host, captured
with ``strace -e trace=sendmsg -xx``, and one answer of the host's kernel
(6.18) to ``ip xfrm policy get`` captured with ``strace -e trace=recvmsg``.
Commands are given beside each vector; the keys in them are test keys.
Layouts are host order, so these tests run on little-endian LP64 hosts.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
import struct
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.sinks.xfrm_netlink import (
    AuthAlgorithm,
    CryptAlgorithm,
    PolicyAction,
    PolicyDir,
    Selector,
    XfrmError,
    XfrmExists,
    XfrmInvalid,
    XfrmMode,
    XfrmMsg,
    XfrmNotFound,
    XfrmPermissionError,
    XfrmPolicy,
    XfrmProto,
    XfrmSaId,
    XfrmState,
    XfrmTemplate,
    XfrmUnsupported,
    decode,
    encode,
    error_from_errno,
    policy_from_message,
    policy_id_message,
    policy_message,
    sa_id_message,
    state_from_message,
    state_message,
    xfrm_userpolicy_info,
    xfrm_usersa_info,
)

pytestmark = pytest.mark.skipif(
    sys.byteorder != "little" or struct.calcsize("P") != 8,
    reason="the vectors are x86-64 (little-endian LP64) layouts",
)

V6 = ipaddress.IPv6Address
AF6 = socket.AF_INET6
REQID = 0x524B4D50
ACK_CREATE = 0x0001 | 0x0004 | 0x0400 | 0x0200  # NLM_F_REQUEST|ACK|CREATE|EXCL


def hexdata(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def body(msg: object, msg_type: XfrmMsg) -> bytes:
    return encode(msg, msg_type, ACK_CREATE)[16:]


# ip xfrm state add src :: dst ff02::5 proto esp spi 0x1000 reqid 0x524b4d50
#   mode transport enc 'ecb(cipher_null)' '' auth-trunc 'hmac(sha256)' 0x11...11 128
#   sel src ::/0 dst ::/0 proto 89
SA_ESP = hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a000000590000000000000000000000ff02000000000000
    0000000000000005000010003200000000000000000000000000000000000000
    ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000504d4b520a0000000000000000000000
    48000200656362286369706865725f6e756c6c29000000000000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000006c001400686d616328736861323536290000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000000000000001000080000000111111111111111111111111
    1111111111111111111111111111111111111111
""")
# ip xfrm state add src :: dst fe80::1 proto ah spi 0x12345678 reqid 0x524b4d50
#   mode transport auth-trunc 'hmac(sha1)' 0x22...22 96 sel src ::/0 dst ::/0 proto 89
SA_AH = hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a000000590000000000000000000000fe80000000000000
    0000000000000001123456783300000000000000000000000000000000000000
    ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000504d4b520a0000000000000000000000
    60001400686d6163287368613129000000000000000000000000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    00000000a0000000600000002222222222222222222222222222222222222222
""")
# ip xfrm state delete src :: dst ff02::5 proto esp spi 0x1000: xfrm_usersa_id,
# then an XFRMA_SRCADDR that the kernel ignores for ESP/AH (it finds those
# by destination, SPI and protocol).
SA_DELETE = hexdata("""
    ff020000000000000000000000000005000010000a00320014000d0000000000
    000000000000000000000000
""")
# ip xfrm policy add src ::/0 dst ::/0 proto 89 dev lo dir out priority 100
#   tmpl proto esp spi 0x1000 mode transport reqid 0x524b4d50   (lo: ifindex 1)
POLICY_ADD = hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a000000590000000100000000000000ffffffffffffffff
    ffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000000000000000000000000000000000006400000000000000
    0100000000000000440005000000000000000000000000000000000000001000
    320000000a00000000000000000000000000000000000000504d4b5200000000
    ffffffffffffffffffffffff
""")
# ip xfrm policy update ... tmpl proto ah spi 0x2000 mode transport reqid 0x524b4d50
POLICY_UPDATE = hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a000000590000000100000000000000ffffffffffffffff
    ffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000000000000000000000000000000000006400000000000000
    0100000000000000440005000000000000000000000000000000000000002000
    330000000a00000000000000000000000000000000000000504d4b5200000000
    ffffffffffffffffffffffff
""")
# ip xfrm policy delete src ::/0 dst ::/0 proto 89 dev lo dir out
POLICY_DELETE = hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a0000005900000001000000000000000000000001000000
""")
# The kernel's answer to `ip xfrm policy get` for POLICY_ADD's policy:
# index 0x19, an add_time, then XFRMA_TMPL and XFRMA_POLICY_TYPE.
POLICY_REPLY = struct.pack("=IHHII", 264, 0x13, 0, 1795834052, 21972) + hexdata("""
    0000000000000000000000000000000000000000000000000000000000000000
    00000000000000000a000000590000000100000000000000ffffffffffffffff
    ffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000
    0000000000000000000000000000000000000000000000000000000000000000
    0000000000000000c3400a6b0000000000000000000000006400000019000000
    0100000000000000440005000000000000000000000000000000000000001000
    320000000a00000000000000000000000000000000000000504d4b5200000000
    ffffffffffffffffffffffff0a0010000000000000000000
""")

ESP_SA = XfrmState(
    daddr=V6("ff02::5"),
    spi=0x1000,
    proto=XfrmProto.ESP,
    saddr=V6("::"),
    mode=XfrmMode.TRANSPORT,
    selector=Selector.any(AF6, proto=89),
    auth=AuthAlgorithm("hmac(sha256)", b"\x11" * 32, 128),
    crypt=CryptAlgorithm("ecb(cipher_null)"),
    reqid=REQID,
)
AH_SA = XfrmState(
    daddr=V6("fe80::1"),
    spi=0x12345678,
    proto=XfrmProto.AH,
    saddr=V6("::"),
    mode=XfrmMode.TRANSPORT,
    selector=Selector.any(AF6, proto=89),
    auth=AuthAlgorithm("hmac(sha1)", b"\x22" * 20, 96),
    reqid=REQID,
)
OUT_POLICY = XfrmPolicy(
    selector=Selector.any(AF6, proto=89, ifindex=1),
    direction=PolicyDir.OUT,
    templates=(XfrmTemplate(XfrmProto.ESP, XfrmMode.TRANSPORT, AF6, reqid=REQID, spi=0x1000),),
    priority=100,
)


# --- layouts ---------------------------------------------------------------------------------


def test_struct_sizes_are_the_kernels() -> None:
    # linux/xfrm.h on LP64: the sizes the kernel checks in xfrm_msg_min.
    sizes = {
        XfrmMsg.NEWSA: (state_message(ESP_SA), 224),
        XfrmMsg.DELSA: (sa_id_message(ESP_SA.sa_id), 24),
        XfrmMsg.NEWPOLICY: (policy_message(dataclasses.replace(OUT_POLICY, templates=())), 168),
        XfrmMsg.DELPOLICY: (policy_id_message(OUT_POLICY.policy_id), 64),
    }
    for msg_type, (msg, size) in sizes.items():
        if msg_type is XfrmMsg.NEWSA:
            msg["attrs"] = []
        assert len(body(msg, msg_type)) == size, msg_type


def test_esp_sa_is_what_ip_xfrm_sends() -> None:
    data = encode(state_message(ESP_SA), XfrmMsg.NEWSA, ACK_CREATE, sequence=7, pid=0)
    assert struct.unpack_from("=IHHII", data) == (16 + len(SA_ESP), 0x10, ACK_CREATE, 7, 0)
    assert data[16:] == SA_ESP


def test_ah_sa_is_what_ip_xfrm_sends() -> None:
    assert body(state_message(AH_SA), XfrmMsg.NEWSA) == SA_AH


def test_sa_id_is_what_ip_xfrm_sends() -> None:
    assert body(sa_id_message(ESP_SA.sa_id), XfrmMsg.DELSA) == SA_DELETE[:24]


def test_policy_is_what_ip_xfrm_sends() -> None:
    assert body(policy_message(OUT_POLICY), XfrmMsg.NEWPOLICY) == POLICY_ADD
    ah = XfrmTemplate(XfrmProto.AH, XfrmMode.TRANSPORT, AF6, reqid=REQID, spi=0x2000)
    updated = dataclasses.replace(OUT_POLICY, templates=(ah,))
    assert body(policy_message(updated), XfrmMsg.UPDPOLICY) == POLICY_UPDATE


def test_policy_id_is_what_ip_xfrm_sends() -> None:
    assert body(policy_id_message(OUT_POLICY.policy_id), XfrmMsg.DELPOLICY) == POLICY_DELETE


# --- decoding --------------------------------------------------------------------------------


def test_kernel_policy_answer_decodes() -> None:
    [msg] = decode(POLICY_REPLY)
    assert isinstance(msg, xfrm_userpolicy_info)
    policy = policy_from_message(msg)
    assert policy == OUT_POLICY
    assert policy.index == 0x19 and policy.action is PolicyAction.ALLOW
    assert policy.templates[0].daddr is None and policy.templates[0].saddr is None


def test_ip_xfrm_sa_messages_decode() -> None:
    for data, expected in ((SA_ESP, ESP_SA), (SA_AH, AH_SA)):
        header = struct.pack("=IHHII", 16 + len(data), XfrmMsg.NEWSA, 0, 1, 0)
        [msg] = decode(header + data)
        assert isinstance(msg, xfrm_usersa_info)
        assert state_from_message(msg) == expected


def test_an_sa_with_only_the_untruncated_mac_attribute() -> None:
    # XFRMA_ALG_AUTH (struct xfrm_algo, no truncation length): the kernel
    # gives it 96 bits (xfrm_user.c attach_auth).
    data = bytearray(SA_AH)
    at = data.index(bytes.fromhex("60001400"))
    plain = (
        bytes.fromhex("5c000100")
        + data[at + 4 : at + 68]
        + struct.pack("=I", 160)
        + bytes([0x22] * 20)
    )
    raw = bytes(data[:at]) + plain
    header = struct.pack("=IHHII", 16 + len(raw), XfrmMsg.NEWSA, 0, 1, 0)
    state = state_from_message(decode(header + raw)[0])
    assert state.auth == AuthAlgorithm("hmac(sha1)", b"\x22" * 20, 96)


def test_key_padding_is_outside_the_attribute_length() -> None:
    odd = dataclasses.replace(ESP_SA, crypt=CryptAlgorithm("cbc(aes)", b"\x05" * 3))
    data = encode(state_message(odd), XfrmMsg.NEWSA, ACK_CREATE)
    crypt_at = 16 + 224
    length, kind = struct.unpack_from("=HH", data, crypt_at)
    assert (length, kind) == (4 + 68 + 3, 2)
    assert data[crypt_at + 72 : crypt_at + 76] == b"\x05\x05\x05\x00"  # one octet of padding
    assert struct.unpack_from("=HH", data, crypt_at + 76)[1] == 20  # the MAC follows, aligned
    assert state_from_message(decode(data)[0]) == odd


def test_several_templates_round_trip() -> None:
    esp = XfrmTemplate(XfrmProto.ESP, XfrmMode.TRANSPORT, AF6, reqid=1, spi=0x100)
    ah = XfrmTemplate(
        XfrmProto.AH, XfrmMode.TUNNEL, AF6, reqid=2, daddr=V6("2001:db8::1"),
        saddr=V6("2001:db8::2"), optional=True, aalgos=4,
    )  # fmt: skip
    policy = dataclasses.replace(OUT_POLICY, templates=(esp, ah), direction=PolicyDir.FWD)
    data = encode(policy_message(policy), XfrmMsg.NEWPOLICY, ACK_CREATE)
    assert len(data) == 16 + 168 + 4 + 2 * 64
    assert policy_from_message(decode(data)[0]) == policy


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
addresses6: st.SearchStrategy[IPAddress] = st.builds(V6, st.integers(0, 2**128 - 1))
addresses4: st.SearchStrategy[IPAddress] = st.builds(
    ipaddress.IPv4Address, st.integers(0, 2**32 - 1)
)


@st.composite
def states(draw: st.DrawFn) -> XfrmState:
    v6 = draw(st.booleans())
    addresses = addresses6 if v6 else addresses4
    family = AF6 if v6 else socket.AF_INET
    bits = 128 if v6 else 32
    proto = draw(st.sampled_from(XfrmProto))
    selector = Selector(
        family,
        draw(addresses),
        draw(addresses),
        prefixlen_d=draw(st.integers(0, bits)),
        prefixlen_s=draw(st.integers(0, bits)),
        proto=draw(st.integers(0, 255)),
        dport=draw(st.integers(0, 0xFFFF)),
        dport_mask=draw(st.integers(0, 0xFFFF)),
        ifindex=draw(st.integers(-(2**31), 2**31 - 1)),
    )
    return XfrmState(
        daddr=draw(addresses),
        spi=draw(st.integers(0, 2**32 - 1)),
        proto=proto,
        saddr=draw(addresses),
        mode=draw(st.sampled_from(XfrmMode)),
        selector=selector,
        auth=AuthAlgorithm(
            draw(st.sampled_from(["hmac(sha1)", "hmac(sha256)"])),
            draw(st.binary(min_size=0, max_size=64)),
            draw(st.integers(0, 512)),
        ),
        crypt=(
            CryptAlgorithm(NULL, draw(st.binary(max_size=33))) if proto is XfrmProto.ESP else None
        ),
        reqid=draw(st.integers(0, 2**32 - 1)),
        replay_window=draw(st.integers(0, 255)),
        flags=draw(st.integers(0, 255)),
    )


NULL = "ecb(cipher_null)"


@settings(max_examples=60, deadline=None)
@given(states())
def test_states_round_trip(state: XfrmState) -> None:
    data = encode(state_message(state), XfrmMsg.NEWSA, ACK_CREATE)
    assert len(data) % 4 == 0 and struct.unpack_from("=I", data)[0] <= len(data)
    assert state_from_message(decode(data)[0]) == state


# --- records and errors ------------------------------------------------------------------------


def test_reprs_and_strings_never_show_keys() -> None:
    secret = bytes(range(0x40, 0x60))
    state = dataclasses.replace(ESP_SA, auth=AuthAlgorithm("hmac(sha256)", secret, 128))
    for text in (repr(state), str(state), repr(state.auth), str(state.sa_id)):
        assert secret.hex() not in text and repr(secret) not in text
    assert str(state) == "esp spi 0x00001000 dst ff02::5"


def test_counters_are_not_part_of_equality() -> None:
    busy = dataclasses.replace(ESP_SA, octets=1000, packets=12)
    assert busy == ESP_SA
    assert dataclasses.replace(ESP_SA, spi=0x1001) != ESP_SA
    rekeyed = dataclasses.replace(ESP_SA, auth=AuthAlgorithm("hmac(sha256)", b"\x12" * 32, 128))
    assert rekeyed != ESP_SA and rekeyed.sa_id == ESP_SA.sa_id


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.EEXIST, XfrmExists),
        (-errno.ENOENT, XfrmNotFound),
        (errno.ESRCH, XfrmNotFound),
        (errno.EPERM, XfrmPermissionError),
        (errno.EPROTONOSUPPORT, XfrmUnsupported),
        (errno.ENOSYS, XfrmUnsupported),
        (errno.EINVAL, XfrmInvalid),
        (errno.EBUSY, XfrmError),
    ],
)
def test_errors_are_typed_by_errno(code: int, kind: type[XfrmError]) -> None:
    error = error_from_errno("add esp spi 0x00001000 dst ff02::5", code)
    assert type(error) is kind and error.code == abs(code)
    assert str(error).startswith("add esp spi 0x00001000 dst ff02::5: ")
    assert errno.errorcode[abs(code)] in str(error)


def test_sa_id_family_follows_the_address() -> None:
    assert XfrmSaId(V6("ff02::5"), 1, XfrmProto.AH).family == AF6
    v4 = XfrmSaId(ipaddress.IPv4Address("192.0.2.1"), 1, XfrmProto.ESP)
    assert v4.family == socket.AF_INET
    assert body(sa_id_message(v4), XfrmMsg.GETSA)[:16] == bytes([192, 0, 2, 1]) + bytes(12)
