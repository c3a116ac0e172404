#!/bin/sh
# Example rkmpd hook: one syslog line per RKMP event.
#
# Install: copy into hooks_dir (default /etc/rkmp/hooks.d), chmod 0755.
# rkmpd runs every executable there, in name order, for each event, with
# the event in RKMP_* environment variables (docs/rkmpd.md lists them).
# Hooks never receive key material.
set -eu

msg="${RKMP_EVENT} peer=${RKMP_PEER_NAME:-?} address=${RKMP_PEER_ADDRESS:-?}"
[ -n "${RKMP_PROTOCOL:-}" ] && msg="${msg} protocol=${RKMP_PROTOCOL}"
[ -n "${RKMP_LOCAL_KEY_ID:-}" ] && msg="${msg} key_id=${RKMP_LOCAL_KEY_ID}/${RKMP_REMOTE_KEY_ID:-}"
[ -n "${RKMP_OLD_LOCAL_KEY_ID:-}" ] && msg="${msg} old_key_id=${RKMP_OLD_LOCAL_KEY_ID}"
[ -n "${RKMP_REASON:-}" ] && msg="${msg} reason=${RKMP_REASON}"

if command -v logger >/dev/null 2>&1; then
    logger -t rkmpd-hook -- "${msg}"
else
    echo "${msg}"
fi
