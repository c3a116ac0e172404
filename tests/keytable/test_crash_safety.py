"""Crash safety: a writer process is SIGKILLed at random moments, 200
times, while it inserts, rekeys and deletes. Every time, the table must
open, pass ``PRAGMA integrity_check``, and hold exactly the state before or
after each operation (checked against a model of every operation; see
``keytable_crash_writer``), never a mix, and never lose a logged-complete one.

Most writers are forked from this process (already imported, so each
iteration costs milliseconds); some are started as fresh interpreters
running ``keytable_crash_writer.py``, killed anywhere from import to the loop.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from keytable_crash_writer import Model, apply_to_model, op_for, run_writer, state

from rkmp_frr.keytable.store import KeyTableStore

KILLS = 200
SEED = 20240607
WRITER = Path(__file__).with_name("keytable_crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]


def _forked_writer(
    db: Path, journal: Path, start: int, errors: Path, batch: int
) -> tuple[int, int]:
    """Fork a writer; returns its pid and the read end of its ready pipe."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: never returns into pytest
        os.close(ready_r)
        try:
            run_writer(str(db), str(journal), start, ready_w, batch)
        except BaseException:
            errors.write_text(traceback.format_exc())
        os._exit(3)
    os.close(ready_w)
    return pid, ready_r


def _spawned_writer(db: Path, journal: Path, start: int, batch: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(journal), str(start), str(batch)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
    )


def _journal(journal: Path) -> tuple[str, int, int] | None:
    """The last completely written journal line: ("b" | "d", first op
    index, operations)."""
    lines = journal.read_text().split("\n")[:-1] if journal.exists() else []
    if not lines:
        return None
    kind, index, count = lines[-1].split()
    return kind, int(index), int(count)


def _wait_for_done(journal: Path, count: int, timeout: float = 10.0) -> None:
    """Until the writer has logged ``count`` finished operations."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = journal.read_text() if journal.exists() else ""
        if text.count("d ") >= count:
            return
        time.sleep(0.0005)
    raise AssertionError(f"writer finished fewer than {count} operations in {timeout} s")


def _verify(db: Path, journal: Path, done: int, model: Model) -> tuple[int, Model]:
    """Check the table after a kill; returns the number of operations it
    holds and the model of that state."""
    with KeyTableStore.open(db) as store:
        assert store.integrity_check() == "ok"
        found = state(store.rows())
    last = _journal(journal)
    if last is None:  # killed before logging the first operation
        allowed = [done]
    elif last[0] == "d":
        allowed = [last[1] + last[2]]
    else:  # the operation or batch in flight: all of it or none
        allowed = [last[1], last[1] + last[2]]
    candidates = {done: model}
    for n in range(done, max(allowed)):
        candidates[n + 1] = apply_to_model(candidates[n], op_for(n))
    for n in allowed:
        if found == state(list(candidates[n].values())):
            return n, candidates[n]
    raise AssertionError(
        f"after journal line {last}: the table holds neither the state after "
        f"{allowed[0]} operations nor after {allowed[-1]} ({len(found)} rows)"
    )


def test_sigkill_during_writes_200_times(tmp_path: Path) -> None:
    kill_repeatedly(tmp_path, KILLS, batch=1)


def test_sigkill_during_batched_writes_100_times(tmp_path: Path) -> None:
    """Batches of 1-6 operations in one COMMIT each: after a kill the table
    holds every batch logged complete and all or none of the one in flight."""
    kill_repeatedly(tmp_path, KILLS // 2, batch=6)


def kill_repeatedly(tmp_path: Path, kills: int, batch: int) -> None:
    rng = random.Random(SEED + batch)
    db, journal, errors = tmp_path / "keytable.db", tmp_path / "journal", tmp_path / "errors"
    done, model = 0, Model()
    for kill in range(kills):
        journal.unlink(missing_ok=True)
        if kill < 4 or kill % 50 == 25:
            # A fresh interpreter, killed anywhere from start-up to the loop.
            proc = _spawned_writer(db, journal, done, batch)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate()
            assert proc.returncode == -signal.SIGKILL, stderr.decode()
        else:
            pid, ready = _forked_writer(db, journal, done, errors, batch)
            if rng.random() < 0.1:
                time.sleep(rng.uniform(0.0, 0.004))  # while it opens the table
            else:
                assert select.select([ready], [], [], 10.0)[0], "writer never got ready"
                # Kill after a number of finished operations, not after a
                # time, so that a loaded machine still gets somewhere.
                _wait_for_done(journal, rng.randint(2, 8))
                time.sleep(rng.uniform(0.0, 0.004))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            os.close(ready)
            assert os.WIFSIGNALED(status), errors.read_text() if errors.exists() else status
        done, model = _verify(db, journal, done, model)
    # The writers got somewhere: rekeys, deletes and bulk inserts all ran.
    assert done > kills
