"""A QEMU guest for what the host kernel lacks (TCP-AO, ESP/AH, netem).

Host side: `image` builds (and caches) the guest from Debian packages and
the project's wheel, `qemu` boots it and collects the scenarios' reports;
`python -m integration.vmlab --help` drives both. Guest side: `guest/`
(/init and the runner) and `scenarios/` (one module per scenario). This
package imports nothing at import time, so the guest can import its
submodules with nothing but the standard library present.
"""
