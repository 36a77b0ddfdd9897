"""Bare repositories, one per project, and reading commits out of them.

A push is built and deployed inside the repository's pre-receive hook, so
that a failed build rejects the push. At that moment the pushed objects sit
in git's quarantine directory; the hook hands its object-directory variables
to the control plane, which passes them to every git command it runs for
that push (`GitObjects.env`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shipway.errors import PlatformError, UsageError, UserError

QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")
ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class GitObjects:
    """Where to read a project's objects: its bare repo plus, during a push, the quarantine."""

    repo: Path
    env: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, input_: bytes | None = None) -> bytes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(self.env)
        proc = subprocess.run(
            ["git", f"--git-dir={self.repo}", *args],
            input=input_, capture_output=True, env=env, check=False,
        )
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise PlatformError(f"git {' '.join(args)} failed: {err}")
        return proc.stdout

    def is_ancestor(self, old: str, new: str) -> bool:
        """Whether `new` contains `old`: moving a ref from old to new is a fast-forward."""
        try:
            self.git("merge-base", "--is-ancestor", old, new)
        except PlatformError:
            return False  # not an ancestor (exit 1), or an object git does not have
        return True

    def tree_id(self, commit: str, path: str = "") -> str:
        """The tree id of `path` (repo-relative; "" = root) at `commit`."""
        spec = f"{commit}^{{tree}}" if not path else f"{commit}:{path}"
        try:
            return self.git("rev-parse", "--verify", spec).decode().strip()
        except PlatformError:
            raise UserError(f"source.root {path!r} does not exist in commit {commit[:7]}") from None

    def export(self, treeish: str, dest: Path, *, links_inside: bool = False) -> list[str]:
        """Write the files of `treeish` into `dest` (which must exist).

        Python's "tar" filter never writes outside `dest` (through a link
        either) but keeps absolute symlinks, which a build may legitimately
        hold. With `links_inside` (root is about to read these files: the
        config) a symlink leading out of `dest` is left out instead, as its
        content would be a host file's (S2); the names left out are returned.
        """
        archive = dest.parent / f".{dest.name}.tar"
        archive.write_bytes(self.git("archive", "--format=tar", treeish))
        skipped: list[str] = []
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter=_inside_only(skipped) if links_inside else "tar")
        finally:
            archive.unlink()
        if links_inside:
            skipped += _drop_escaping_links(dest)
        return sorted(set(skipped))

    def resolve(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
        except PlatformError:
            return None


def _inside_only(skipped: list[str]) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]:
    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, dest)
        except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
            skipped.append(member.name)
            return None
    return keep


def _drop_escaping_links(dest: Path) -> list[str]:
    # Each link was checked as it was extracted, against the links extracted
    # before it; judged again on the finished tree, as open() will resolve it.
    top = os.path.realpath(dest)
    dropped = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and os.path.commonpath([os.path.realpath(path), top]) != top:
                os.unlink(path)
                dropped.append(os.path.relpath(path, top))
    return dropped
def quarantine_env(repo: Path, git_env: object) -> dict[str, str]:
    """The hook's object-directory variables, if they point inside `repo/objects` (S7).

    They come from whoever runs the hook; root's git would otherwise read
    (and `keep_pushed_objects` copy) objects from any directory named."""
    if not isinstance(git_env, dict):
        raise UsageError("malformed push: git_env must be an object")
    objects = os.path.realpath(repo / "objects")
    checked = {}
    for key, value in git_env.items():
        if key not in QUARANTINE_VARS or not isinstance(value, str):
            raise UsageError(f"malformed push: unexpected git variable {key!r}")
        for path in value.split(os.pathsep) if key == "GIT_ALTERNATE_OBJECT_DIRECTORIES" else [value]:
            real = os.path.realpath(path)
            if not os.path.isabs(path) or os.path.commonpath([real, objects]) != objects:
                raise UsageError(f"malformed push: {key} must name a directory inside the "
                                 "project's repository")
        checked[key] = value
    return checked


def keep_pushed_objects(objects: GitObjects, commit: str) -> None:
    """Copy the objects a push brought (still in git's quarantine) into the repository.

    Git drops the quarantine when the pre-receive hook fails, as it does when
    the control plane dies mid-deploy; a restarted plane that keeps the new
    release must still be able to read its commit (S6)."""
    if "GIT_QUARANTINE_PATH" not in objects.env:
        return
    revs = objects.git("rev-list", "--objects", commit, "--not", "--all")
    if revs.strip():
        objects.git("pack-objects", "-q", str(objects.repo / "objects" / "pack" / "pack"),
                    input_=revs)


def hook_script(python: str, home: Path) -> str:
    """The pre-receive hook: hand the push to the control plane over its API."""
    return (
        "#!/bin/sh\n"
        "# Installed by shipway: builds and deploys the pushed branches.\n"
        f"export SHIPWAY_HOME={shlex.quote(str(home))}\n"
        f"exec {shlex.quote(python)} -m shipway.git.hook\n"
    )


def create_bare_repo(path: Path, home: Path) -> None:
    if path.exists():
        raise PlatformError(f"{path} already exists")
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    config = ["git", f"--git-dir={path}", "config"]
    subprocess.run([*config, "receive.advertisePushOptions", "true"], check=True)
    hook = path / "hooks" / "pre-receive"
    hook.write_text(hook_script(sys.executable, home))
    hook.chmod(0o755)
