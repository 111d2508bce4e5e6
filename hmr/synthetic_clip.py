"""Moved to ``hmr.synthetic.clip``; this module re-exports its names for old imports."""

from hmr.synthetic.clip import *  # noqa: F401,F403
from hmr.synthetic.clip import __all__  # noqa: F401
from hmr.synthetic.clip import _view_rotation  # noqa: F401 (not in __all__, used by old imports)
