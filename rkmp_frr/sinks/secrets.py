"""How the sinks show text that may hold secrets: :func:`mask_secrets`,
the one function every text taken from FRR or BIRD goes through before it
is put into an exception, a log line or ``rkmpctl status``.

Key material never appears in those, whoever's key it is. The routing
daemons' tools echo configuration lines: vtysh the lines it refuses,
frr-reload.py the lines it removes and adds and the file it fails on (as
Python reprs, several commands to a line), birdc the statements it
rejects. Those lines hold rkmpd's keys, and the operator's own passwords
too (``neighbor X password``, ``ip ospf message-digest-key``, a key
chain's ``key-string``, BIRD's ``password "..."``), which rkmpd has no
list of. So a text is masked three ways, in this order:

1. rkmpd's own keys (``keys``, known exactly) become :func:`mask_key`
   fingerprints, so that two messages can be seen to name the same key.
   Only rkmpd's keys get a fingerprint: they are random, so a short hash
   tells nothing about them, while an operator's password may be a word a
   hash would let an attacker confirm by guessing.
2. Other secrets known exactly (``known``: the operator's, read out of a
   configuration by :func:`config_secrets`) become ``<hidden>`` wherever
   they stand, also where the tool split a line (pprint wraps long lines
   of frr-reload.py's log at spaces).
3. Whatever follows a keyword that introduces a secret in an FRR 8.4 or
   BIRD 2 configuration line, up to the end of the line, becomes
   ``<hidden>`` (everything after it on the line: frr-reload.py prints
   several commands to a line, and hiding too much is the safe side).

The keywords (:data:`SECRET_INTRO`), FRR 8.4: ``password`` and every word
ending in it (``neighbor X password`` of bgpd and ldpd, ``isis password``,
``area-password``, ``domain-password``, vtysh's ``[enable] password``),
``key-string`` (key chains), ``authentication-key`` (``ip ospf``, OSPF
virtual links), ``message-digest-key N md5``, ``hash-algo ALG key``
(``ipv6 ospf6 authentication key-id``), ``authentication string`` (ripd),
``tcp-md5-auth`` (pathd's PCEP). BIRD 2: ``password`` (BGP, OSPF, RIP,
Babel, BFD) and ``secret`` (a TCP-AO key, BIRD >= 2.17). Keywords are
matched as configuration words, in lower case: BIRD's message "Password
ID must be in range 0-255" keeps its words.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable

HIDDEN = "<hidden>"
_MASK = re.compile(r"<key:\d+B:[0-9a-f]{8}>")

SECRET_INTRO = re.compile(
    r"""(?<![\w-])(?:
        [\w-]*password                  # bgpd, ldpd, isisd, vtysh; BIRD
      | key-string                      # key chains
      | authentication-key              # ip ospf, OSPF virtual links
      | tcp-md5-auth                    # pathd (PCEP)
      | message-digest-key\s+\S+\s+md5  # ip ospf, OSPF virtual links
      | hash-algo\s+\S+\s+key           # ipv6 ospf6 authentication key-id
      | authentication\s+string         # ripd
      | secret                          # BIRD TCP-AO keys
    )(?![\w-])""",
    re.VERBOSE,
)
"""Where a secret starts: it is the rest of the line after a match."""

# Words after a keyword that are not the secret (its type or options).
_NOT_SECRET = frozenset({"md5", "clear", "7", "8", "authenticate", "snp", "send-only", "validate"})
_QUOTED = re.compile(r'"([^"\n]*)"')
_PUNCTUATION = " \t\"';{},[]"


def mask_key(key_hex: str) -> str:
    """One of rkmpd's keys as it may be shown: its length and a short
    fingerprint, so two renderings can be seen to hold the same key."""
    digest = hashlib.sha256(key_hex.encode("ascii")).hexdigest()[:8]
    return f"<key:{len(key_hex) // 2}B:{digest}>"


def mask_secrets(text: str, keys: Iterable[str] = (), known: Iterable[str] = ()) -> str:
    """``text`` (a tool's output, a configuration line, a message built
    from them) with every secret in it masked: ``keys`` (rkmpd's) as
    fingerprints, ``known`` (others', e.g. :func:`config_secrets` of the
    configuration the tool worked on) and whatever follows a secret
    keyword as ``<hidden>``. Mask before joining lines or cutting a text
    short: the keyword rule works per line, and a secret cut in half is no
    longer found."""
    for key in sorted(set(keys), key=len, reverse=True):
        if key:
            text = text.replace(key, mask_key(key))
    for value in sorted(set(known), key=len, reverse=True):
        if value and value != HIDDEN and not _MASK.fullmatch(value):
            text = _word_pattern(value).sub(HIDDEN, text)
    return "".join(_hide_after_keyword(line) for line in text.splitlines(keepends=True))


def config_secrets(config: str) -> frozenset[str]:
    """The secret values of a configuration (FRR's running config, a file
    for frr-reload.py, a BIRD configuration): for each line with a secret
    keyword, the rest of the line, its quoted strings and its words other
    than key types, options and addresses, so that each is found again
    in output that splits or quotes the line differently."""
    found: set[str] = set()
    for line in config.splitlines():
        match = SECRET_INTRO.search(line)
        if match is None:
            continue
        rest = line[match.end() :].strip().rstrip(";{ \t")
        if not rest:
            continue
        found.add(rest)
        found.update(_QUOTED.findall(rest))
        found.update(word.strip(_PUNCTUATION) for word in rest.split() if _secret_word(word))
    return frozenset(v for v in found if v and v != HIDDEN and not _MASK.fullmatch(v))


def _secret_word(word: str) -> bool:
    word = word.strip(_PUNCTUATION)
    if word in _NOT_SECRET:
        return False
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return True
    return False


def _word_pattern(value: str) -> re.Pattern[str]:
    """``value`` where it stands as a whole (not inside a longer word)."""
    pattern = re.escape(value)
    if re.match(r"\w", value):
        pattern = r"(?<!\w)" + pattern
    if re.search(r"\w$", value):
        pattern += r"(?!\w)"
    return re.compile(pattern)


def _hide_after_keyword(line: str) -> str:
    match = SECRET_INTRO.search(line)
    if match is None:
        return line
    body = line.rstrip("\r\n")
    end = line[len(body) :]
    rest = body[match.end() :]
    shown = rest.strip(_PUNCTUATION)
    if not shown or shown == HIDDEN or _MASK.fullmatch(shown):
        return line  # nothing, or only what is masked already
    return f"{body[: match.end()]} {HIDDEN}{end}"
