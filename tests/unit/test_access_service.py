"""A1-A3, A5: the access service on a real SQLite store and real ssh-keygen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipway.access.model import OPERATOR, TOKEN_PREFIX
from shipway.access.service import Access
from shipway.errors import Forbidden, NotFound, UsageError
from shipway.state.store import Store

TYPES = {"main": "production", "stage": "staging", "feat": "development"}


def _env_type(project: str, env: str) -> str:
    if env not in TYPES:
        raise NotFound(env)
    return TYPES[env]


@pytest.fixture
def access(tmp_path: Path) -> Access:
    return Access(Store(tmp_path / "state.db"), _env_type)


def keypair(tmp_path: Path, name: str = "id") -> Path:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop",
                    "-f", str(key)], check=True)
    return key


def alice(access: Access) -> None:
    access.add_user(OPERATOR, "shop", "Alice@Example.com",
                    ["viewer", "development:contributor", "staging:contributor"])


def test_a1_user_add_and_require(access: Access) -> None:
    alice(access)
    member = access.get_user(OPERATOR, "shop", "alice@example.com")
    actor = access.actor_by_id(member.user_id)
    assert actor is not None and actor.email == "alice@example.com"
    access.require(actor, "push", "shop", "feat")
    with pytest.raises(Forbidden, match="alice@example.com.*production:contributor"):
        access.require(actor, "push", "shop", "main")
    with pytest.raises(Forbidden, match="no role on this project"):
        access.require(actor, "view", "other")


def test_a1_only_a_project_admin_manages_users(access: Access) -> None:
    alice(access)
    actor = access.actor_by_id(access.get_user(OPERATOR, "shop", "alice@example.com").user_id)
    assert actor is not None
    with pytest.raises(Forbidden, match="project admin"):
        access.add_user(actor, "shop", "bob@example.com", ["admin"])
    access.update_user(OPERATOR, "shop", "alice@example.com", ["admin"])
    access.add_user(actor, "shop", "bob@example.com", ["viewer"])
    assert [m.email for m in access.list_users(actor, "shop")] == [
        "alice@example.com", "bob@example.com"]


@pytest.mark.parametrize("email", ["", "alice", "a@b", "a b@example.com", "x'; DROP TABLE--@e.com",
                                   "a@example.com\n", "é@example.com", "a" * 300 + "@example.com"])
def test_a1_bad_emails_are_refused(access: Access, email: str) -> None:
    with pytest.raises(UsageError):
        access.add_user(OPERATOR, "shop", email, ["viewer"])


def test_a1_bad_roles_are_refused_and_nothing_added(access: Access) -> None:
    with pytest.raises(UsageError, match="--role"):
        access.add_user(OPERATOR, "shop", "a@example.com", ["owner"])
    assert access.list_users(OPERATOR, "shop") == []


def test_a2_keys_fingerprinted_as_ssh_keygen_does(access: Access, tmp_path: Path) -> None:
    alice(access)
    key = keypair(tmp_path)
    pub = key.with_suffix(".pub").read_bytes()
    added = access.add_key(OPERATOR, "alice@example.com", pub)
    expected = subprocess.run(["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True,
                              text=True, check=True).stdout.split()[1]
    assert added.fingerprint == expected and expected.startswith("SHA256:")
    actor = access.actor_for_key(expected)
    assert actor is not None and actor.email == "alice@example.com"
    assert access.authorized_keys() == [(expected, pub.decode().strip())]
    with pytest.raises(UsageError, match="already added"):
        access.add_key(OPERATOR, "alice@example.com", pub)


@pytest.mark.parametrize(("content", "message"), [
    (b"garbage", "not an OpenSSH public key"),
    (b"ssh-ed25519 AAAAnotbase64!!", "not an OpenSSH public key"),
    (b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDEADBEEF", "ssh-keygen cannot read"),
    (b'command="sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA', "options"),
    (b"x" * 20000, "bytes"),
    (b"", "one public key line"),
])
def test_a2_bad_key_files_are_refused(access: Access, content: bytes, message: str) -> None:
    alice(access)
    with pytest.raises(UsageError, match=message):
        access.add_key(OPERATOR, "alice@example.com", content)
    assert access.authorized_keys() == []


def test_a2_private_keys_and_two_keys_are_refused(access: Access, tmp_path: Path) -> None:
    alice(access)
    key = keypair(tmp_path)
    with pytest.raises(UsageError, match="PRIVATE"):
        access.add_key(OPERATOR, "alice@example.com", key.read_bytes())
    two = key.with_suffix(".pub").read_bytes() + keypair(tmp_path, "b").with_suffix(".pub").read_bytes()
    with pytest.raises(UsageError, match="has 2"):
        access.add_key(OPERATOR, "alice@example.com", two)


def test_a2_comment_is_cleaned(access: Access, tmp_path: Path) -> None:
    alice(access)
    pub = keypair(tmp_path).with_suffix(".pub").read_bytes().split()
    line = pub[0] + b" " + pub[1] + b' evil",command="x'
    key = access.add_key(OPERATOR, "alice@example.com", line)
    assert '"' not in key.public_key and "," not in key.public_key


def test_a3_token_shown_once_stored_hashed(access: Access, tmp_path: Path) -> None:
    alice(access)
    token, record = access.create_token(OPERATOR, "alice@example.com", "laptop")
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    actor = access.actor_for_token(token)
    assert actor is not None and actor.email == "alice@example.com"
    assert token not in (tmp_path / "state.db").read_bytes().decode("latin-1")
    assert access.actor_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    access.delete_token(OPERATOR, record.id)
    assert access.actor_for_token(token) is None


def test_a2_a3_removing_a_user_removes_keys_tokens_and_tells_listeners(access: Access,
                                                                       tmp_path: Path) -> None:
    calls: list[int] = []
    access.on_keys_changed(lambda: calls.append(1))
    alice(access)
    fingerprint = access.add_key(OPERATOR, "alice@example.com",
                                 keypair(tmp_path).with_suffix(".pub").read_bytes()).fingerprint
    token, _ = access.create_token(OPERATOR, "alice@example.com", "ci")
    access.delete_user(OPERATOR, "shop", "alice@example.com")
    assert access.actor_for_key(fingerprint) is None
    assert access.actor_for_token(token) is None
    assert access.authorized_keys() == []
    assert len(calls) == 3


def test_a2_a3_keys_and_tokens_of_others_are_not_yours(access: Access) -> None:
    alice(access)
    access.add_user(OPERATOR, "shop", "bob@example.com", ["admin"])
    bob = access.actor_by_id(access.get_user(OPERATOR, "shop", "bob@example.com").user_id)
    assert bob is not None
    with pytest.raises(Forbidden):
        access.create_token(bob, "alice@example.com", "stolen")
    token, _ = access.create_token(bob, "bob@example.com", "mine")
    assert [t.name for t in access.list_tokens(bob)] == ["mine"]
    assert token
