"""The README's main command until the daemon exists."""

from __future__ import annotations

import pytest

from rkmp_frr import selfcheck
from rkmp_frr.crypto import AuthenticationError
from rkmp_frr.wire import Identity


@pytest.mark.parametrize("proposal", selfcheck.SUITES)
def test_both_sides_agree_for_every_suite(proposal: str) -> None:
    init = selfcheck.run_sa_init(proposal)
    assert init.keys_i == init.keys_r
    assert init.keys_i.sk_d != init.keys_r.sk_pi  # distinct slices of KEYMAT
    assert "ok" in selfcheck.check_suite(proposal)


def test_wrong_psk_is_refused() -> None:
    init = selfcheck.run_sa_init(selfcheck.SUITES[0])
    identity = Identity.from_text("r1.example.net")
    datagram = selfcheck.auth_request(init, b"a" * 32, identity)
    assert selfcheck.verify_auth_request(init, b"a" * 32, datagram) == identity
    with pytest.raises(AuthenticationError):
        selfcheck.verify_auth_request(init, b"b" * 32, datagram)


def test_main_reports_all_passed(capsys: pytest.CaptureFixture[str]) -> None:
    assert selfcheck.main() == 0
    out = capsys.readouterr().out
    assert f"{len(selfcheck.SUITES)} passed, 0 failed" in out
