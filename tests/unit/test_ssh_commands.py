"""A2/A4: the forced command accepts only git of a project and `ssh -p -e` (table-driven)."""

from __future__ import annotations

import pytest

from shipway.access.commands import GitRequest, Refused, ShellRequest, parse

ACCEPTED = [
    ("git-receive-pack 'shop.git'", GitRequest("git-receive-pack", "shop")),
    ("git-receive-pack '/shop.git'", GitRequest("git-receive-pack", "shop")),
    ("git-upload-pack '/shop.git'", GitRequest("git-upload-pack", "shop")),
    ("git-upload-pack 'my-shop2.git/'", GitRequest("git-upload-pack", "my-shop2")),
    ("ssh -p shop -e main", ShellRequest("shop", "main")),
    ("ssh -p shop", ShellRequest("shop", "main")),
    ("ssh -p shop -e feature-x --app web", ShellRequest("shop", "feature-x", "web")),
    ("ssh --project=shop --environment=dev -- cat /var/log/deploy.log",
     ShellRequest("shop", "dev", None, "cat /var/log/deploy.log")),
    ("ssh -p shop -e main -- sh -c 'exit 3'", ShellRequest("shop", "main", None, "sh -c exit 3")),
    ("ssh -p shop -e main -- 'touch /app/x; exit 3'",
     ShellRequest("shop", "main", None, "touch /app/x; exit 3")),
    ("ssh -p shop -e main -- exit 3", ShellRequest("shop", "main", None, "exit 3")),
    ("ssh -p shop -e main --", ShellRequest("shop", "main")),
]

REFUSED = [
    "", "   ", "bash", "bash -c id", "sh", "id", "scp -t /tmp", "rsync --server . /",
    "git-upload-pack '/etc'", "git-upload-pack '/etc.git'x", "git-upload-pack /etc",
    "git-upload-pack '../other.git'", "git-receive-pack '/srv/../other.git'",
    "git-receive-pack 'a/b.git'", "git-receive-pack '.git'", "git-receive-pack 'Shop.git'",
    "git-receive-pack 'shop.git'; id", "git-receive-pack 'shop.git' && id",
    "git-receive-pack 'shop.git'\nid", "git-receive-pack \"shop.git\"", "git-receive-pack shop.git",
    "git-upload-archive 'shop.git'", "git-receive-pack 'shop.git\0'", "x" * 5000,
    "ssh", "ssh -e main", "ssh -p ../x", "ssh -p shop -e ../main", "ssh -p shop -e a/b",
    "ssh -p shop -p other", "ssh -p shop --app ../x", "ssh -p shop -x", "ssh -p 'shop;id'",
    "ssh -p shop -e 'main; id'", "ssh -p shop 'unterminated", "ssh -p shop -e", "ssh -p $(id)",
    "SSH -p shop",
]


@pytest.mark.parametrize(("line", "expected"), ACCEPTED)
def test_a2_accepted_commands(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", REFUSED)
def test_a2_everything_else_is_refused_with_one_line(line: str) -> None:
    with pytest.raises(Refused) as info:
        parse(line)
    message = str(info.value)
    assert message and "\n" not in message


def test_a2_git_request_checks_view_first() -> None:
    assert parse("git-receive-pack 'shop.git'").action == "view"


def test_a4_local_cli_words_join_as_ssh_joins_them() -> None:
    from shipway.access.commands import parse_shell_args

    assert parse_shell_args(["-p", "shop", "-e", "dev"], ["exit", "3"]) == \
        ShellRequest("shop", "dev", None, "exit 3")
    with pytest.raises(Refused):
        parse_shell_args(["-p", "shop", "-e", "a;b"], [])


def test_a4_the_local_cli_line_keeps_the_command_exactly() -> None:
    from shipway.cli.ssh import session_line

    command = ("python3", "-c", "\"import os; print('a  b')\"", ";", "exit", "3")
    line = session_line("shop", "main", None, command)
    assert parse(line) == ShellRequest("shop", "main", None, " ".join(command))
    assert parse(session_line("shop", "dev", "web", ())) == ShellRequest("shop", "dev", "web")
