"""The release as a user gets it: `python -m build` makes an sdist and a wheel without a
warning, `twine check --strict` passes, and the wheel — installed into a fresh virtualenv, not
editable, from a folder outside this tree — runs `cnncalc zoo`, `cnncalc check` and
`python -m cnncalc --version`. A package-data file left out of the wheel (a zoo or block
library YAML, py.typed) fails here, and so does a dependency lower bound that is not enough.

Needs the package registries (build's isolated environment installs setuptools; the venvs
install cnncalc's dependencies), as `.ci/run` does.
"""

from __future__ import annotations

import email
import email.message
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from cnncalc.version import __version__

ROOT = Path(__file__).resolve().parent.parent
VALID = "name: ok\ninput: 32x32x3\nlayers:\n  - conv(16, 5, p=2)\n  - relu\n  - maxpool(2)\n"
BROKEN = ("name: broken\ninput: 28x28x1\nlayers:\n  - conv(32, 3)\n  - maxpool(2)\n"
          "  - conv(64, 3)\n  - maxpool(2)\n")
# PYTHONDONTWRITEBYTECODE (set on the development machines) makes setuptools warn that it
# skips byte-compiling: a fact about this shell, not about the package, so builds run without it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sh(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env={**ENV, "NO_COLOR": "1"}, timeout=timeout)
    return proc


