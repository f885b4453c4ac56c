"""KFP v2 lightweight components: parse inputs, call ``shopfloor``, write artifacts; nothing more.

Every component runs in the one Shopfloor image (``IMAGE``), which already has ``shopfloor`` and
``kfp`` installed, so no component installs packages at run time.
"""

import os

IMAGE = os.environ.get("SHOPFLOOR_IMAGE", "localhost:32000/shopfloor-python:0.1.0")
