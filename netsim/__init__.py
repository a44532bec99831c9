"""netsim: a discrete-event simulator of CLIP semantic communication over OFDMA.

The system model follows Yang et al., "Contrastive Language-Image Pre-Training Model
based Semantic Communication Performance Optimization" (arXiv 2507.08873).
"""

__version__ = "0.1.0"
