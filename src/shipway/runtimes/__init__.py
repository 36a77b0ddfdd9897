"""Runtimes: turn an app's `type: <language>:<version>` into a real interpreter.

Three steps, decide apart from act:

1. `discover()` finds the python, nodejs and php installs on this host
   (effects: lists directories, runs each interpreter once).
2. `resolve(inventory, type_)` picks one, or raises `RuntimeUnavailable`
   naming what exists and how to install the missing version (pure).
3. `binding(install, version)` says what a sandbox must bind, put on PATH
   and set so the app's `python3`, `pip`, `node`, `npm`… run that install
   (pure); `write_shims(host_dir, binding)` writes its shim directory.
"""

from shipway.runtimes.binding import SHIM_DIR, binding
from shipway.runtimes.discover import SearchPlaces, discover, find_all, search_places
from shipway.runtimes.model import Install, Origin, RuntimeBinding
from shipway.runtimes.resolve import RuntimeType, parse_type, resolve, version_matches
from shipway.runtimes.shims import write_shims

__all__ = [
    "SHIM_DIR",
    "Install",
    "Origin",
    "RuntimeBinding",
    "RuntimeType",
    "SearchPlaces",
    "binding",
    "discover",
    "find_all",
    "parse_type",
    "resolve",
    "search_places",
    "version_matches",
    "write_shims",
]
