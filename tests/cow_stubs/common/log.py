"""Stand-in for CoW's ``common.log``: its one logger."""

import logging

logger = logging.getLogger("cow")
