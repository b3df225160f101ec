"""The wheel, installed as the README's Production section says, runs a service with no checkout around it.

How, without downloading anything:
- the wheel is built from a copy of the checkout (`pip wheel --no-deps --no-build-isolation`: the
  locked setuptools of this .venv) and installed with `--no-deps` into a fresh venv in a temp folder;
- that venv reaches its dependencies through a .pth file naming this .venv's site-packages, which
  `test_venv_is_the_lock` shows to hold requirements.lock's pins, while
  `test_wheel_requires_what_the_lock_pins` shows the wheel declares exactly what that lock satisfies
  (and fakeredis only in its `embedded` extra). Together: wheel contents + its declared dependencies.
- from another folder it runs `flask --app bot.wsgi db upgrade`, `products sync`, then
  `gunicorn bot.wsgi:app`, which answers a signed WeChat message and serves the page it links to:
  config.yaml, content/, templates, migrations and entry points all come from the wheel.
Embedded (SQLite + the in-process Redis stand-in, allowed by BOT_ALLOW_MEMORY_REDIS=1) always; real
Redis and PostgreSQL (REDIS_URL / DATABASE_URL) in the `servers` variant.
"""
from __future__ import annotations

import os
import re
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.devtools import sender as build
from bot.devtools.fake_api import FakeWeChatAPI
from bot.devtools.sender import WeChatSender
from tests.support import APPID, TOKEN

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", "*.egg-info", "build", "dist",
                                     ".pytest_cache", "tests", "bench", "docs", "*.sqlite3*", "node_modules")


def pins(lock: Path) -> dict[str, tuple[str, Requirement]]:
    """name -> (version, requirement with its marker) for each `name==version` line of a lock file."""
    out: dict[str, tuple[str, Requirement]] = {}
    for line in lock.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            req = Requirement(line.rstrip(" \\"))
            (spec,) = req.specifier
            out[str(canonicalize_name(req.name))] = (spec.version, req)
    return out


# --- the wheel -----------------------------------------------------------------------------------
@dataclass
class Installed:
    wheel: Path
    python: Path
    bin: Path
    elsewhere: Path  # a folder with no project files in it, where the service is started


