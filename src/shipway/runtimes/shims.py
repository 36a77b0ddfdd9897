"""Write a binding's shim directory on the host, to be bound at `shim_dir`."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from shipway.runtimes.model import RuntimeBinding

_TEMP_PREFIX = ".shim-"


def write_shims(host_dir: Path, binding: RuntimeBinding) -> Path:
    """Make `host_dir` hold exactly the binding's symlinks and scripts.

    A running sandbox may have this directory bound (another build of the
    same runtime, a running app), so no wanted name is ever missing: each
    entry is made under a temporary name and renamed over the old one, and
    only then are entries the binding no longer has (say `python3.10` after
    a switch to 3.11) removed.
    """
    host_dir.mkdir(parents=True, exist_ok=True)
    # Sandboxed processes run as unprivileged users; they must read and list it.
    os.chmod(host_dir, 0o755)
    for name, target in binding.shims.items():
        temp = _temp_path(host_dir, name)
        temp.symlink_to(target)
        os.replace(temp, host_dir / name)
    for name, text in binding.scripts.items():
        temp = _temp_path(host_dir, name)
        temp.write_text(text)
        os.chmod(temp, 0o755)
        os.replace(temp, host_dir / name)
    wanted = {*binding.shims, *binding.scripts}
    for entry in host_dir.iterdir():
        # Another writer's entries in flight are its own to rename.
        if entry.name not in wanted and not entry.name.startswith(_TEMP_PREFIX):
            _remove(entry)
    return host_dir


def _temp_path(host_dir: Path, name: str) -> Path:
    # Per thread too: two activities of one control plane write the same runtime's shims at
    # once (S6), and a name shared between them lets one rename the other's entry away.
    temp = host_dir / f"{_TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{name}"
    if temp.is_symlink() or temp.exists():
        temp.unlink()
    return temp


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        raise FileExistsError(f"{entry} is a directory; a shim directory holds files only")
    entry.unlink(missing_ok=True)
