"""B1, B1b: what each build step runs (pure), and the build's one deadline (B8)."""

from __future__ import annotations

import threading

import pytest

from shipway.build.limits import Deadline
from shipway.build.steps import (
    GLOBAL,
    PIP_DOWNLOADS,
    cache_environment,
    dependency_steps,
    flavor_steps,
    hook_step,
)
from shipway.errors import Cancelled, NotSupportedYet

# (id, dependencies, the announced titles, the argv tails of the installing commands)
DEPENDENCY_CASES = [
    ("pip rules", {"python3": {"a": "*", "b": "1.2", "c": ">=2", "d": "~=3.1", "e": "!=4"}},
     ["Installing python3 build dependencies: a b==1.2 c>=2 d~=3.1 e!=4"],
     ["a", "b==1.2", "c>=2", "d~=3.1", "e!=4"]),
    ("npm rules", {"nodejs": {"sass": "^1", "less": "*"}},
     ["Installing nodejs build dependencies: sass@^1 less"], ["sass@^1", "less"]),
    ("composer rules", {"php": {"drush/drush": "^8", "x/y": "*"}},
     ["Installing php build dependencies: drush/drush:^8 x/y"], ["drush/drush:^8", "x/y"]),
    ("empty map", {"python3": {}}, [], []),
]


@pytest.mark.parametrize(("deps", "titles", "specs"), [c[1:] for c in DEPENDENCY_CASES],
                         ids=[c[0] for c in DEPENDENCY_CASES])
def test_b1b_dependency_steps(deps: dict, titles: list[str], specs: list[str]) -> None:
    steps = dependency_steps(deps)
    assert [s.title for s in steps if s.title] == titles
    installing = [s for s in steps if "-c" not in s.command]  # python3's .pth step takes no specs
    assert all(s.command[len(s.command) - len(specs):] == tuple(specs) for s in installing)


def test_b1b_python3_goes_to_the_global_user_base_from_cached_downloads() -> None:
    download, install, pth = dependency_steps({"python3": {"poetry": "*"}})
    assert download.command[:4] == ("python3", "-m", "pip", "download")
    assert PIP_DOWNLOADS in download.command
    assert {"--user", "--no-index", PIP_DOWNLOADS} <= set(install.command)
    assert install.env["PYTHONUSERBASE"] == GLOBAL and install.title == "" and pth.title == ""
    assert "shipway-global-dependencies.pth" in pth.command[-1]


def test_b1b_npm_and_composer_install_under_app_global() -> None:
    (npm,) = dependency_steps({"nodejs": {"sass": "^1"}})
    assert npm.command[:5] == ("npm", "install", "--global", "--prefix", GLOBAL)
    (composer,) = dependency_steps({"php": {"a/b": "^1"}})
    assert composer.command[:3] == ("composer", "global", "require")
    assert composer.env == {"COMPOSER_HOME": GLOBAL}


def test_b1b_php_dependencies_without_composer_say_what_to_do() -> None:
    with pytest.raises(NotSupportedYet, match="apt-get install composer"):
        dependency_steps({"php": {"a/b": "*"}}, has_tool=lambda tool: tool != "composer")


def test_b1b_unknown_manager_is_not_supported_yet() -> None:
    with pytest.raises(NotSupportedYet, match="dependencies.ruby"):
        dependency_steps({"ruby": {"sass": "*"}})


def test_b5_package_manager_caches_live_in_the_build_cache() -> None:
    env = cache_environment("/c")
    assert env == {"PIP_CACHE_DIR": "/c/pip", "npm_config_cache": "/c/npm",
                   "COMPOSER_CACHE_DIR": "/c/composer", "GOPATH": "/c/go",
                   "GOMODCACHE": "/c/go/pkg/mod", "GOCACHE": "/c/go-build"}


# (id, runtime, flavor, top-level files, the step titles)
FLAVOR_CASES = [
    ("node default with package.json", "nodejs", "default", {"package.json"},
     ["Found a `package.json`, installing dependencies."]),
    ("node default without", "nodejs", "default", set(), []),
    ("node none", "nodejs", "none", {"package.json"}, []),
    ("php composer", "php", "composer", {"composer.json"},
     ["Found a `composer.json`, installing dependencies."]),
    ("python none", "python", "none", {"requirements.txt"}, []),
]


@pytest.mark.parametrize(("runtime", "flavor", "files", "titles"), [c[1:] for c in FLAVOR_CASES],
                         ids=[c[0] for c in FLAVOR_CASES])
def test_b1b_flavors(runtime: str, flavor: str, files: set[str], titles: list[str]) -> None:
    assert [s.title for s in flavor_steps(runtime, flavor, files)] == titles


def test_b3_hook_runs_with_dash_and_empty_hook_is_no_step() -> None:
    (step,) = hook_step("make\n")
    assert step.command == ("/bin/sh", "-c", "make\n")
    assert hook_step("  \n") == [] and hook_step(None) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_b8_one_deadline_for_the_whole_build() -> None:
    clock, cancel = FakeClock(), threading.Event()
    deadline = Deadline(60, cancel, clock)
    clock.now += 59.9
    assert deadline.reason() is None
    clock.now += 0.1
    assert deadline.reason() == ("build exceeded its time limit of 60 s "
                                 "(SHIPWAY_BUILD_TIMEOUT, in seconds, raises it)")
    with pytest.raises(Cancelled, match="time limit of 60 s"):
        deadline.check()


def test_b8_cancel_wins_over_the_deadline() -> None:
    clock, cancel = FakeClock(), threading.Event()
    deadline = Deadline(1, cancel, clock)
    cancel.set()
    clock.now += 5
    assert deadline.reason() == "build cancelled"