def run(cmd: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building writes build/ and *.egg-info, and others share the checkout
    shutil.copytree(ROOT, src, symlinks=True, ignore=NOT_SHIPPED)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", src])
    (found,) = (tmp / "dist").glob("yijiyou_seoul-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("installed")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # This .venv's pip installs into the new venv (which sees nothing else yet), without dependencies.
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel])
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    # Only now the dependencies: appended after the venv's own site-packages, so the wheel's `bot` wins.
    (purelib / "_locked_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return Installed(wheel, python, env_dir / "bin", elsewhere)


def test_wheel_carries_the_service(wheel: Path) -> None:
    """Every file of bot/ and handlers/ (code, migrations, simulator page), config.yaml and all of content/."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for top in ("bot", "handlers") for p in (ROOT / top).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    expected |= {f"bot/_data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "content").rglob("*") if p.is_file()}
    assert {"bot/_data/config.yaml", "bot/wsgi.py", "bot/infra/db/migrations/script.py.mako"} <= expected
    missing = sorted(expected - names)
    assert not missing, f"{len(missing)} files missing from the wheel (pyproject.toml package-data?): {missing[:8]}"
    assert not any(n.startswith(("tests/", "bench/", "var/", "content/")) or n.endswith(".sqlite3") for n in names)


def test_wheel_requires_what_the_lock_pins(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(meta_name).decode())
    runtime, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    base = [r for r in requires if r.marker is None or r.marker.evaluate({"extra": ""})]
    assert base, "the wheel declares no dependencies"
    for req in base:
        name = str(canonicalize_name(req.name))
        assert name in runtime, f"{req} is not in requirements.lock"
        assert req.specifier.contains(runtime[name][0], prereleases=True), \
            f"requirements.lock pins {name}=={runtime[name][0]}, outside the wheel's {req}"
    for extra in req_extras(requires):  # e.g. wechatpy[cryptography] -> cryptography must be pinned
        assert extra in runtime, f"{extra} (an extra's dependency) is not in requirements.lock"
    embedded = [r for r in requires if r.marker is not None and r.marker.evaluate({"extra": "embedded"})
                and r not in base]
    assert [canonicalize_name(r.name) for r in embedded] == ["fakeredis"]
    assert "fakeredis" not in runtime and "lupa" not in runtime, "production installs must leave fakeredis out"
    assert "fakeredis" in dev and "lupa" in dev
    for name, (version, _) in runtime.items():  # one resolution: the dev lock contains the runtime one
        assert dev.get(name, (None,))[0] == version, f"{name}: {version} in requirements.lock, not in the dev lock"
    for checker in ("pytest", "playwright", "ruff", "mypy", "import-linter", "types-pyyaml", "types-requests"):
        assert checker in dev, checker
    floors = {"gunicorn": "23", "jinja2": "3.1.6", "werkzeug": "3.1.4", "requests": "2.32.4", "urllib3": "2.6",
              "cryptography": "46.0.5"}
    for name, floor in floors.items():  # no pin back into a version with a known advisory
        assert Version(runtime[name][0]) >= Version(floor), f"{name} {runtime[name][0]} < {floor}"


def req_extras(requires: list[Requirement]) -> set[str]:
    """Packages that the base requirements' extras pull in, as far as the .venv's metadata tells."""
    out: set[str] = set()
    for req in requires:
        if req.extras and (req.marker is None or req.marker.evaluate({"extra": ""})):
            for line in metadata.requires(req.name) or []:
                sub = Requirement(line)
                if sub.marker and any(sub.marker.evaluate({"extra": e}) for e in req.extras) \
                        and not sub.marker.evaluate({"extra": ""}):
                    out.add(str(canonicalize_name(sub.name)))
    return out


def test_venv_is_the_lock() -> None:
    """The install test borrows this .venv's packages: they must be requirements.lock's, version for version."""
    wrong = []
    for name, (version, req) in pins(ROOT / "requirements.lock").items():
        if req.marker is not None and not req.marker.evaluate():  # this interpreter and platform
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have == "missing" or Version(have) != Version(version):
            wrong.append(f"{name}: lock {version}, .venv {have}")
    assert not wrong, "the .venv differs from requirements.lock (python3 dev.py test reinstalls): " + "; ".join(wrong)


def test_memory_redis_without_fakeredis_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.infra.config import ConfigError
    from bot.infra.redis_conn import connect

    monkeypatch.setitem(sys.modules, "fakeredis", None)  # as in a production install
    with pytest.raises(ConfigError) as raised:
        connect("memory://no-extra", 0.5)
    assert "fakeredis" in str(raised.value) and "yijiyou-seoul[embedded]" in str(raised.value)
    assert "REDIS_URL" in str(raised.value)


# --- the installed service -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(installed: Installed, redis_url: str, database_url: str, port: int, api: str) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "TMPDIR") if k in os.environ}
    # HOME: gunicorn keeps a control socket there; this one must not meet another test's gunicorn
    return {**keep, "HOME": str(installed.elsewhere), "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": "install-test-secret", "WECHAT_API_BASE_URL": api, "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PYTHONDONTWRITEBYTECODE": "1",
            **({"BOT_ALLOW_MEMORY_REDIS": "1"} if redis_url.startswith("memory://") else {})}


@pytest.fixture(params=["embedded", pytest.param("servers", marks=pytest.mark.servers)])
def storage(request: pytest.FixtureRequest, installed: Installed) -> tuple[str, str]:
    if request.param == "servers":
        from tests.support import REDIS_URL

        request.getfixturevalue("real_redis")
        return REDIS_URL, request.getfixturevalue("pg_url")
    return "memory://install-test", f"sqlite:///{installed.elsewhere / 'bot.sqlite3'}"


@pytest.fixture
def service(installed: Installed, storage: tuple[str, str], fake_api: FakeWeChatAPI) -> Iterator[str]:
    port = free_port()
    env = service_env(installed, *storage, port, fake_api.base_url)
    py, where = installed.python, installed.elsewhere
    found = run([py, "-c", "import bot, bot.infra.config as c; print(bot.__file__); print(c.DEFAULT_FILE)"],
                cwd=where, env=env).stdout.split()
    assert all(Path(f).is_relative_to(installed.bin.parent) for f in found), f"not the wheel's bot: {found}"
    assert found[1].endswith("bot/_data/config.yaml")
    run([installed.bin / "yijiyou", "--help"], cwd=where, env=env)
    # The README's Production steps, as an operator runs them.
    run([py, "-m", "flask", "--app", "bot.wsgi", "db", "upgrade"], cwd=where, env=env)
    run([py, "-m", "flask", "--app", "bot.wsgi", "products", "sync"], cwd=where, env=env)
    log = where / f"gunicorn-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([py, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "bot.wsgi:app"],
                                cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:  # refused, reset, or a worker still booting (timeout)
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer /healthz:\n{log.read_text()}"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_installed_service_answers_wechat(service: str, openid: str) -> None:
    sender = WeChatSender(TOKEN, mode="plain")
    req = sender.request(build.text(openid, "景福宫几点开门"))
    http = urllib.request.Request(f"{service}/wechat?{req.query_string}", data=req.body, method="POST",
                                  headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(http, timeout=10) as r:
        reply = sender.read_reply(r.read())
    assert "<MsgType><![CDATA[news]]></MsgType>" in reply and "景福宫" in reply, reply
    url = re.search(r"<Url><!\[CDATA\[(.*?)\]\]></Url>", reply)
    assert url and url.group(1).startswith(service), reply
    with urllib.request.urlopen(url.group(1), timeout=10) as r:  # the page template, from the wheel
        assert r.status == 200 and "景福宫" in r.read().decode()
    with urllib.request.urlopen(f"{service}/readyz", timeout=10) as r:
        assert r.status == 200
