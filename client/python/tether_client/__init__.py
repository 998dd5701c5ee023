"""tether_client: follow tether's config from Python (see watcher.py and the README).

Requires the generated tether.v1 modules, which the package build generates (generate_protos.py).
"""

from .mirror import Assembler, Snapshot, UpdateError, UpdateInfo
from .watcher import DEFAULT_TARGET, ConfigWatcher, Mode, WatchError

__all__ = ["Assembler", "ConfigWatcher", "DEFAULT_TARGET", "Mode", "Snapshot", "UpdateError",
           "UpdateInfo", "WatchError"]
