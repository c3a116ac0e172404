"""What FRR 8.4.4 and BIRD 2.0.12 (Debian 12) print when they refuse or
change configuration lines that hold an operator's own passwords, recorded
in network namespaces on this machine (paths shortened): the texts rkmpd
puts into its error messages, masked (``rkmp_frr.sinks.secrets``).

Each ``..._SECRETS`` tuple lists the operator's secrets in the text next
to it; none may survive masking."""

from __future__ import annotations

# The operator's configuration, as `show running-config` printed it after
# `vtysh -f` of a file with these lines (FRR normalised the order).
FRR_RUNNING = """\
Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname a
log file /tmp/frr-a/zebra.log
no ip forwarding
no ipv6 forwarding
service password-encryption
hostname vm
service integrated-vtysh-config
!
password 8 PPJsNXLTC1W3.
enable password 8 JT5Wjj7v5NCXU
!
key chain opchain
 key 1
  key-string op-chain-secret
 exit
exit
!
interface veth0
 ip ospf area 0
 ip ospf authentication-key opauth1
 ip ospf message-digest-key 2 md5 opmd5key
 ip rip authentication string op-rip-string
 ipv6 ospf6 area 0
 ipv6 ospf6 authentication key-id 7 hash-algo hmac-sha-256 key op-ospf6-key
exit
!
router rip
 network veth0
exit
!
router bgp 65001
 neighbor 10.250.0.2 remote-as 65002
 neighbor 10.250.0.3 remote-as 65003
 neighbor 10.250.0.3 password s3cret
exit
!
router ospf
exit
!
router ospf6
exit
!
router isis ONE
 area-password md5 op-area-pw
 domain-password clear op-domain-pw
exit
!
end
"""
FRR_RUNNING_SECRETS = (
    "PPJsNXLTC1W3.",
    "JT5Wjj7v5NCXU",
    "op-chain-secret",
    "opauth1",
    "opmd5key",
    "op-rip-string",
    "op-ospf6-key",
    "s3cret",
    "op-area-pw",
    "op-domain-pw",
)

# `vtysh -f` of lines ospfd, isisd and bgpd refused (stdout, then stderr).
VTYSH_REFUSED = """\
% Configuration failed.

Error type: validation
Error description: YANG error(s):
 Mandatory node "area-tag" instance does not exist.
 YANG path: Schema location "/frr-interface:lib/interface/frr-isisd:isis/area-tag".

The following commands were dynamically grouped into the same transaction and rejected:
-  isis password md5 op-isis-if
Configuring VLs over the backbone is not allowed
% Specify remote-as or peer-group commands first
line 2: Failure to communicate[13] to bgpd, line:  neighbor 10.250.0.9 password typo-secret

line 3: % Unknown command[25]:  neighbor 10.250.0.2 pasword s3cret-typo
line 6: % Unknown command[17]:  ip ospf message-digest-key 300 md5 toolong-id-secret
line 18: % Unknown command[25]:  neighbor 10.250.0.2 password op bgp pass
line 24: Failure to communicate[13] to ospfd, line:  area 0 virtual-link 1.1.1.1 \
authentication-key opvlink
"""
# (bgpd takes no password with spaces: "op bgp pass" is refused whole. The
# misspelt "pasword" is no keyword: nothing can tell that its value is a
# secret, so it is not in the list.)
VTYSH_REFUSED_SECRETS = (
    "op-isis-if",
    "typo-secret",
    "toolong-id-secret",
    "op bgp pass",
    "opvlink",
)

