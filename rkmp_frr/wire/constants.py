"""Every number on the RKMP wire, in one place.

IKEv2 numbers come from RFC 7296 §3 and the IANA "Internet Key Exchange
Version 2 (IKEv2) Parameters" registry; the RKMP numbers (routing-protocol
Protocol IDs, private-use transforms, RKMP_SUPPORTED) are this project's
profile, fixed in DESIGN.md §2.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

IKE_MAJOR_VERSION = 2
IKE_MINOR_VERSION = 0
HEADER_LENGTH = 28  # RFC 7296 §3.1
GENERIC_PAYLOAD_HEADER_LENGTH = 4  # RFC 7296 §3.2
PAYLOAD_CRITICAL_FLAG = 0x80  # RFC 7296 §3.2, first bit of the second octet
NONCE_MIN_LENGTH = 16  # RFC 7296 §3.9: Nonce Data is 16..256 octets
NONCE_MAX_LENGTH = 256
IKE_SPI_LENGTH = 8
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 7296 §2.23, on ports other than 500
IKE_PORT = 500


class ExchangeType(IntEnum):
    """RFC 7296 §3.1; the RKMP names are aliases (DESIGN.md §2)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    RKMP_SA_INIT = 34
    RKMP_SA_AUTH = 35


class HeaderFlag(IntFlag):
    """RFC 7296 §3.1 header flags."""

    NONE = 0
    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


class PayloadType(IntEnum):
    """RFC 7296 §3.2 Next Payload values (plus RFC 7383 SKF)."""

    NONE = 0
    SA = 33
    KE = 34
    IDi = 35
    IDr = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSi = 44
    TSr = 45
    SK = 46
    CP = 47
    EAP = 48
    SKF = 53


class ProtocolId(IntEnum):
    """SA / Notify / Delete Protocol ID (RFC 7296 §3.3.1) and RKMP's routing
    protocols in the private-use range 201-255 (DESIGN.md §2)."""

    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3
    # RKMP routing-protocol SAs; the SPI carries the key ID.
    TCP_AO = 201
    TCP_MD5 = 202
    OSPFV2 = 203
    OSPFV3 = 204
    ISIS = 205
    BFD = 206
    OSPFV3_IPSEC = 207


# SPI size on the wire for each routing-protocol SA (DESIGN.md §2).
ROUTING_SPI_SIZE: dict[ProtocolId, int] = {
    ProtocolId.TCP_AO: 1,
    ProtocolId.TCP_MD5: 1,
    ProtocolId.OSPFV2: 1,
    ProtocolId.OSPFV3: 2,
    ProtocolId.ISIS: 2,
    ProtocolId.BFD: 1,
    ProtocolId.OSPFV3_IPSEC: 4,
}