def ok(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    proc = sh(*args, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def package_files() -> set[str]:
    """Every file of the package in this tree, as a wheel names it (cnncalc/...)."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "cnncalc").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(wheel, sdist, build's output) from a copy of this tree (nothing is written into it)."""
    src = tmp_path_factory.mktemp("cnncalc-src")
    ignore = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", ".*_cache",
                                    "build", "dist")
    shutil.copytree(ROOT, src, dirs_exist_ok=True, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    proc = sh(sys.executable, "-m", "build", "--outdir", out, src, cwd=src)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    (wheel,) = out.glob("cnncalc-*.whl")
    (sdist,) = out.glob("cnncalc-*.tar.gz")
    return wheel, sdist, log


@pytest.fixture(scope="module")
def metadata(dist: tuple[Path, Path, str]) -> email.message.Message:
    with zipfile.ZipFile(dist[0]) as whl:
        return email.message_from_bytes(whl.read(f"cnncalc-{__version__}.dist-info/METADATA"))


def venv(where: Path, *requirements: str | Path) -> Path:
    """A fresh virtualenv (no system site-packages) with a PEP 639-aware pip and ``requirements``;
    returns its bin folder."""
    ok(sys.executable, "-m", "venv", where, cwd=where.parent)
    bin_ = where / "bin"
    # pip before 25.1 neither shows License-Expression nor checks it; users have a newer one
    ok(bin_ / "python", "-m", "pip", "install", "-q", "pip>=25.1", cwd=where.parent)
    ok(bin_ / "python", "-m", "pip", "install", "-q", *requirements, cwd=where.parent)
    return bin_


def test_build_makes_a_wheel_and_an_sdist_without_a_warning(dist: tuple[Path, Path, str]
                                                             ) -> None:
    wheel, sdist, log = dist
    assert wheel.name == f"cnncalc-{__version__}-py3-none-any.whl"
    assert sdist.name == f"cnncalc-{__version__}.tar.gz"
    warnings = [line for line in log.splitlines() if re.search(r"warn", line, re.I)]
    assert warnings == [], "\n".join(warnings)


def test_twine_check_passes(dist: tuple[Path, Path, str], tmp_path: Path) -> None:
    out = ok(sys.executable, "-m", "twine", "check", "--strict", dist[0], dist[1], cwd=tmp_path)
    assert out.count("PASSED") == 2, out


def test_the_wheel_holds_every_package_file_and_the_license(dist: tuple[Path, Path, str]
                                                            ) -> None:
    with zipfile.ZipFile(dist[0]) as whl:
        names = set(whl.namelist())
    in_package = {n for n in names if n.startswith("cnncalc/")}
    assert in_package == package_files()
    assert {"cnncalc/py.typed", "cnncalc/zoo/resnet50.yaml"} <= in_package
    assert f"cnncalc-{__version__}.dist-info/licenses/LICENSE" in names


def test_the_sdist_rebuilds_and_tests_a_release(dist: tuple[Path, Path, str]) -> None:
    with tarfile.open(dist[1]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert package_files() <= names
    tests = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert tests <= names
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", ".pre-commit-hooks.yaml",
            ".ci/run"} <= names


def test_metadata_for_a_public_release(metadata: email.message.Message) -> None:
    assert metadata["Name"] == "cnncalc"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["License"] is None  # the SPDX expression replaces the free-text field
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = metadata.get_all("Classifier") or []
    for wanted in ("Typing :: Typed", "Operating System :: OS Independent",
                   "Environment :: Console", "Intended Audience :: Science/Research",
                   "Programming Language :: Python :: 3.11"):
        assert wanted in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: expression only
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert metadata["Author"] and metadata["Keywords"]
    requires = metadata.get_all("Requires-Dist") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert {re.split(r"[<>=!~ ;]", r)[0] for r in runtime} == {
        "click", "rich", "numpy", "PyYAML", "threadpoolctl"}
    assert all(re.fullmatch(r"[A-Za-z]+>=[0-9.]+", r) for r in runtime), runtime
    assert "torch" not in " ".join(runtime)
    assert metadata.get_payload().startswith("# cnncalc")  # the README, as markdown
    assert metadata["Description-Content-Type"] == "text/markdown"


def check_installed(bin_: Path, work: Path) -> None:
    """The installed command works from a folder with no cnncalc source in sight."""
    where = ok(bin_ / "python", "-c", "import cnncalc; print(cnncalc.__file__)", cwd=work)
    assert Path(where.strip()).is_relative_to(bin_.parent), where
    zoo = ok(bin_ / "cnncalc", "zoo", cwd=work)
    assert re.search(r"^resnet50 +224×224×3 +25,557,032 ", zoo, re.M), zoo
    assert len(zoo.splitlines()) == 1 + len(list((ROOT / "cnncalc" / "zoo").glob("*.yaml")))
    (work / "ok.cnn.yaml").write_text(VALID)
    (work / "bad.cnn.yaml").write_text(BROKEN)
    proc = sh(bin_ / "cnncalc", "check", "ok.cnn.yaml", cwd=work)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout + proc.stderr
    proc = sh(bin_ / "cnncalc", "check", "ok.cnn.yaml", "bad.cnn.yaml", cwd=work)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.cnn.yaml:7:5: G001 [error]" in proc.stdout
    # the forward pass (numpy, threadpoolctl) proves the shapes: every row verified
    proc = sh(bin_ / "cnncalc", "summary", "cs231n", "--verify", "--format", "json", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"verified": true' in proc.stdout and '"verified": false' not in proc.stdout
    version = ok(bin_ / "python", "-c",
                 "import importlib.metadata as m; print(m.version('cnncalc'))", cwd=work).strip()
    assert version == __version__
    assert ok(bin_ / "python", "-m", "cnncalc", "--version", cwd=work) == \
        f"cnncalc, version {version}\n"
    assert ok(bin_ / "cnncalc", "--version", cwd=work) == f"cnncalc, version {version}\n"


def test_the_wheel_installed_in_a_fresh_venv_works(dist: tuple[Path, Path, str],
                                                    tmp_path: Path) -> None:
    bin_ = venv(tmp_path / "venv", dist[0])
    work = tmp_path / "work"
    work.mkdir()
    check_installed(bin_, work)
    shown = ok(bin_ / "python", "-m", "pip", "show", "--verbose", "cnncalc", cwd=work)
    assert "License-Expression: MIT" in shown
    assert f"Version: {__version__}" in shown
    assert "Typing :: Typed" in shown and "Intended Audience :: Science/Research" in shown
    assert re.search(r"Project-URLs:\n  Homepage, https://", shown), shown


def test_the_dependency_lower_bounds_are_enough(metadata: email.message.Message,
                                                dist: tuple[Path, Path, str],
                                                tmp_path: Path) -> None:
    """Each dependency at exactly its lowest allowed version: the bounds say what works."""
    lowest = [r.replace(">=", "==") for r in metadata.get_all("Requires-Dist") or []
              if "extra ==" not in r]
    bin_ = venv(tmp_path / "venv", *lowest)
    ok(bin_ / "python", "-m", "pip", "install", "-q", "--no-deps", dist[0], cwd=tmp_path)
    freeze = ok(bin_ / "python", "-m", "pip", "freeze", cwd=tmp_path).lower()
    for pin in lowest:
        name, version = pin.split("==")
        assert re.search(rf"^{name.lower()}=={re.escape(version)}(\.0)*$", freeze, re.M), freeze
    work = tmp_path / "work"
    work.mkdir()
    check_installed(bin_, work)
