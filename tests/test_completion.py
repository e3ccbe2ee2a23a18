"""Shell completion (click's own mechanism, README "Shell completion"): each shell's script is
generated, and bash — sourced for real — completes commands, zoo names and option choices."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
MARKERS = {
    "bash": "complete -o nosort -F _cnncalc_completion cnncalc",
    "zsh": "#compdef cnncalc",
    "fish": "complete --no-files --command cnncalc",
}


def completion(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CNNCALC], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("shell", sorted(MARKERS))
def test_each_shell_script_is_generated(shell: str) -> None:
    proc = completion({"_CNNCALC_COMPLETE": f"{shell}_source"})
    assert (proc.returncode, proc.stderr) == (0, "")
    assert MARKERS[shell] in proc.stdout
    assert "_CNNCALC_COMPLETE" in proc.stdout


def test_the_readme_shows_the_script_of_each_shell() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Shell completion"):]
    section = section[:section.index("\n## ")]
    shown = set(re.findall(r"_CNNCALC_COMPLETE=(\w+)_source cnncalc", section))
    assert shown == set(MARKERS)


def bash_complete(words: str) -> list[str]:
    """What bash offers for ``words`` (the cursor after the last one), through the generated
    script sourced into a real bash."""
    script = completion({"_CNNCALC_COMPLETE": "bash_source"}).stdout
    words_list = words.split(" ")
    program = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words_list)})\n"
               f"COMP_CWORD={len(words_list) - 1}\n_cnncalc_completion cnncalc 2>/dev/null\n"
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{Path(CNNCALC).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "--norc", "--noprofile"], input=program, capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_completes_commands_zoo_names_and_choices() -> None:
    assert bash_complete("cnncalc ch") == ["check"]
    assert bash_complete("cnncalc ex") == ["explain", "export"]
    zoo_res = ["resnet18", "resnet50", "resnext50_32x4d"]
    assert bash_complete("cnncalc summary res") == zoo_res
    assert bash_complete("cnncalc res") == zoo_res  # `cnncalc SPEC` is `cnncalc summary SPEC`
    assert bash_complete("cnncalc export vgg") == ["vgg16"]
    assert bash_complete("cnncalc check --format ") == ["text", "json", "github"]
    assert bash_complete("cnncalc summary --dtype bf") == ["bfloat16"]
    assert "--strict" in bash_complete("cnncalc check --st")


def test_spec_and_file_arguments_ask_the_shell_for_file_names() -> None:
    """A SPEC or FILE completes to file names too (type ``file``: the shell's own completion)."""
    def items(words: str) -> list[str]:
        parts = words.split(" ")
        proc = completion({"_CNNCALC_COMPLETE": "bash_complete", "COMP_WORDS": words,
                           "COMP_CWORD": str(len(parts) - 1)})
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    assert items("cnncalc check models/") == ["file,models/"]
    assert items("cnncalc summary models/n") == ["file,models/n"]
    assert items("cnncalc explain lenet") == ["file,lenet", "plain,lenet5"]
    assert items("cnncalc ch") == ["file,ch", "plain,check"]  # bash restarts at a file item
    assert items("cnncalc --v") == ["plain,--version"]  # options: no file names
