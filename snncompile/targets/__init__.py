"""Targets: the interface every target plugin implements (``target``), finding the plugins (``plugins``), chip
descriptions (``chips``: limits, precisions; ``description``: energy per operation), core mapping (``connectivity``,
``kernels``, ``mapping``) and resource reports (``resources``). The plugins themselves live in ``targets/`` at the
top of the repository (docs/targets.md)."""
