"""What a release promises besides the wheel (tests/test_wheel.py): one version everywhere,
the pre-commit hook as the README shows it, and a changelog in Keep a Changelog form."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import cnncalc
from cnncalc.version import __version__

from .helpers import run

ROOT = Path(__file__).resolve().parent.parent
VALID = "name: ok\ninput: 32x32x3\nlayers:\n  - conv(16, 5, p=2)\n  - relu\n  - maxpool(2)\n"
ODD = "name: odd\ninput: 32x32x3\nlayers:\n  - conv(16, 3, s=2, p=1)\n  - relu\n"  # G002 note
BROKEN = ("name: broken\ninput: 28x28x1\nlayers:\n  - conv(32, 3)\n  - maxpool(2)\n"
          "  - conv(64, 3)\n  - maxpool(2)\n")


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def hook() -> dict[str, Any]:
    (only,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(only, dict)
    return only


def test_one_version_source() -> None:
    """pyproject.toml writes no version: setuptools reads cnncalc/version.py, so the installed
    metadata, `cnncalc --version` and `cnncalc.__version__` cannot drift apart."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "cnncalc.version.__version__"}
    installed = importlib.metadata.version("cnncalc")
    assert cnncalc.__version__ == __version__ == installed
    assert re.fullmatch(r"\d+\.\d+\.\d+", installed)
    assert run("--version") == (0, f"cnncalc, version {installed}\n", "")
    proc = subprocess.run([sys.executable, "-m", "cnncalc", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"cnncalc, version {installed}\n", "")


def test_the_hook_checks_yaml_files_that_name_themselves_specs() -> None:
    spec = hook()
    assert spec["id"] == "cnncalc" and spec["entry"] == "cnncalc check"
    assert spec["types"] == ["yaml"]
    files = re.compile(spec["files"])
    for path in ("net.cnn.yaml", "models/resnet.cnn.yml", "architectures/vgg.yaml",
                 "src/architecture/lenet.yml", "a/b/architectures/c/d.yaml"):
        assert files.search(path), path
    for path in ("config.yaml", ".github/workflows/ci.yml", "net.cnn.yaml.bak", "cnn.yaml",
                 "myarchitectures/x.yaml", "architectures/notes.md", "k8s/pod.yaml"):
        assert not files.search(path), path


def readme_hook_blocks() -> list[Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", readme(), re.S)
    return [yaml.safe_load(b) for b in blocks if "id: cnncalc" in b]


def test_the_readme_pins_the_hook_to_this_release() -> None:
    config, overrides = readme_hook_blocks()
    (repo,) = config["repos"]
    assert repo["rev"] == f"v{__version__}"  # the tag of this release (bump with the version)
    assert repo["repo"].startswith("https://")
    assert repo["hooks"] == [{"id": "cnncalc"}]
    # the default pattern the README quotes is the hook's own
    assert f"`{hook()['files']}`" in readme()
    assert all(h["id"] == "cnncalc" and re.compile(h["files"]) for h in overrides)


@pytest.mark.parametrize("text,default,strict", [(VALID, 0, 0), (ODD, 0, 1), (BROKEN, 1, 1)])
def test_the_readme_hook_arguments_are_check_options(tmp_path: Path, text: str, default: int,
                                                     strict: int) -> None:
    """Each `args:` the README shows is what pre-commit passes before the file names, and
    check takes them: the strict one fails on ODD's G002 ((32 − 3 + 2·1)/2 + 1 = 16.5, only
    padding unread: a note by default, an error under --strict), the other passes it."""
    _, overrides = readme_hook_blocks()
    spec = tmp_path / "net.cnn.yaml"
    spec.write_text(text)
    status, out, err = run("check", str(spec))
    assert status == default, out + err
    for override in overrides:
        status, out, err = run("check", *override["args"], str(spec))
        assert err == "" or "Error" not in err, err
        expected = strict if "--strict" in override["args"] else default
        assert status == expected, (override, out, err)


def test_the_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com" in text
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert releases[0] == ("Unreleased", "")
    assert (__version__, releases[1][1]) == releases[1] and releases[1][1]
    assert len(re.findall(r"^## ", text, re.M)) == len(releases)
    kinds = set(re.findall(r"^### (.*)$", text, re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
