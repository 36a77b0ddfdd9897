"""Backups (BK): an environment's code and data, off the data disk, restorable anywhere.

Theory of operation. A backup is one restic snapshot holding two trees: the
environment's data volume as one btrfs snapshot took it (every mount and
every service's data from one instant), and a small `meta/` folder with
`backup.json` (model.py: project, environment, commit, release, the uids
the files belong to) and `code.bundle` (the project's git history), so the
repository alone is enough to rebuild and restore the project on a new
machine. Its restic tags repeat the identity (project, environment, commit,
release), so `backup:list` needs nothing but the repository.

A backup counts only once verified (BK5): restic confirmed the snapshot,
its `backup.json` read back from the repository equals what was written,
and then the snapshot is tagged `verified`. Listing shows only verified
snapshots, so a backup cut short (failure, `kill -9`) never appears as
restorable. Pieces: model.py decides (pure), restic.py runs restic,
freeze.py pauses an environment's writes, service.py is the use case.
"""