# `frr-reload.py --reload --stdout` of a file that changes two operator
# passwords and adds a neighbour bgpd refuses (exit status 1). Its log
# shows the lines it removes ('Executed "... no ..."') and, through pprint,
# the lines it adds.
RELOAD_FAILED = """\
% Specify remote-as or peer-group commands first
% Specify remote-as or peer-group commands first
% Specify remote-as or peer-group commands first
2026-11-28 08:21:24,572  INFO: Called via "Namespace(input=None, reload=True, test=False, \
debug=False, log_level='info', stdout=True, pathspace=None, filename='/tmp/rkmp-frr-x/frr.conf', \
overwrite=False, bindir='/usr/bin', confdir='/tmp/rkmp-frr-x', rundir='/var/run/frr', \
vty_socket='/tmp/frr-a', daemon='', test_reset=False)"
2026-11-28 08:21:24,572  INFO: Loading Config object from file /tmp/rkmp-frr-x/frr.conf
% Can't open configuration file /tmp/rkmp-frr-x/vtysh.conf due to 'No such file or directory'.
2026-11-28 08:21:24,618  INFO: Loading Config object from vtysh show running
% Can't open configuration file /tmp/rkmp-frr-x/vtysh.conf due to 'No such file or directory'.
2026-11-28 08:21:24,689  INFO: Executed "interface veth0  no ip ospf authentication-key opauth1"
2026-11-28 08:21:24,714  INFO: Executed "router bgp 65001  no neighbor 10.250.0.3 password s3cret"
2026-11-28 08:21:24,714  INFO: /var/run/frr/reload-TJLLL5.txt content
['interface veth0\\n ip ospf authentication-key opauth2\\n',
 'router bgp 65001\\n neighbor 10.250.0.3 password n3w-s3cret\\n',
 'router bgp 65001\\n neighbor 10.250.0.9 password orphan-secret\\n',
 'service integrated-vtysh-config\\n']
% Can't open configuration file /tmp/rkmp-frr-x/vtysh.conf due to 'No such file or directory'.
line 8: Failure to communicate[13] to bgpd, line:  neighbor 10.250.0.9 password orphan-secret

2026-11-28 08:21:24,745 \x1b[91mWARNING\x1b[0m: frr-reload.py failed due to
vtysh (exec file) exited with status 13
"""
RELOAD_FAILED_SECRETS = ("opauth1", "s3cret", "opauth2", "n3w-s3cret", "orphan-secret")

# A successful reload of a key chain's key-string and a neighbour's password:
# pprint wraps a line longer than its width at a space, so a password can
# stand alone on a line of its own, far from its keyword.
RELOAD_WRAPPED = """\
2026-11-28 08:21:25,057  INFO: Executed "key chain opchain  key 1   no key-string op-chain-secret"
2026-11-28 08:24:32,699  INFO: Executed "router bgp 65001  no neighbor \
2001:db8:1234:5678:9abc:def0:1234:5678 password \
averyveryverylongoperatorpasswordvalue1234567890abcdef"
2026-11-28 08:24:32,699  INFO: /var/run/frr/reload-7INZOI.txt content
['router bgp 65001\\n'
 ' neighbor 2001:db8:1234:5678:9abc:def0:1234:5678 password '
 'anotherveryverylongoperatorpasswordvalue0987654321fedcba\\n',
 'key chain opchain\\n key 1\\n  key-string op-chain-secret2\\n',
 'service integrated-vtysh-config\\n']
"""
RELOAD_WRAPPED_SECRETS = (
    "op-chain-secret",
    "averyveryverylongoperatorpasswordvalue1234567890abcdef",
    "anotherveryverylongoperatorpasswordvalue0987654321fedcba",
    "op-chain-secret2",
)
# The file frr-reload.py was given for RELOAD_WRAPPED (its running config
# with the new passwords), in the part that matters.
RELOAD_WRAPPED_FILE = """\
key chain opchain
 key 1
  key-string op-chain-secret2
 exit
exit
!
router bgp 65001
 neighbor 2001:db8:1234:5678:9abc:def0:1234:5678 remote-as 65002
 neighbor 2001:db8:1234:5678:9abc:def0:1234:5678 password \
anotherveryverylongoperatorpasswordvalue0987654321fedcba
exit
"""

# BIRD 2.0.12: an operator's bird.conf with passwords, and what `birdc
# configure check` answers about statements around them (BIRD names the
# place, not the value; its own words must stay readable).
BIRD_CONFIG = """\
protocol bgp b1 {
  local 10.250.0.1 as 65001;
  neighbor 10.250.0.2 as 65002;
  password "op-bird-secret";
  ipv4 { import none; export none; };
}
protocol ospf v2 o1 {
  area 0 {
    interface "veth0" {
      authentication cryptographic;
      password "op-ospf-secret" { id 1; algorithm hmac sha256; };
    };
  };
}
"""
BIRD_CONFIG_SECRETS = ("op-bird-secret", "op-ospf-secret")
BIRD_CHECK_ANSWERS = (
    "BIRD 2.0.12 ready.\nReading configuration from /tmp/bird-a/bird.conf\n"
    "/tmp/inc.conf:1:74 syntax error, unexpected CF_SYM_UNDEFINED,"
    " expecting CF_SYM_KNOWN or TEXT\n",
    "BIRD 2.0.12 ready.\nReading configuration from /tmp/bird-a/bird.conf\n"
    "/tmp/inc.conf:1:116 Password ID must be in range 0-255\n",
)
