"""``show running-config`` as FRR 8.4.4 (Debian 12) printed it, recorded
in a network namespace (zebra, bgpd, ospfd, ospf6d; log file paths
shortened): daemons just started, part of the operator's configuration
loaded, all of it loaded (with rkmpd's OSPFv3 key chain)."""

from __future__ import annotations

_PREAMBLE = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r1
log file /var/log/frr/zebra.log
no ip forwarding
no ipv6 forwarding
log file /var/log/frr/ospfd.log
log file /var/log/frr/ospf6d.log
log file /var/log/frr/bgpd.log
hostname vm
service integrated-vtysh-config
!
"""

BARE = _PREAMBLE + "end\n"

PARTIAL = (
    _PREAMBLE
    + """router bgp 65001
 bgp router-id 10.250.0.1
 neighbor 10.250.0.2 remote-as 65002
exit
!
bgp as-path access-list op seq 5 permit ^65002$
!
end
"""
)

OPERATOR_SECRETS = ("operator-secret", "opkey")
RKMPD_CHAIN_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

FULL = (
    _PREAMBLE
    + f"""key chain rkmp-ospf6-veth0
 key 1
  accept-lifetime 00:00:00 Jan 01 2026 infinite
  cryptographic-algorithm hmac-sha-256
  key-string {RKMPD_CHAIN_KEY}
  send-lifetime 00:00:00 Jan 01 2026 infinite
 exit
exit
!
interface veth0
 ip ospf area 0
 ip ospf message-digest-key 1 md5 opkey
 ipv6 ospf6 area 0
 ipv6 ospf6 authentication keychain rkmp-ospf6-veth0
exit
!
router bgp 65001
 bgp router-id 10.250.0.1
 neighbor PG peer-group
 neighbor PG remote-as 65003
 neighbor 10.250.0.3 peer-group PG
 neighbor 10.250.0.2 remote-as 65002
 neighbor 10.250.0.2 password operator-secret
 neighbor 10.250.0.2 timers connect 1
 !
 address-family ipv4 unicast
  network 10.1.0.0/24
 exit-address-family
exit
!
router ospf
 ospf router-id 1.1.1.1
exit
!
router ospf6
 ospf6 router-id 1.1.1.1
exit
!
bgp as-path access-list op seq 5 permit ^65002$
!
end
"""
)

# frr-reload.py --reload --stdout (FRR 8.4.4) on stderr, for a file without
# six of the running lines (an as-path list, an interface's authentication,
# "no bgp ebgp-requires-policy", a description, a password, a network);
# paths shortened, vtysh's complaints about vtysh.conf left out.
RELOAD_LOG = """\
2026-11-28 07:58:29,656  INFO: Called via "Namespace(input=None, reload=True, test=False, \
debug=False, log_level='info', stdout=True, pathspace=None, filename='/tmp/rkmp-frr-x/frr.conf', \
overwrite=False, bindir='/usr/bin', confdir='/tmp/rkmp-frr-x', rundir='/var/run/frr', \
vty_socket='/run/frr/r1', daemon='', test_reset=False)"
2026-11-28 07:58:29,656  INFO: Loading Config object from file /tmp/rkmp-frr-x/frr.conf
2026-11-28 07:58:29,703  INFO: Loading Config object from vtysh show running
2026-11-28 07:58:29,775  INFO: Executed "no bgp as-path access-list op seq 5 permit ^1$"
2026-11-28 07:58:29,801  INFO: Executed "interface veth0  no ip ospf authentication message-digest"
2026-11-28 07:58:29,827  INFO: Executed "router bgp 65001  bgp ebgp-requires-policy"
2026-11-28 07:58:29,852  INFO: Executed "router bgp 65001  no neighbor 10.250.0.2 description \
op "x""
2026-11-28 07:58:29,878  INFO: Executed "router bgp 65001  no neighbor 10.250.0.2 password 4455"
2026-11-28 07:58:29,910  INFO: Executed "router bgp 65001  address-family ipv4 unicast   \
no network 10.9.0.0/24 "
2026-11-28 07:58:29,910  INFO: /var/run/frr/reload-UN5ZL4.txt content
['service integrated-vtysh-config\\n']
2026-11-28 07:58:29,934  INFO: Loading Config object from vtysh show running
2026-11-28 07:58:29,982  INFO: /var/run/frr/reload-DV0OTU.txt content
['service integrated-vtysh-config\\n',
 'router bgp 65001\\n address-family ipv4 unicast\\n',
 'service integrated-vtysh-config\\n']
"""
