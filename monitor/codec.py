"""The tiltmon profile's codec, now at home in :mod:`monitor.sensors.tiltmon`.

Kept so that existing imports (``from monitor import codec``) go on working; new code imports
the protocol module itself.
"""

from __future__ import annotations

from monitor.sensors.tiltmon import *  # noqa: F403
from monitor.sensors.tiltmon import __all__ as __all__
