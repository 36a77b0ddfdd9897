"""What each build step runs (B1, B1b, B3). Pure: commands as argument lists.

Order follows Platform.sh's real logs (dependencies, then flavor, then the
build hook); reference/platform-config.md §4.1 marks the conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipway.errors import NotSupportedYet


@dataclass(frozen=True)
class Step:
    title: str  # the log line announcing it, in Platform.sh's words
    command: tuple[str, ...]
    what: str  # what failed, for the error message


def _sh(script: str) -> tuple[str, ...]:
    # Hooks run with dash from the app root (B3); the text is the user's own
    # script, handed to the shell as one argument.
    return ("/bin/sh", "-c", script)


def _pip_requirement(name: str, version: str) -> str:
    # The platform CLI's rule: '*' is any version; an operator is kept as
    # written; anything else is an exact pin.
    if version in ("*", ""):
        return name
    if version[0] in "<>=!~":
        return f"{name}{version}"
    return f"{name}=={version}"


def _npm_spec(name: str, version: str) -> str:
    return name if version in ("*", "") else f"{name}@{version}"


def dependency_steps(dependencies: Mapping[str, Mapping[str, str]]) -> list[Step]:
    steps = []
    for lang, packages in dependencies.items():
        if not packages:
            continue
        if lang == "nodejs":
            specs = [_npm_spec(n, v) for n, v in packages.items()]
            cmd = ("npm", "install", "--global", "--prefix", "/app/.global", *specs)
        elif lang == "python3":
            specs = [_pip_requirement(n, v) for n, v in packages.items()]
            cmd = ("python3", "-m", "pip", "install", "--prefix", "/app/.global", *specs)
        else:
            raise NotSupportedYet(
                f"dependencies.{lang} is not supported yet by shipway "
                "(supported: nodejs, python3); install it in the build hook instead"
            )
        steps.append(
            Step(f"Installing {lang} build dependencies: {' '.join(specs)}", cmd, f"dependencies.{lang}")
        )
    return steps


def flavor_steps(runtime: str, flavor: str, files: set[str]) -> list[Step]:
    """The build flavor's commands, given the top-level files of the app."""
    if flavor == "none":
        return []
    if runtime == "nodejs" and flavor == "default":
        if "package.json" not in files:
            return []
        script = "npm prune --userconfig .npmrc && npm install --userconfig .npmrc"
        return [Step("Found a `package.json`, installing dependencies.", _sh(script), "build flavor")]
    if runtime == "php" and flavor in ("composer", "default", "symfony"):
        if "composer.json" not in files:
            return []
        cmd = ("composer", "--no-ansi", "--no-interaction", "install", "--no-progress",
               "--prefer-dist", "--optimize-autoloader")
        return [Step("Found a `composer.json`, installing dependencies.", cmd, "build flavor")]
    raise NotSupportedYet(f"build.flavor {flavor!r} for {runtime} is not supported yet; use `none`")


def hook_step(script: str | None) -> list[Step]:
    if not script or not script.strip():
        return []
    return [Step("Executing build hook...", _sh(script), "build hook")]
