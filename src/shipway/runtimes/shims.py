"""Write a binding's shim directory on the host, to be bound at `shim_dir`."""

from __future__ import annotations

import os
from pathlib import Path

from shipway.runtimes.model import RuntimeBinding


def write_shims(host_dir: Path, binding: RuntimeBinding) -> Path:
    """Make `host_dir` hold exactly the binding's symlinks and scripts.

    The directory is rebuilt from scratch so a shim left by an earlier
    binding (say `python3.10` after a switch to 3.11) cannot linger.
    """
    host_dir.mkdir(parents=True, exist_ok=True)
    for entry in host_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            raise FileExistsError(f"{entry} is a directory; a shim directory holds files only")
        entry.unlink()
    for name, target in binding.shims.items():
        (host_dir / name).symlink_to(target)
    for name, text in binding.scripts.items():
        script = host_dir / name
        script.write_text(text)
        os.chmod(script, 0o755)
    # Sandboxed processes run as unprivileged users; they must read and list it.
    os.chmod(host_dir, 0o755)
    return host_dir
