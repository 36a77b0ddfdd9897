"""Parser limits (S5, issue 9 item 7): the time to refuse hostile configs and the
parsing process's peak RSS, against the largest configs the caps still accept.

    .venv/bin/python bench/parser_limits.py [--runs 3]
    sudo .venv/bin/python bench/parser_limits.py --push   # against a real shipway

Each case runs `load_project()` in a fresh Python process (as the control plane
calls it), so its peak RSS (VmHWM) is that case's alone; "baseline" is the
same process having imported shipway and read nothing. With --push, a real
`shipway serve` (tests/e2e's fixture) gets the alias bomb, the nesting and the
8 MB config as pushes, and the control plane's VmHWM is printed after each,
with the push's wall time (git included). Prints figures; asserts nothing.
The issue's figures before the caps: the alias bomb held the control plane at
2 GB RSS for 167 s; a 50 MB file parsed for 62 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAD = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\nvariables:\n  env:\n"

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
CHILD = """
import json, re, sys, time
sys.path.insert(0, sys.argv[2])
from shipway.config import load_project
from shipway.errors import ShipwayError
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1])
base = hwm()
start = time.perf_counter()
try:
    load_project(sys.argv[1]); outcome = "accepted"
except ShipwayError as exc:
    outcome = str(exc).splitlines()[0][:90]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "base_kb": base, "peak_kb": hwm(), "outcome": outcome}))
"""


def bomb() -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return HEAD + "".join(f"    {line}\n" for line in lines)


def lines_of(size: int, width: int = 100) -> str:
    """`size` bytes of block-style variables, the common shape of a big config."""
    line = "    V{:06d}: '" + "x" * width + "'\n"
    count = (size - len(HEAD)) // len(line.format(0))
    return HEAD + "".join(line.format(i) for i in range(count))


def flow_values(size: int) -> str:
    """One JSON line of short values: the slowest shape per byte for ruamel."""
    count = (size - len(HEAD) - 20) // len('"k000000": 1, ')
    return HEAD + "    X: {" + ", ".join(f'"k{i:06d}": 1' for i in range(count)) + "}\n"


CASES = {
    "alias bomb 9 levels of 9": bomb,
    "10,000-level nesting": lambda: HEAD + "    X: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "8 MB config": lambda: lines_of(8_000_000),
    "50 MB config": lambda: lines_of(50_000_000),
    "1 MiB block style (the per-file cap)": lambda: lines_of(2**20),
    "1 MiB flow style, 75k values (ruamel's slowest)": lambda: flow_values(2**20),
    "90 kB app config (near the PLATFORM_APPLICATION cap)": lambda: lines_of(90_000),
    "ordinary config (stdlib test app)": lambda: (Path(__file__).resolve().parents[1] / "tests"
                                                   / "e2e" / "apps" / "stdlib"
                                                   / ".platform.app.yaml").read_text(),
}


def run(text: str) -> dict:
    with tempfile.TemporaryDirectory() as repo:
        (Path(repo) / ".platform.app.yaml").write_text(text)
        out = subprocess.run([sys.executable, "-c", CHILD, repo, str(SRC)], capture_output=True,
                             text=True, check=True).stdout
    return json.loads(out)


def hwm_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def pushes() -> None:
    import time

    sys.path.insert(0, str(SRC.parent))
    from tests.e2e.conftest import STDLIB, commit, make_repo, push, running_shipway

    base = ("name: app\ntype: python:3.11\nmounts:\n  scratch: {source: tmp}\n"
            "web:\n  commands:\n    start: python3 app.py\nvariables:\n  env:\n")
    attacks = {name: CASES[name]().replace(HEAD, base) for name in
               ("alias bomb 9 levels of 9", "10,000-level nesting", "8 MB config")}
    with running_shipway() as sw, tempfile.TemporaryDirectory() as tmp:
        assert sw.proc is not None
        repo = make_repo(Path(tmp) / "repo")
        (repo / "app.py").write_text((STDLIB / "app.py").read_text())
        (repo / ".platform.app.yaml").write_text(base + "    A: b\n")
        commit(repo, "v1")
        remote = sw.create_project("bench")
        assert push(repo, remote).returncode == 0
        print(f"control plane VmHWM after a first deploy: {hwm_mb(sw.proc.pid):.0f} MB")
        for name, text in attacks.items():
            (repo / ".platform.app.yaml").write_text(text)
            commit(repo, name)
            start = time.perf_counter()
            out = push(repo, remote)
            took = time.perf_counter() - start
            refused = out.returncode != 0 and "Error parsing configuration" in out.stdout + out.stderr
            print(f"{name:<28} push refused: {refused}  {took:6.2f} s  "
                  f"control plane VmHWM: {hwm_mb(sw.proc.pid):.0f} MB")
            subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "HEAD~1"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--push", action="store_true", help="push the attacks to a shipway")
    args = parser.parse_args()
    if args.push:
        pushes()
        return
    print(f"{'case':<52} {'size':>9} {'seconds (median)':>17} {'peak RSS':>9} "
          f"{'over baseline':>13}  outcome")
    for name, make in CASES.items():
        text = make()
        results = [run(text) for _ in range(args.runs)]
        seconds = statistics.median(r["seconds"] for r in results)
        peak = max(r["peak_kb"] for r in results) / 1024
        over = max(r["peak_kb"] - r["base_kb"] for r in results) / 1024
        size = len(text.encode())
        shown = f"{size / 2**20:.1f} MiB" if size > 2**20 else f"{size / 1024:.0f} kB"
        print(f"{name:<52} {shown:>9} {seconds:>17.3f} {peak:>6.0f} MB {over:>10.0f} MB"
              f"  {results[0]['outcome']}")


if __name__ == "__main__":
    main()
