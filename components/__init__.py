"""KFP v2 lightweight components: parse inputs, call ``shopfloor``, write artifacts; nothing more.

Every component runs in the one Shopfloor image (``shopfloor.constants.IMAGE``), which already has
``shopfloor`` and ``kfp`` installed, so no component installs packages at run time. The step functions
they call report their own progress and results (``shopfloor.progress``).
"""

from shopfloor.constants import IMAGE

__all__ = ["IMAGE"]
