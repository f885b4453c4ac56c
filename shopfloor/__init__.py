"""Shopfloor: imbalanced fault detection, health indices and retraining for manufacturing data.

This package holds the algorithms and the platform API. It imports neither KFP nor KServe: the
``components``, ``pipelines`` and ``serving`` packages depend on it, never the other way round.
"""

__version__ = "0.1.0"

from shopfloor import moved as _moved

_moved.install()
