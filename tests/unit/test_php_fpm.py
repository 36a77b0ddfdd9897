"""C6: the PHP-FPM pool as a value: ini settings checked, config rendered, FPM chosen."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.errors import UserError
from shipway.php import extensions, fpm
from shipway.php.setup import fpm_version


@pytest.mark.parametrize(("given", "expected"), [
    ({"memory_limit": "256M"}, (("memory_limit", "256M"),)),
    ({"max_execution_time": 30}, (("max_execution_time", "30"),)),
    ({"display_errors": False, "zend.assertions": True},
     (("display_errors", "0"), ("zend.assertions", "1"))),
    ({"error_reporting": "E_ALL & ~E_DEPRECATED"}, (("error_reporting", "E_ALL & ~E_DEPRECATED"),)),
    ({"date.timezone": "Europe/Paris"}, (("date.timezone", "Europe/Paris"),)),
    ({"opcache.memory_consumption": 1.5}, (("opcache.memory_consumption", "1.5"),)),
])
def test_variables_php_become_ini_settings(given: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert fpm.ini_settings(given) == expected


@pytest.mark.parametrize(("given", "why"), [
    ({"memory_limit": "1\nphp_admin_value[open_basedir]=/"}, "not a plain php.ini value"),
    ({"memory_limit": "1\rx"}, "not a plain php.ini value"),
    ({"memory_limit": "1 ; comment"}, "not a plain php.ini value"),
    ({"memory_limit": "a=b"}, "not a plain php.ini value"),
    ({"memory_limit": '"quoted"'}, "not a plain php.ini value"),
    ({"memory_limit": "${HOME}"}, "not a plain php.ini value"),
    ({"memory_limit": "[x]"}, "not a plain php.ini value"),
    ({"memory_limit": ["256M"]}, "not a plain php.ini value"),
    ({"memory_limit": None}, "not a plain php.ini value"),
    ({"memory_limit] = 1\nphp_admin_value[x": "1"}, "not a php.ini setting name"),
    ({"a=b": "1"}, "not a php.ini setting name"),
    ({"": "1"}, "not a php.ini setting name"),
    ({"extension": "evil.so"}, "runtime.extensions"),
    ({"zend_extension": "/tmp/x.so"}, "runtime.extensions"),
])
def test_injection_and_odd_values_are_refused(given: dict[str, Any], why: str) -> None:
    with pytest.raises(fpm.IniError, match=why.replace(".", r"\.")):
        fpm.ini_settings(given)


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(";")]


def test_the_pool_listens_on_the_app_socket_and_keeps_the_environment() -> None:
    text = fpm.render_pool(fpm.Pool(ini=(("memory_limit", "256M"), ("disable_functions", "exec"))))
    lines = _directives(text)
    assert "listen = /run/shipway/sock/app.sock" in lines
    assert "clear_env = no" in lines  # PLATFORM_* reach PHP
    assert "security.limit_extensions = .php" in lines
    assert "php_value[memory_limit] = 256M" in lines
    assert "php_admin_value[disable_functions] = exec" in lines  # system-level only
    assert "daemonize = no" in lines and not any(line.startswith("user") for line in lines)
    # One directive per line, and every pool line is `key = value`.
    assert all(line.startswith("[") or " = " in line for line in lines)


def test_a_tcp_pool_listens_on_loopback_only() -> None:
    assert "listen = 127.0.0.1:8123" in fpm.render_pool(fpm.Pool(listen="127.0.0.1:8123"))
    with pytest.raises(ValueError, match="listen address"):
        fpm.Pool(listen="0.0.0.0:80")
    with pytest.raises(ValueError, match="listen address"):
        fpm.Pool(listen="/x\nphp_admin_value[open_basedir] = /")


def test_the_command_runs_debian_fpm_in_the_foreground_on_our_config() -> None:
    command = fpm.command(fpm.fpm_binary("8.2"))
    assert command.startswith("PHP_INI_SCAN_DIR=/run/shipway/fpm/conf.d /usr/sbin/php-fpm8.2 ")
    assert "trap 'kill -TERM $fpm' TERM" in command  # FPM leaves the group: TERM handed on
    assert "--nodaemonize" in command and "--fpm-config /run/shipway/fpm/php-fpm.conf" in command
    with pytest.raises(ValueError):
        fpm.fpm_binary("8.2; rm -rf /")


@pytest.mark.parametrize(("wanted", "installed", "chosen"), [
    ("8.2", ["8.2"], "8.2"), ("8.1", ["8.2"], "8.2"), ("8.1", ["8.3", "8.2"], "8.2"),
    ("8.3", ["8.2", "8.3"], "8.3"),
])
def test_the_fpm_matches_the_resolved_php(wanted: str, installed: list[str], chosen: str) -> None:
    assert fpm_version(wanted, installed) == chosen


@pytest.mark.parametrize(("wanted", "installed"), [("8.3", ["8.2"]), ("7.4", ["8.2"]), ("8.2", [])])
def test_no_fpm_for_the_version_names_the_package(wanted: str, installed: list[str]) -> None:
    with pytest.raises(UserError, match=f"php{wanted}-fpm"):
        fpm_version(wanted, installed)


HOST = extensions.HostModules(
    "8.2", enabled={"redis": ("20-redis.ini", "extension=redis.so\n"),
                    "opcache": ("10-opcache.ini", "zend_extension=opcache.so\n")},
    loadable=frozenset({"redis", "opcache", "xsl"}), builtin=frozenset({"core", "date", "json"}))


def test_enabled_and_builtin_extensions_need_nothing() -> None:
    files = extensions.plan(["redis", "json"], [], HOST)
    assert files == {"20-redis.ini": "extension=redis.so\n", "10-opcache.ini": "zend_extension=opcache.so\n"}


def test_an_installed_but_disabled_module_is_loaded() -> None:
    assert extensions.plan(["xsl"], [], HOST)["30-shipway-xsl.ini"] == "extension=xsl.so\n"


def test_disabled_extensions_are_left_out() -> None:
    assert "20-redis.ini" not in extensions.plan([], ["redis"], HOST)


def test_missing_extensions_are_all_named_with_their_package() -> None:
    with pytest.raises(UserError, match="php8.2-ioncube php8.2-sourceguardian"):
        extensions.plan(["sourceguardian", "redis", "ioncube", "blackfire"], [], HOST)


def test_a_vendor_only_profiler_is_left_out_with_a_warning() -> None:
    """wordpress-composer asks for `blackfire`, which Debian does not package (C6)."""
    files = extensions.plan(["redis", "blackfire", "newrelic"], [], HOST)
    assert not any("blackfire" in name or "newrelic" in name for name in files)
    warning = extensions.skip_warning(["redis", "blackfire", "newrelic"], HOST)
    assert warning is not None and "blackfire, newrelic left out" in warning
    assert extensions.skip_warning(["redis"], HOST) is None
    # One that is installed is loaded like any other module.
    host = extensions.HostModules("8.2", {}, frozenset({"blackfire"}), frozenset())
    ini = {"30-shipway-blackfire.ini": "extension=blackfire.so\n"}
    assert extensions.plan(["blackfire"], [], host) == ini
    assert extensions.skip_warning(["blackfire"], host) is None


def test_a_builtin_module_cannot_be_disabled() -> None:
    with pytest.raises(UserError, match="built into PHP"):
        extensions.plan([], ["json"], HOST)


@pytest.mark.parametrize("entry", ["../../tmp/evil", "redis.so", "a/b", "x y", "", 3, None,
                                   {"name": "../x"}])
def test_extension_names_are_plain(entry: Any) -> None:
    """Attack: a name with `../` never reaches a path or an ini line."""
    with pytest.raises(UserError, match="not an extension name"):
        extensions.names([entry], "extensions")


def test_extension_names_accept_platform_forms() -> None:
    assert extensions.names(["Redis", {"name": "apcu"}], "extensions") == ("redis", "apcu")
    with pytest.raises(UserError, match="not supported yet"):
        extensions.names([{"name": "blackfire", "configuration": {"x": 1}}], "extensions")
