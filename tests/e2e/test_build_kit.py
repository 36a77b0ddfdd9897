"""A real build host for the build tests: a git repo in tmp, real bwrap,
real loop-mounted disks and cgroups, the real artifact store. No tests here."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shipway.artifacts.store import ArtifactStore
from shipway.build.pipeline import BuildHost, BuildRequest, BuildResult, build_app
from shipway.config import load_project
from shipway.git.repos import GitObjects

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap"
)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, check=True).stdout.strip()


@dataclass
class Project:
    base: Path
    uid: int
    project_id: str = "proj1"
    disk_mb: int = 64
    memory_mb: int = 512
    pids_max: int = 512
    timeout: float = 600
    lines: list[str] = field(default_factory=list)

    @property
    def repo(self) -> Path:
        return self.base / "repo"

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(self.base / "store" / "artifacts", self.base / "artifacts")

    def host(self) -> BuildHost:
        return BuildHost(
            store=self.store, work_root=self.base / "builds", cache_root=self.base / "cache",
            uid=self.uid, timeout=self.timeout, extra_passthrough=(), home=self.base / "home",
            disk_mb=self.disk_mb, memory_mb=self.memory_mb, pids_max=self.pids_max,
        )

    def commit(self, files: dict[str, str]) -> str:
        if not (self.repo / ".git").exists():
            self.repo.mkdir(parents=True)
            git(self.repo, "init", "-q", "-b", "main")
        for rel, text in files.items():
            path = self.repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "--allow-empty", "-m", "change")
        return git(self.repo, "rev-parse", "HEAD")

    def build(self, cancel: threading.Event | None = None, variables: dict[str, str] | None = None,
              previous: str | None = None) -> BuildResult:
        commit = git(self.repo, "rev-parse", "HEAD")
        app = load_project(self.repo).apps[0]
        objects = GitObjects(self.repo / ".git")
        req = BuildRequest(self.project_id, "entropy", app, commit, objects.tree_id(commit),
                           variables or {})
        self.lines.clear()
        return build_app(req, objects, self.host(), self.lines.append, previous, cancel)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


def app_yaml(build: str, type_: str = "python:3.11", extra: str = "") -> str:
    hook = "".join(f"    {line}\n" for line in build.splitlines())
    return (f"name: app\ntype: '{type_}'\n{extra}hooks:\n  build: |\n{hook}"
            "web:\n  commands:\n    start: sleep infinity\n")


def leftovers(base: Path) -> list[str]:
    """Mounts and images a build left behind under `base`."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if line.split()[4].startswith(str(base))]
    images = [str(p) for p in (base / "builds").glob("*")] if (base / "builds").exists() else []
    return mounts + images
