"""The daemon's edges: configuration (``config``), the control protocol
(``control_protocol``) and its command-line client (``rkmpctl``).

Submodules are imported on their own (``from rkmp_frr.daemon.config import
load_config``); this package imports nothing so that each edge loads only
what it needs.
"""
