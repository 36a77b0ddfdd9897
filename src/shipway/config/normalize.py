"""Legacy and shorthand forms, translated to the current form before validation.

Each function takes plain data as written and returns it in the form the
schemas know (reference §1.1 "Legacy keys", §1.3, §1.4): string mounts,
`temporary` mounts, the four relationship forms, flat `web` keys, cron `cmd`,
php's `{require: …}` dependencies, numeric versions. A key that moves is
recorded with `notes.moved()` so that messages name it as written. Input that
is neither form is left alone for the schema to report.
"""

from __future__ import annotations

import re
from typing import Any

from .keys import NOT_IMPLEMENTED
from .paths import dir_path
from .sourcemap import KeyPath, Notes

_LEGACY_MOUNT = re.compile(r"shared:files(?:/(.*))?")
_LEGACY_WEB = {"document_root": "root", "passthru": "passthru", "index_files": "index",
               "expires": "expires"}
_DROP = object()


def normalize_app(data: dict[str, Any], notes: Notes) -> dict[str, Any]:
    data = _instance(data, (), notes)
    if isinstance(data.get("web"), dict):
        data["web"] = _web(data["web"], notes)
    if isinstance(data.get("crons"), dict):
        data["crons"] = {name: _cron(cron, ("crons", name), notes)
                         for name, cron in data["crons"].items()}
    if isinstance(data.get("dependencies"), dict):
        data["dependencies"] = _dependencies(data["dependencies"], notes)
    if isinstance(data.get("workers"), dict):
        data["workers"] = {name: _instance(worker, ("workers", name), notes)
                           for name, worker in data["workers"].items()}
    return data


def _instance(data: Any, path: KeyPath, notes: Notes) -> Any:
    """Mounts and relationships of the app or of one worker."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if isinstance(data.get("mounts"), dict):
        data["mounts"] = _mounts(data["mounts"], path + ("mounts",), notes)
    if isinstance(data.get("relationships"), dict):
        data["relationships"] = _relationships(data["relationships"],
                                               path + ("relationships",), notes)
    return data


def _mounts(mounts: dict[str, Any], path: KeyPath, notes: Notes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for written, mount in mounts.items():
        try:
            key = dir_path(written)
        except ValueError as exc:
            notes.error(path + (written,), str(exc))
            continue
        if key in out:
            notes.error(path + (written,), f"mount '{key}' is defined twice (leading and "
                        "trailing slashes are ignored)")
        elif (value := _mount(mount, path + (written,), notes)) is not _DROP:
            if key != written:
                notes.moved(path + (key,), path + (written,))
            out[key] = value
    return out


def _mount(mount: Any, path: KeyPath, notes: Notes) -> Any:
    if isinstance(mount, str):
        legacy = _LEGACY_MOUNT.fullmatch(mount)
        if legacy:
            return {"source": "local", "source_path": (legacy.group(1) or "").strip("/")}
        notes.error(path, f"a mount written as a string must be 'shared:files/<path>'; got "
                    f"'{mount}'; or write {{source: local, source_path: <path>}}")
        return _DROP
    if isinstance(mount, dict) and mount.get("source") == "temporary":
        return {**mount, "source": "tmp"}
    return mount


def _relationships(relationships: dict[str, Any], path: KeyPath, notes: Notes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in relationships.items():
        if value is None:
            out[name] = {"service": name, "endpoint": None}
        elif isinstance(value, str):
            service, colon, endpoint = value.partition(":")
            if service and (endpoint or not colon):
                out[name] = {"service": service, "endpoint": endpoint or None}
            else:
                notes.error(path + (name,), f"must be '<service>:<endpoint>' (e.g. "
                            f"'db:postgresql'), {{service, endpoint}} or null; got '{value}'")
        else:
            out[name] = value
    return out


def _web(web: dict[str, Any], notes: Notes) -> dict[str, Any]:
    web = _legacy_web(web, notes)
    if isinstance(web.get("locations"), dict):
        for path, location in web["locations"].items():
            root = location.get("root") if isinstance(location, dict) else None
            if isinstance(root, str) and root.startswith("/") and root.strip("/"):
                notes.warn(("web", "locations", path, "root"), f"'{root}' is read relative to "
                           f"the app, as '{root.strip('/')}' (never a host path); write it "
                           "without the leading '/'")
    return web


def _legacy_web(web: dict[str, Any], notes: Notes) -> dict[str, Any]:
    """Flat `web.document_root`, `passthru`, … become `web.locations["/"]`."""
    legacy = [key for key in (*_LEGACY_WEB, "whitelist", "blacklist") if key in web]
    if not legacy:
        return web
    locations = web.get("locations") or {}
    if not isinstance(locations, dict) or "/" in locations:
        notes.error(("web", legacy[0]), f"legacy web.{legacy[0]} cannot be combined with "
                    "web.locations['/']; move it into web.locations['/']")
        return web
    web = dict(web)
    root: dict[str, Any] = {}
    for old, new in _LEGACY_WEB.items():
        if old in web:
            root[new] = web.pop(old)
            notes.moved(("web", "locations", "/", new), ("web", old))
    rules = _legacy_rules(web, notes)
    if rules is not None:
        root["rules"], root["allow"] = rules
    web["locations"] = {"/": root, **locations}
    return web


def _legacy_rules(web: dict[str, Any], notes: Notes) -> tuple[dict[str, Any], bool] | None:
    """Rules from `whitelist` / `blacklist`; with a whitelist nothing else is allowed."""
    rules: dict[str, Any] = {}
    allow = True
    for key, allowed in (("whitelist", True), ("blacklist", False)):
        if key not in web:
            continue
        patterns = web.pop(key)
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            notes.error(("web", key), "must be a list of regular expressions")
            continue
        rules.update({pattern: {"allow": allowed} for pattern in patterns})
        notes.moved(("web", "locations", "/", "rules"), ("web", key))
        allow = allow and not allowed
    return (rules, allow) if rules else None


def _cron(cron: Any, path: KeyPath, notes: Notes) -> Any:
    if not isinstance(cron, dict) or "cmd" not in cron:
        return cron
    cron = dict(cron)
    command = cron.pop("cmd")
    if "commands" in cron:
        notes.error(path + ("cmd",), "write either cmd (the legacy form) or commands.start, "
                    "not both")
        return cron
    cron["commands"] = {"start": command}
    notes.moved(path + ("commands",), path + ("cmd",))
    notes.moved(path + ("commands", "start"), path + ("cmd",))
    return cron


def _dependencies(dependencies: dict[str, Any], notes: Notes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for manager, packages in dependencies.items():
        path: KeyPath = ("dependencies", manager)
        if isinstance(packages, dict) and isinstance(packages.get("require"), dict):
            for key in packages:
                if key != "require":
                    notes.warn(path + (key,), NOT_IMPLEMENTED)
            notes.moved(path, path + ("require",))
            packages = packages["require"]
        if isinstance(packages, dict):
            packages = {name: _version(version, path + (name,), notes)
                        for name, version in packages.items()}
        out[manager] = packages
    return out


def _version(version: Any, path: KeyPath, notes: Notes) -> Any:
    if isinstance(version, bool) or not isinstance(version, int | float):
        return version
    if isinstance(version, float):
        notes.warn(path, f"version {version} is a YAML number; quote it ('{version}') so no "
                   "digits are lost (1.10 reads as 1.1)")
    return str(version)
