#!/usr/bin/env python3
"""Set-up and run in one command, on a machine with only Python 3.11+ and pip.

    python3 dev.py run     # the bot on embedded defaults; prints the webhook URL and dev secrets
    python3 dev.py test    # the whole test suite, on up to 4 processes (arguments given go to pytest instead)
    python3 dev.py check   # ruff (lint + import order), mypy, import-linter (the layer rules)
    python3 dev.py install # only the set-up the others do
    python3 dev.py lock    # re-resolve requirements*.lock from pyproject.toml (--upgrade: newest allowed)

Creates `.venv` and installs into it the first time, and again whenever pyproject.toml or a lock file
changes: the pinned, hash-checked dependencies of requirements-dev.lock (runtime, fakeredis, tests,
checkers), then the project itself, editable and without dependencies.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
RUNTIME_LOCK = ROOT / "requirements.lock"  # production: pip install --require-hashes -r requirements.lock
DEV_LOCK = ROOT / "requirements-dev.lock"  # runtime + fakeredis + pytest, playwright + ruff, mypy, ...
STAMPED = (ROOT / "pyproject.toml", RUNTIME_LOCK, DEV_LOCK)


def install_commands(python: str | Path) -> list[list[str]]:
    """What `ensure_env` runs (and .ci/run's install step): the dev lock, then the project alone."""
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    return [[*pip, "--require-hashes", "-r", str(DEV_LOCK)],
            # no isolation: builds with the locked setuptools, no download; no deps: the lock has them all
            [*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)]]


def create_venv() -> None:
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)


def ensure_env() -> None:
    digest = hashlib.sha256(b"".join(hashlib.sha256(f.read_bytes()).digest() for f in STAMPED)).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    create_venv()
    print(f"installing {DEV_LOCK.name} into .venv ...", flush=True)
    for cmd in install_commands(BIN / "python"):
        subprocess.run(cmd, check=True)
    STAMP.write_text(digest)


def lock(args: list[str]) -> int:
    """Both locks with uv (universal: every platform's hashes, Python 3.11+), the runtime one inside the dev one."""
    create_venv()
    if subprocess.call([str(BIN / "python"), "-m", "uv", "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) != 0:
        subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "uv"], check=True)
    compile_ = [str(BIN / "python"), "-m", "uv", "pip", "compile", "-q", "pyproject.toml", "--universal",
                "--python-version", "3.11", "--generate-hashes", "--custom-compile-command", "python3 dev.py lock",
                *args]
    subprocess.run([*compile_, "--extra", "dev", "-o", DEV_LOCK.name], cwd=ROOT, check=True)
    subprocess.run([*compile_, "-c", DEV_LOCK.name, "-o", RUNTIME_LOCK.name], cwd=ROOT, check=True)
    print(f"wrote {RUNTIME_LOCK.name} and {DEV_LOCK.name}; `python3 dev.py test` installs them")
    return 0


def parallel() -> list[str]:
    """The whole suite on up to 4 processes (pytest-xdist), one test file per process at a time: a file's tests
    share module fixtures (one app, one browser). Each process takes its own Redis database (tests/support.py)."""
    workers = min(os.cpu_count() or 1, 4)
    return ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []


CHECKS = (("ruff", ["ruff", "check", "."]), ("mypy", ["mypy"]), ("import-linter", ["lint-imports"]))


def check() -> int:
    """Every checker, each named with its verdict; the exit code fails if any failed."""
    failed = []
    for name, cmd in CHECKS:
        print(f"--- {name}", flush=True)
        if subprocess.call([str(BIN / cmd[0]), *cmd[1:]]) != 0:
            failed.append(name)
    print(f"checks failed: {', '.join(failed)}" if failed else "checks passed: " + ", ".join(n for n, _ in CHECKS))
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "check", "install", "lock"):
        print(__doc__)
        return 2
    if argv[0] == "lock":  # works before the locks exist; the next run or test installs what it wrote
        return lock(argv[1:])
    ensure_env()
    if argv[0] == "install":
        return 0
    os.chdir(ROOT)
    if argv[0] == "check":
        return check()
    if argv[0] == "run":
        cmd = [str(BIN / "python"), "-m", "bot.cli", "run", *argv[1:]]
    else:
        cmd = [str(BIN / "python"), "-m", "pytest", *(argv[1:] or parallel())]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
