"""Finding and touching the host's cgroup file systems (v1 controllers or v2).

Shared by the memory limit of builds (build/memory.py) and the pids limit of
every build and app process (pids.py). Hybrid hosts (Debian's older layout,
this machine) mount a cgroup2 tree without controllers next to v1
hierarchies: a controller is used where it is actually attached.
"""

from __future__ import annotations

from pathlib import Path


def mounts() -> dict[str, Path]:
    """'cgroup2' → the v2 mount; each v1 controller's name → its mount."""
    found: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fstype == "cgroup2":
                found.setdefault("cgroup2", Path(fields[4]))
            elif fstype == "cgroup":
                for option in options:
                    if option not in ("rw", "ro"):
                        found.setdefault(option, Path(fields[4]))
    return found


def v2_controllers(root: Path) -> list[str]:
    return read(root / "cgroup.controllers").split()


def own(controller: str) -> str | None:
    """This process's cgroup path in the v1 hierarchy of `controller`."""
    for line in read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


# $0 is the cgroup.procs file, "$@" the sandbox's argv; a constant script.
ENTER = 'echo $$ > "$0" && exec "$@"'


def entering(group: Path, argv: list[str]) -> list[str]:
    """`argv`, started inside the cgroup at `group` (it moves itself in, then execs)."""
    return ["/bin/sh", "-c", ENTER, str(group / "cgroup.procs"), *argv]


def members(group: Path) -> list[int]:
    """The pids in the cgroup at `group` now."""
    return [int(p) for p in read(group / "cgroup.procs").split()]
