"""``rkmpd --keylog FILE``: Wireshark IKEv2 decryption lines for every RKMP
SA this daemon establishes or rekeys (``rkmp_frr.crypto.keylog_line``).

The operator asks for keys in the clear here, on purpose, for debugging
with tshark (``ikev2_decryption_table``). The file is created 0600 and an
existing file is tightened to 0600; lines are appended, one per SA, and
flushed at once so a capture can be decrypted while the daemon runs.
Routing keys never go here, only the RKMP SA's SK_e/SK_a.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from rkmp_frr.crypto.keylog import keylog_line
from rkmp_frr.crypto.keyschedule import RkmpKeys
from rkmp_frr.crypto.suites import CryptoSuite

log = logging.getLogger(__name__)

FILE_MODE = 0o600


class KeyLog:
    """An append-only key log file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self._fd: int | None = os.open(self.path, flags, FILE_MODE)
        if stat.S_IMODE(os.fstat(self._fd).st_mode) & 0o077:
            os.fchmod(self._fd, FILE_MODE)

    def write(self, spi_i: bytes, spi_r: bytes, keys: RkmpKeys, suite: CryptoSuite) -> None:
        """Append the line for one SA; an unwritable file is logged, not
        fatal (a full disk must not stop key management)."""
        if self._fd is None:
            return
        try:
            line = keylog_line(spi_i, spi_r, keys, suite)
        except KeyError:  # a suite Wireshark has no name for
            log.warning("keylog: no Wireshark name for the suite of SA %s", spi_i.hex())
            return
        try:
            os.write(self._fd, (line + "\n").encode("ascii"))
        except OSError as exc:
            log.error("keylog %s: cannot write: %s", self.path, exc.strerror or exc)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
