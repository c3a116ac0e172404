#!/bin/sh
# /init of the rkmp-frr VM lab guest (PID 1, from the initramfs).
# Mount the kernel file systems, bring lo up, run the Python test runner
# (which reports on ttyS1 and powers off), and power off here if it did not.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONPATH=/opt/rkmp/src
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
hostname rkmp-vmlab
ip link set lo up
/opt/rkmp/venv/bin/python3 -m integration.vmlab.guest.runner
echo "rkmp-vmlab: runner exited with status $?, powering off"
echo o > /proc/sysrq-trigger
sleep 30
