"""Running the host's tools (btrfs-progs, mount, cp) with one error shape."""

from __future__ import annotations

import subprocess

from shipway.errors import PlatformError

HINTS = {"btrfs": "btrfs-progs", "mkfs.btrfs": "btrfs-progs", "losetup": "mount", "mount": "mount",
         "umount": "mount", "cp": "coreutils",
         "fstrim": "util-linux"}


class CommandFailed(PlatformError):
    def __init__(self, argv: tuple[str, ...], stderr: str) -> None:
        self.argv = argv
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)} failed: {stderr or 'no message'}")


def run(*argv: str) -> str:
    """The command's stdout; CommandFailed (a PlatformError) if it fails."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        hint = HINTS.get(argv[0], argv[0])
        raise PlatformError(f"{argv[0]} not found: apt-get install {hint}") from exc
    if proc.returncode != 0:
        raise CommandFailed(argv, proc.stderr.strip())
    return proc.stdout


def succeeds(*argv: str) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        return False
