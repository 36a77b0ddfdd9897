"""A2: what shipway writes for OpenSSH — sshd_config and authorized_keys lines (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.access.sshd import (
    authorized_keys_text,
    host_sshd_lines,
    key_line,
    ssh_settings,
    sshd_config,
)
from shipway.errors import UsageError

FP = "SHA256:" + "A" * 43
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOz0c5m1d9jZ5JkQf7t7qkqkqkqkqkqkqkqkqkqkqkqk"
S = ssh_settings(Path("/srv/shipway"), "127.0.0.1", {"SHIPWAY_SSH_PORT": "2222"})


def test_a2_key_line_forces_the_gate_and_restricts() -> None:
    line = key_line(FP, KEY + " alice@laptop", S)
    assert line is not None
    assert line.startswith(f'command="/usr/bin/python3 -I {S.gate} --socket {S.socket} --key {FP}"'
                           ",restrict,pty ssh-ed25519 ")
    assert "alice@laptop" not in line  # the comment never reaches the file


@pytest.mark.parametrize(("fingerprint", "key"), [
    ("SHA256:short", KEY),
    (FP + '" bash', KEY),
    (FP, "ssh-ed25519"),
    (FP, 'command="id" ' + KEY),
    (FP, "ssh-dss AAAAB3NzaC1kc3MAAACBAP"),
    (FP, "ssh-ed25519 AAAA\nssh-ed25519 BBBB"),
    (FP, "ssh-ed25519 AAAA;id"),
])
def test_a2_malformed_keys_are_left_out(fingerprint: str, key: str) -> None:
    assert key_line(fingerprint, key, S) is None


def test_a2_a_newline_in_a_comment_adds_no_line() -> None:
    text, bad = authorized_keys_text([(FP, KEY + " x\ncommand=\"id\" ssh-ed25519 AAAA"),
                                      (FP, "junk")], S)
    assert bad == 1 and text.count("\n") == 1 and 'command="id"' not in text


def test_a2_sshd_config_allows_keys_of_the_ssh_user_only() -> None:
    config = sshd_config(S, [Path("/srv/shipway/ssh/host_key")])
    for line in ("Port 2222", "ListenAddress 127.0.0.1", "AllowUsers shipway",
                 "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
                 "PermitUserEnvironment no", "DisableForwarding yes", "AllowTcpForwarding no",
                 "AllowAgentForwarding no", "X11Forwarding no", "PermitTunnel no",
                 "PermitRootLogin no", f"AuthorizedKeysFile {S.authorized_keys}"):
        assert line in config.splitlines()
    assert "AcceptEnv" not in config and "Subsystem" not in config


def test_a2_host_sshd_lines_are_a_match_block() -> None:
    lines = [line for line in host_sshd_lines(S).splitlines() if not line.startswith("#")]
    assert lines[0] == "Match User shipway"
    assert "useradd --system" in host_sshd_lines(S)
    assert "    DisableForwarding yes" in lines and all(line.startswith("    ") for line in lines[1:])


def test_a2_runtime_dir_is_outside_the_home_and_per_instance() -> None:
    other = ssh_settings(Path("/srv/other"), "", {})
    assert S.runtime_dir.parent == Path("/run/shipway") and S.runtime_dir != other.runtime_dir
    assert other.port is None and other.user == "shipway"


@pytest.mark.parametrize("environ", [{"SHIPWAY_SSH_PORT": "x"}, {"SHIPWAY_SSH_PORT": "70000"},
                                     {"SHIPWAY_SSH_USER": "root;id"}])
def test_a2_bad_ssh_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        ssh_settings(Path("/srv"), "", environ)


def test_a2_the_ssh_remote_names_user_host_port_and_project() -> None:
    from shipway.access.sshd import ssh_remote

    assert ssh_remote(S, "example.org", "shop") == "ssh://shipway@example.org:2222/shop.git"
    on_22 = ssh_settings(Path("/srv"), "", {"SHIPWAY_SSH_PORT": "22", "SHIPWAY_SSH_USER": "git"})
    assert ssh_remote(on_22, "h", "shop") == "ssh://git@h/shop.git"
    assert ssh_remote(ssh_settings(Path("/srv"), "", {}), "h", "shop") is None


def test_a2_a_locked_ssh_user_is_noticed(tmp_path: Path) -> None:
    from shipway.access.sshd import locked_password

    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:1::::::\nshipway:!:19000::::::\ngit:*:19000::::::\n")
    assert locked_password("shipway", shadow) and not locked_password("git", shadow)
    assert not locked_password("nobody-here", shadow)