class TransformType(IntEnum):
    """RFC 7296 §3.3.2, plus RKMP's private-use option transform."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    KE = 4  # "D-H" in RFC 7296, renamed "Key Exchange Method" by RFC 9370
    ESN = 5
    # Private use (241-255): per-routing-protocol options, e.g. TCP-AO's
    # "include TCP options" flag (DESIGN.md §2).
    RKMP_OPTIONS = 241


class EncrId(IntEnum):
    """Transform type 1 (RFC 7296 §3.3.2, RFC 5282)."""

    DES_IV64 = 1
    DES = 2
    DES3 = 3
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20
    CHACHA20_POLY1305 = 28


class PrfId(IntEnum):
    """Transform type 2 (RFC 7296 §3.3.2, RFC 4868)."""

    HMAC_MD5 = 1
    HMAC_SHA1 = 2
    AES128_XCBC = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    AES128_CMAC = 8


class IntegId(IntEnum):
    """Transform type 3 (RFC 7296 §3.3.2, RFC 4868), and RKMP's private-use
    IDs (1024 and up) for routing-protocol MACs that the IKEv2 registry has
    no entry for: untruncated HMACs (RFC 5709, RFC 7166, RFC 5310) and keyed
    MD5 (RFC 2328 D.3, RFC 2385). DESIGN.md §2."""

    NONE = 0
    HMAC_MD5_96 = 1
    HMAC_SHA1_96 = 2
    AES_XCBC_96 = 5
    HMAC_MD5_128 = 6
    HMAC_SHA1_160 = 7
    AES_CMAC_96 = 8
    HMAC_SHA2_256_128 = 12
    HMAC_SHA2_384_192 = 13
    HMAC_SHA2_512_256 = 14
    # RKMP private use.
    RKMP_KEYED_MD5 = 1024
    RKMP_HMAC_SHA1 = 1025
    RKMP_HMAC_SHA2_256 = 1026
    RKMP_HMAC_SHA2_384 = 1027
    RKMP_HMAC_SHA2_512 = 1028


class KeId(IntEnum):
    """Transform type 4, key exchange method (RFC 7296 §3.3.2, RFC 5903,
    RFC 8031)."""

    NONE = 0
    MODP_1024 = 2
    MODP_1536 = 5
    MODP_2048 = 14
    MODP_3072 = 15
    MODP_4096 = 16
    ECP_256 = 19
    ECP_384 = 20
    ECP_521 = 21
    CURVE25519 = 31
    CURVE448 = 32


class EsnId(IntEnum):
    """Transform type 5 (RFC 7296 §3.3.2)."""

    NO_ESN = 0
    ESN = 1


class RkmpOptionId(IntEnum):
    """Transform type 241 IDs: routing-protocol options (DESIGN.md §2)."""

    # TCP-AO "include TCP options in the MAC" (RFC 5925 §3.1 TCP option flag).
    TCP_AO_INCLUDE_OPTIONS = 1
    TCP_AO_EXCLUDE_OPTIONS = 2


class TransformAttributeType(IntEnum):
    """RFC 7296 §3.3.5."""

    KEY_LENGTH = 14


ATTRIBUTE_FORMAT_TV = 0x8000  # AF bit: fixed 2-octet value (RFC 7296 §3.3.5)


class IdType(IntEnum):
    """RFC 7296 §3.5."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11


class CertEncoding(IntEnum):
    """RFC 7296 §3.6."""

    PKCS7_X509 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIGNATURE = 4
    KERBEROS_TOKEN = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTRIBUTE = 10
    RAW_RSA_KEY = 11
    HASH_URL_X509_CERT = 12
    HASH_URL_X509_BUNDLE = 13


class AuthMethod(IntEnum):
    """RFC 7296 §3.8, RFC 7427 §3."""

    RSA_DIGITAL_SIGNATURE = 1
    SHARED_KEY_MIC = 2
    DSS_DIGITAL_SIGNATURE = 3
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    DIGITAL_SIGNATURE = 14


class NotifyType(IntEnum):
    """RFC 7296 §3.10.1 error (1-16383) and status (16384-) types used by
    RKMP, plus RKMP_SUPPORTED (DESIGN.md §2)."""

    # Errors.
    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    # Status.
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    MULTIPLE_AUTH_SUPPORTED = 16404
    REDIRECT_SUPPORTED = 16406
    CHILDLESS_IKEV2_SUPPORTED = 16418  # RFC 6023
    EAP_ONLY_AUTHENTICATION = 16417
    IKEV2_FRAGMENTATION_SUPPORTED = 16430  # RFC 7383
    SIGNATURE_HASH_ALGORITHMS = 16431  # RFC 7427
    # RKMP: first private-use status type (DESIGN.md §2).
    RKMP_SUPPORTED = 40960


NOTIFY_ERROR_MAX = 16383  # RFC 7296 §3.10.1: types below 16384 are errors


class HashAlgorithm(IntEnum):
    """RFC 7427 §4 "IKEv2 Hash Algorithms" (SIGNATURE_HASH_ALGORITHMS)."""

    SHA1 = 1
    SHA2_256 = 2
    SHA2_384 = 3
    SHA2_512 = 4
    IDENTITY = 5


def protocol_name(protocol: int) -> str:
    """A readable name for a Protocol ID, known or not."""
    try:
        return ProtocolId(protocol).name
    except ValueError:
        return f"PROTOCOL_{protocol}"
