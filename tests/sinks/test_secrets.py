"""Secrets never leave through a message (rkmp_frr.sinks.secrets): rkmpd's
keys become fingerprints, anyone else's passwords ``<hidden>``, in every
text the sinks take from FRR or BIRD. On output recorded from FRR 8.4.4 and
BIRD 2.0.12 (tests/sinks/daemon_output.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus
from rkmp_frr.sinks.frr_apply import DEFAULT_FRR_RELOAD
from rkmp_frr.sinks.frr_readiness import shown_line
from rkmp_frr.sinks.keyed import KeyedState
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.sinks.secrets import HIDDEN, config_secrets, mask_key, mask_secrets

from .daemon_output import (
    BIRD_CHECK_ANSWERS,
    BIRD_CONFIG,
    BIRD_CONFIG_SECRETS,
    FRR_RUNNING,
    FRR_RUNNING_SECRETS,
    RELOAD_FAILED,
    RELOAD_FAILED_SECRETS,
    RELOAD_WRAPPED,
    RELOAD_WRAPPED_FILE,
    RELOAD_WRAPPED_SECRETS,
    VTYSH_REFUSED,
    VTYSH_REFUSED_SECRETS,
)
from .sink_rows import PEER, T0
from .test_bird_apply import FakeBirdc
from .test_bird_apply import applier as bird_applier
from .test_bird_apply import md5 as bird_md5
from .test_frr_apply import KEY_1, FakeBgpd, applier, md5
from .test_frr_reload_phases import ReloadingBgpd, reload_applier

RKMPD_KEY = "00112233445566778899aabbccddeeff"


def test_mask_key_is_a_fingerprint() -> None:
    assert mask_key(RKMPD_KEY).startswith("<key:16B:")
    assert RKMPD_KEY not in mask_key(RKMPD_KEY)
    assert mask_key(RKMPD_KEY) == mask_key(RKMPD_KEY) != mask_key("ff" * 16)


# One line per keyword, as FRR 8.4 / BIRD 2 print it, and the part that
# must be left: the keyword and what comes before it.
KEYWORD_LINES = [
    (" neighbor 10.250.0.3 password s3cret", " neighbor 10.250.0.3 password"),
    ("password 8 PPJsNXLTC1W3.", "password"),
    ("enable password 8 JT5Wjj7v5NCXU", "enable password"),
    ("  key-string op-chain-secret", "  key-string"),
    (" ip ospf authentication-key opauth1", " ip ospf authentication-key"),
    (" ip ospf message-digest-key 2 md5 opmd5key", " ip ospf message-digest-key 2 md5"),
    (" ip rip authentication string op-rip-string", " ip rip authentication string"),
    (
        " ipv6 ospf6 authentication key-id 7 hash-algo hmac-sha-256 key op-ospf6-key",
        " ipv6 ospf6 authentication key-id 7 hash-algo hmac-sha-256 key",
    ),
    (" area-password md5 op-area-pw", " area-password"),
    (" domain-password clear op-domain-pw", " domain-password"),
    ("-  isis password md5 op-isis-if", "-  isis password"),
    (
        "line 24: Failure to communicate[13] to ospfd, line:  area 0 virtual-link 1.1.1.1"
        " authentication-key opvlink",
        "line 24: Failure to communicate[13] to ospfd, line:  area 0 virtual-link 1.1.1.1"
        " authentication-key",
    ),
    ("    tcp-md5-auth op-pcep-secret", "    tcp-md5-auth"),
    ('  password "op-bird-secret";', "  password"),
    (
        '      password "op-ospf-secret" { id 1; algorithm hmac sha256; };',
        "      password",
    ),
    ('\t\t\tsecret "op-ao-secret";', "\t\t\tsecret"),  # BIRD >= 2.17, TCP-AO
]


@pytest.mark.parametrize(("line", "kept"), KEYWORD_LINES)
def test_the_value_after_each_secret_keyword_is_hidden(line: str, kept: str) -> None:
    assert mask_secrets(line) == f"{kept} {HIDDEN}"


def test_lines_without_a_secret_keep_their_words() -> None:
    for line in (
        "service password-encryption",
        "  cryptographic-algorithm md5",
        " ip ospf authentication message-digest",
        " ipv6 ospf6 authentication keychain rkmp-ospf6-veth0",
        "/tmp/inc.conf:1:116 Password ID must be in range 0-255",
        "line 3: % Unknown command[25]:  neighbor 10.250.0.2 pasword s3cret-typo",
        " neighbor 10.250.0.2 password",  # an "is absent" expectation: no value
    ):
        assert mask_secrets(line) == line


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        (FRR_RUNNING, FRR_RUNNING_SECRETS),
        (VTYSH_REFUSED, VTYSH_REFUSED_SECRETS),
        (RELOAD_FAILED, RELOAD_FAILED_SECRETS),
        (BIRD_CONFIG, BIRD_CONFIG_SECRETS),
    ],
    ids=["running-config", "vtysh-refused", "frr-reload-failed", "bird-config"],
)
def test_recorded_output_keeps_no_operator_secret(text: str, secrets: tuple[str, ...]) -> None:
    masked = mask_secrets(text)
    for secret in secrets:
        assert secret not in masked, secret
    # The rest is still there to read.
    assert masked.count("\n") == text.count("\n")
    for words in ("neighbor 10.250.0.3", "Failure to communicate", "interface", "protocol"):
        if words in text:
            assert words in masked


def test_a_password_wrapped_onto_its_own_line_is_hidden_when_known() -> None:
    """pprint (frr-reload.py's log) put the long password alone on a line:
    the keyword rule cannot see it, the configuration the tool was given
    names it."""
    assert RELOAD_WRAPPED_SECRETS[2] in mask_secrets(RELOAD_WRAPPED)  # the line alone
    known = config_secrets(RELOAD_WRAPPED_FILE)
    masked = mask_secrets(RELOAD_WRAPPED, known=known)
    for secret in RELOAD_WRAPPED_SECRETS:
        assert secret not in masked, secret
    assert "2001:db8:1234:5678:9abc:def0:1234:5678" in masked  # addresses stay


def test_config_secrets_reads_the_values_only() -> None:
    found = config_secrets(FRR_RUNNING)
    assert set(FRR_RUNNING_SECRETS) <= found
    for not_secret in ("md5", "clear", "8", "2", "10.250.0.3", "hmac-sha-256", "veth0"):
        assert not_secret not in found
    assert set(BIRD_CONFIG_SECRETS) <= config_secrets(BIRD_CONFIG)


def test_rkmpd_keys_are_fingerprinted_and_others_hidden() -> None:
    text = (
        f"line 2: % Unknown command: neighbor 10.250.0.2 passwrd {RKMPD_KEY}\n"
        f" neighbor 10.250.0.2 password {RKMPD_KEY}\n"
        f'\tpassword "{RKMPD_KEY}";\n'
        " neighbor 10.250.0.3 password s3cret\n"
    )
    masked = mask_secrets(text, keys=[RKMPD_KEY])
    assert RKMPD_KEY not in masked and "s3cret" not in masked
    assert masked.count(mask_key(RKMPD_KEY)) == 3  # the misspelt line too
    assert "password s3cret" not in masked and f"password {HIDDEN}" in masked


def test_a_known_secret_is_hidden_as_a_whole_word_only() -> None:
    masked = mask_secrets("% key chain opchain: key 1 uses op1; op12 and xop1", known=["op1"])
    assert masked == f"% key chain opchain: key 1 uses {HIDDEN}; op12 and xop1"


def test_bird_s_messages_stay_readable() -> None:
    for answer in BIRD_CHECK_ANSWERS:
        assert mask_secrets(answer) == answer


def test_describe_masks_before_it_cuts_the_output_short() -> None:
    """A secret across the cut: the half before it must not show either."""
    padding = "x" * 380
    output = f"{padding}\n neighbor 10.0.0.1 password s3cr3tvalue"
    result = CommandResult(("vtysh",), 13, "", output)
    shown = result.describe(limit=400)
    assert "s3cr" not in shown
    own = CommandResult(("vtysh",), 13, "", f"{padding} {RKMPD_KEY}")
    assert RKMPD_KEY[:8] not in own.describe(limit=400, keys=[RKMPD_KEY])


def test_readiness_lines_are_masked_the_same_way() -> None:
    context = ("key chain opchain", "key 1")
    assert shown_line((context, ("key-string", "op-chain-secret"))) == (
        f"key chain opchain / key 1 / key-string {HIDDEN}"
    )


_SECRET_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s.strip(" \t\"';{},[]") != "")


@settings(max_examples=150, deadline=None)
@given(secret=_SECRET_TEXT, keyword=st.sampled_from([k for _, k in KEYWORD_LINES]))
def test_nothing_after_a_keyword_survives(secret: str, keyword: str) -> None:
    masked = mask_secrets(f"{keyword} {secret}\nnext line")
    assert masked == f"{keyword} {HIDDEN}\nnext line"


@settings(max_examples=150, deadline=None)
@given(secret=_SECRET_TEXT.filter(lambda s: s == s.strip() and "\n" not in s))
def test_a_configured_secret_is_found_again_wherever_it_stands(secret: str) -> None:
    known = config_secrets(f" neighbor 10.0.0.1 password {secret}\n")
    masked = mask_secrets(f"'{secret}\\n',\n {secret} \n{secret}", known=known)
    assert secret not in masked.replace(HIDDEN, "")


# --- the appliers' messages ---------------------------------------------------------------


def _everything(result: ApplyResult, caplog: pytest.LogCaptureFixture) -> str:
    """Every text an apply leaves for an operator: the result (its log
    line, as ``rkmpctl status`` shows it) and what was logged meanwhile."""
    fields = (result.describe(), result.error or "", result.restore_error or "", caplog.text)
    return "\n".join(fields)


def test_a_failed_frr_reload_shows_what_failed_and_no_operator_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """frr-reload.py removes and adds operator lines (their configuration
    changed under it) and fails: its log, with their passwords, is what the
    error quotes; and what it removed that was not rkmpd's is logged."""
    fake = ReloadingBgpd()
    frr = reload_applier(fake)
    frr.keyed = KeyedState("frr")

    def failing(text: str) -> CommandResult:
        return CommandResult((DEFAULT_FRR_RELOAD,), 1, "", RELOAD_FAILED)

    fake.reload = failing  # type: ignore[method-assign]
    caplog.set_level(logging.INFO)
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert not result.ok, result.describe()
    shown = _everything(result, caplog)
    for secret in (*RELOAD_FAILED_SECRETS, KEY_1):
        assert secret not in shown, secret
    # What failed is in the message, not frr-reload.py's arguments.
    assert "Specify remote-as" in (result.error or "") and "Executed" in (result.error or "")
    assert "Called via" not in shown and "\x1b[" not in shown
    assert "removed 2 line(s) that are not rkmpd's" in caplog.text


def test_lines_vtysh_refuses_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBgpd()
    frr = applier(fake)

    async def refusing(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if "--dryrun" in argv:
            return CommandResult(tuple(argv), 2, "", VTYSH_REFUSED)
        return await fake(argv, input_text=input_text, timeout=timeout)

    frr.runner = refusing
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    shown = _everything(result, caplog)
    for secret in (*VTYSH_REFUSED_SECRETS, KEY_1):
        assert secret not in shown, secret
    assert "vtysh rejected the change" in shown and "Configuration failed" in shown


def test_birdc_answers_are_masked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    fake.check_error = 'syntax error near password "op-bird-secret";'
    bird = bird_applier(tmp_path, fake)
    result = asyncio.run(bird.apply([bird_md5(1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    shown = _everything(result, caplog)
    assert "op-bird-secret" not in shown and f"password {HIDDEN}" in shown
