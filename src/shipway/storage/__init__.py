"""Environment data on volumes that clone, snapshot and restore in
milliseconds (btrfs), or by plain copies where btrfs is impossible."""

from shipway.storage.backend import Usage
from shipway.storage.owners import reown
from shipway.storage.pool import DEFAULT_POOL_MB, open_pool
from shipway.storage.scrub import scrub_clone
from shipway.storage.volumes import Pool, Snapshot, VolumeExists

__all__ = ["DEFAULT_POOL_MB", "Pool", "Snapshot", "Usage", "VolumeExists", "open_pool", "reown",
           "scrub_clone"]
