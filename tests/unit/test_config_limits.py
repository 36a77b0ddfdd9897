"""S5: what parsing a pushed config may cost is capped; each cap is a file:line error."""

from __future__ import annotations

import logging

import pytest
from ruamel.yaml import YAML

from shipway.config import load as load_module
from shipway.config import load_project
from shipway.config.limits import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INCLUDES,
    MAX_NODES,
    Budget,
    LimitExceeded,
    scan,
)
from shipway.errors import PlatformError

from .test_config_errors import APP, HEAD, START, issues_of, write

VARS = "variables:\n  env:\n"  # lines 6–7 after HEAD + START


def bomb(levels: int, width: int = 9, leaf: str = "lol") -> str:
    lines = [f"a0: &a0 [{', '.join([leaf] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "".join(f"    {line}\n" for line in lines)


def nested_flow(depth: int) -> str:
    return "    f: " + "[" * depth + "]" * depth + "\n"


def nested_block(depth: int) -> str:
    return "    b:\n" + "".join("  " * (3 + i) + f"k{i}:\n" for i in range(depth)) + \
        "  " * (3 + depth) + "leaf\n"


# (yaml, expanded values, expanded characters of text)
SCANNED = [
    ("a: b\n", 3, 2),
    ("a: [1, 2]\n", 5, 3),
    ("a: &x [1, 2]\nb: *x\n", 9, 6),
    ("a: &x {k: v}\nb: *x\nc: *x\n", 13, 9),
    ("- &s hello\n- *s\n- *s\n", 4, 15),
    ("a: &x [1]\nb: &y [*x, *x]\nc: [*y, *y]\n", 1 + 3 + 2 + 5 + 11, 3 + 1 + 2 + 4),
    ("--- {a: &x [1]}\n--- {b: [2]}\n", 8, 4),
]


@pytest.mark.parametrize(("text", "nodes", "chars"), SCANNED)
def test_scan_counts_what_the_tree_would_hold_with_aliases_expanded(text, nodes, chars) -> None:
    budget = Budget()
    scan(YAML(typ="rt").parse(text), "f.yaml", budget)
    assert (budget.nodes, budget.text) == (nodes, chars)


# (id, text after HEAD + START, line or None, part of the message)
CASES = [
    ("alias bomb 9x9", VARS + bomb(9), None, f"more than {MAX_NODES:,} values"),
    ("alias bomb of text", VARS + "    t: &t '" + "x" * 100_000 + "'\n" + bomb(3, leaf="*t"),
     None, "MiB of text"),
    ("flow nesting 10,000", VARS + nested_flow(10_000), 8, f"nested more than {MAX_DEPTH}"),
    ("dash nesting 10,000", VARS + "    x:\n      " + "- " * 10_000 + "x\n", 9,
     f"nested more than {MAX_DEPTH}"),
    ("block nesting 70", VARS + nested_block(70), None, f"nested more than {MAX_DEPTH}"),
    ("file over 1 MiB", VARS + "    X: '" + "x" * MAX_FILE_BYTES + "'\n", None,
     "a configuration file may be at most 1.0 MiB"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_cap_is_a_clean_file_line_error(tmp_path, text, line, fragment) -> None:
    [issue] = issues_of(tmp_path, {APP: HEAD + START + text})
    assert issue.file == APP
    assert fragment in issue.message
    if line is not None:
        assert issue.line == line


def test_below_the_caps_is_accepted(tmp_path) -> None:
    text = VARS + bomb(4) + nested_flow(MAX_DEPTH - 4) + nested_block(MAX_DEPTH - 5)
    write(tmp_path, {APP: HEAD + START + text})
    env = load_project(tmp_path).apps[0].variables["env"]
    assert len(env["a3"]) == 9 and env["a3"][8][8][8] == ("lol",) * 9


def test_total_bytes_read_are_capped_across_includes(tmp_path) -> None:
    big = "x" * (MAX_FILE_BYTES - 10)
    files = {f"t{i}.txt": big for i in range(5)}
    includes = "".join(f"    T{i}: !include {{type: string, path: t{i}.txt}}\n" for i in range(5))
    found = issues_of(tmp_path, {APP: HEAD + START + VARS + includes, **files})
    assert [(i.file, i.line) for i in found] == [("t3.txt", None)]
    assert "at most 4.0 MiB may be read" in found[0].message


def test_include_resolutions_are_capped(tmp_path) -> None:
    lines = "".join(f"    T{i}: !include {{type: string, path: t.txt}}\n"
                    for i in range(MAX_INCLUDES + 1))
    found = issues_of(tmp_path, {APP: HEAD + START + VARS + lines, "t.txt": "t"})
    assert [(i.file, i.line) for i in found] == [(APP, 8 + MAX_INCLUDES)]
    assert f"more than {MAX_INCLUDES} !include" in found[0].message


def test_an_include_copied_by_aliases_counts_every_copy(tmp_path) -> None:
    text = VARS + bomb(3, leaf="!include {type: string, path: t.txt}")
    found = issues_of(tmp_path, {APP: HEAD + START + text, "t.txt": "t"})
    assert [f"more than {MAX_INCLUDES} !include" in i.message for i in found] == [True]


def test_depth_counts_across_included_files(tmp_path) -> None:
    half = MAX_DEPTH // 2 + 2
    inner = "[" * half + "]" * half + "\n"
    text = VARS + "    x: " + "[" * half + "!include inner.yaml" + "]" * half + "\n"
    found = issues_of(tmp_path, {APP: HEAD + START + text, "inner.yaml": inner})
    assert [(i.file, i.line) for i in found] == [("inner.yaml", 1)]
    assert "counting the files it includes" in found[0].message


def test_every_limit_error_is_a_limit_exceeded_not_a_crash() -> None:
    with pytest.raises(LimitExceeded):
        scan(YAML(typ="rt").parse("[" * 100 + "]" * 100), "f", Budget())


def test_an_unexpected_failure_shows_no_traceback_or_server_path(tmp_path, monkeypatch,
                                                                caplog) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError(f"boom in {tmp_path}/secret")

    monkeypatch.setattr(load_module, "check_app", broken)
    write(tmp_path, {APP: HEAD + START})
    with caplog.at_level(logging.ERROR), pytest.raises(PlatformError) as caught:
        load_project(tmp_path)
    message = str(caught.value)
    assert "RuntimeError" in message and str(tmp_path) not in message
    assert "Traceback" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "boom in" in caplog.text  # the operator still has it


# What reaches the app as one environment variable must fit in one (Linux: 128 KiB),
# or the deploy fails at exec with "Argument list too long".
ENV_CASES = [
    ("app too big for PLATFORM_APPLICATION",
     {APP: HEAD + START + VARS + "".join(f"    V{i}: '{'x' * 100}'\n" for i in range(1200))},
     (APP, 1, ""), "as PLATFORM_APPLICATION"),
    ("routes too big for PLATFORM_ROUTES",
     {APP: HEAD + START, ".platform/routes.yaml": "".join(
         f"'https://r{i}.{{default}}/': {{type: upstream, upstream: 'app:http'}}\n"
         for i in range(800))},
     (".platform/routes.yaml", 1, "https://r0.{default}/"), "as PLATFORM_ROUTES"),
    ("disk of 10**100 MB", {APP: HEAD + START + f"disk: {10**100}\n"}, (APP, 6, "disk"),
     "less than or equal to 10000000"),
    ("cron shutdown_timeout of a year",
     {APP: HEAD + START + "crons:\n  c:\n    spec: '* * * * *'\n    commands: {start: c}\n"
      "    shutdown_timeout: 31536000\n"}, (APP, 10, "crons.c.shutdown_timeout"),
     "less than or equal to 86400"),
]


@pytest.mark.parametrize(("files", "where", "fragment"), [c[1:] for c in ENV_CASES],
                         ids=[c[0] for c in ENV_CASES])
def test_what_a_deploy_could_not_pass_on_is_refused_at_validation(tmp_path, files, where,
                                                                  fragment) -> None:
    [issue] = issues_of(tmp_path, files)
    assert (issue.file, issue.line, issue.key) == where
    assert fragment in issue.message


def test_routes_and_an_app_just_under_the_caps_are_accepted(tmp_path) -> None:
    write(tmp_path, {APP: HEAD + START + VARS + "".join(f"    V{i}: '{'x' * 100}'\n"
                                                         for i in range(600)),
                     ".platform/routes.yaml": "".join(
                         f"'https://r{i}.{{default}}/': {{type: upstream, upstream: 'app:http'}}\n"
                         for i in range(100))})
    config = load_project(tmp_path)
    assert len(config.routes) == 100 and len(config.apps[0].variables["env"]) == 600
