"""Integration tests: real peers (strongSwan, tshark, later FRR/BIRD) in network namespaces."""
