"""Reusable test harness: namespaces, processes, captures, pcap files, peers.

Nothing here is product code: it drives real daemons and tools so tests can
compare the project's output with independent implementations.
"""
