"""The former name of :mod:`fastnn.data`, kept so that ``fastnn.datasets.mnist()`` and every
other name it had go on working: the same objects, from the same place."""

from .data import *  # noqa: F403
from .data import __all__  # noqa: F401
