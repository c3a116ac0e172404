"""Fixed choices of the VM lab, and the environment variables that move them.

| variable | default | what |
|---|---|---|
| RKMP_VMLAB_CACHE | /var/tmp/rkmp-vmlab | built images, apt lists, .debs, wheels |
| RKMP_VMLAB_MIRROR | the host's Debian mirror (apt sources) | where .debs come from |
| RKMP_VMLAB_ACCEL | auto | tcg, kvm, or auto (KVM only after a real boot worked) |
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RKMP_VMLAB_CACHE"
MIRROR_ENV = "RKMP_VMLAB_MIRROR"
ACCEL_ENV = "RKMP_VMLAB_ACCEL"
DEFAULT_CACHE = Path("/var/tmp/rkmp-vmlab")

SUITE = "trixie"
BACKPORTS = "trixie-backports"
# The cloud kernel of backports has CONFIG_TCP_AO=y (Debian 13's own does
# not). Backports keeps only its newest kernel, so the metapackage is the
# only stable name: its dependencies name the kernel of the day.
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
# Debian packages of the guest, given to debootstrap --include; their
# versions are part of the image's cache key.
GUEST_PACKAGES = (
    "bird2",
    "iproute2",
    "iputils-ping",
    "kmod",
    "procps",
    "python3",
    "python3-venv",
)
# Kernel module directories copied into the guest (plus what they depend on
# and drivers/net/*.ko*: veth, dummy, vrf...). Crypto stays whole because
# XFRM loads algorithms on demand by name.
MODULE_DIRS = ("kernel/net", "kernel/crypto", "kernel/lib", "kernel/arch/x86/crypto")
MODULE_GLOBS = ("kernel/drivers/net/*.ko*",)

# Paths inside the guest.
GUEST_VENV = "/opt/rkmp/venv"
GUEST_SRC = "/opt/rkmp/src"

# Project files copied into the guest's project layer (beside the wheel):
# the integration package (harness, scenarios, guest runner) and the data
# directories later scenarios use.
PROJECT_LAYER_DIRS = ("integration", "templates", "hooks", "etc")


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
