#!/bin/sh
# Example rkmpd hook: act when a peer's keys are revoked (RP_revokeSA).
#
# A revocation means the RKMP SA with the peer failed (liveness timeout,
# authentication failure on re-establishment) or an operator ran
# "rkmpctl revoke": the peer's keys are gone from the key table and from
# the routing daemon. Replace the body with what your site needs (page
# someone, shut the BGP session administratively, raise an alarm...).
set -eu

[ "${RKMP_EVENT}" = "revoke" ] || exit 0

state_dir="${RKMP_ALERT_DIR:-/run/rkmp/alerts}"
mkdir -p "${state_dir}"
printf '%s %s %s reason=%s keys=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "${RKMP_PEER_NAME:-?}" "${RKMP_PEER_ADDRESS:-?}" "${RKMP_REASON:-?}" \
    "${RKMP_KEYS_REVOKED:-0}" >> "${state_dir}/revoked"
