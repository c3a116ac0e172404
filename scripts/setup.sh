#!/usr/bin/env bash
# Set up a fresh Debian 12/13 machine for rkmp-frr: the Debian packages the
# test suite drives (real peers and tools, never mocks) and a project venv.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests start or call. Names exist on both
# Debian 12 (bookworm) and 13 (trixie).
APT_PACKAGES=(
  iproute2            # ip netns / veth for the test namespaces
  strongswan-charon   # independent IKEv2 peer (charon)
  strongswan-swanctl  # its vici control tool
  libstrongswan-standard-plugins  # x25519, gcm, ...
  tshark              # independent decoder / decryptor of our packets
  frr                 # routing daemons the FRR sink drives (bgpd, ospfd, ospf6d)
  frr-pythontools     # frr-reload.py (the FRR sink's reload mode)
  bird2               # routing daemon the BIRD sink drives
  iputils-ping        # neighbour discovery across test veths (netlink triggers)
  qemu-system-x86     # VM lab guest with a TCP-AO/ESP kernel (integration/vmlab)
  debootstrap         # VM lab: the guest's root file system from Debian packages
  cpio                # VM lab: checks the lab's initramfs writer
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them;" \
         "the integration tests that need them will skip)" >&2
  else
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The tests start their own FRR, BIRD and charon in namespaces: keep the
    # packages' maintainer scripts from starting system-wide daemons.
    guard=/usr/sbin/policy-rc.d
    if [ ! -e "$guard" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
      trap 'rm -f "$guard"' EXIT
    fi
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Install only when pyproject.toml changed since the last successful install.
# editable_mode=compat puts the checkout itself on sys.path: mypyc puts the
# compiled core's shared library (rkmp_frr_core__mypyc) beside the package.
stamp=.venv/.rkmp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e '.[dev]' --config-settings editable_mode=compat; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: pip install failed (log above)" >&2
    exit 1
  fi
  touch "$stamp"
fi

# The protocol core compiled by mypyc (what and why: rkmp_frr/build.py), in
# the tree, rebuilt whenever its sources changed. RKMP_MYPYC=0: pure Python;
# 1: compiled or fail; auto (default): compiled if a C compiler works.
mode=${RKMP_MYPYC:-auto}
remove_core() {
  find rkmp_frr -name '*.so' -delete
  rm -f rkmp_frr_core__mypyc*.so build/core.stamp
}
if [ "$mode" = 0 ]; then
  remove_core
elif ! .venv/bin/python -m rkmp_frr.build fresh; then
  remove_core  # also modules whose source is gone
  mkdir -p build
  log=build/core-build.log
  echo "setup: compiling the protocol core with mypyc (log: $log)"
  if RKMP_MYPYC=$mode .venv/bin/python setup.py build_ext --inplace >"$log" 2>&1 &&
     [ -n "$(find rkmp_frr -name '*.so' -print -quit)" ]; then
    .venv/bin/python -m rkmp_frr.build stamp
  else
    remove_core
    if [ "$mode" = 1 ]; then
      tail -20 "$log" >&2
      echo "setup: RKMP_MYPYC=1 but the core did not compile (log above)" >&2
      exit 1
    fi
    echo "setup: the core runs as pure Python ($(tail -1 "$log"))" >&2
  fi
fi
echo "setup: ok ($(.venv/bin/python --version), core: $(.venv/bin/python -m rkmp_frr.build status))"
