"""Run the real ``cnncalc`` command many times, fast, each run fenced in: a time limit, an
address-space limit, its own working directory, and its peak memory measured.

A worker process imports cnncalc (and numpy) once, then forks one child per run: the child
points its file descriptors 0/1/2 at files, runs ``cnncalc.cli.main`` exactly as the console
script would, and reports how it ended. The parent waits with :func:`os.wait4`, which gives
the child's own resource usage (peak RSS) without a shell or ``/usr/bin/time``; a child that
runs past its time limit is killed and reported as a hang.

Used by ``tests/test_hostile.py``. Start it with :class:`Sandbox`; ``run`` takes argv.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRACEBACK_EXIT = 99
"""The exit status a child reports when cnncalc let an exception escape."""


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: bytes
    seconds: float
    peak_rss: int
    """Peak resident set of the child, in bytes (includes what the fork inherited)."""
    timed_out: bool

    @property
    def traceback(self) -> bool:
        return self.exit_code == TRACEBACK_EXIT or b"Traceback (most recent call last)" in self.stderr


def _child(req: dict[str, Any]) -> None:  # pragma: no cover - runs in the forked child
    import resource
    workdir = req["cwd"]
    os.chdir(workdir)
    limit = req["address_space"]
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin = os.open(req["stdin_path"], os.O_RDONLY) if req["stdin_path"] else os.open(
        os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    out = os.open(os.path.join(req["capture"], "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(os.path.join(req["capture"], "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    import io
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, closefd=False)))
    encoding = req.get("encoding") or "utf-8"
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding,
                                  errors="strict", write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=encoding,
                                  errors="backslashreplace", write_through=True)
    os.environ.clear()
    os.environ.update(req["env"])
    sys.argv = ["cnncalc", *req["args"]]
    code = 0
    try:
        from cnncalc.cli import main
        main(prog_name="cnncalc")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        code = TRACEBACK_EXIT
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = TRACEBACK_EXIT
    os._exit(code)


def _serve() -> None:  # pragma: no cover - the worker's loop
    import numpy  # noqa: F401  - loaded once, shared by every forked child

    import cnncalc.cli  # noqa: F401
    for line in sys.stdin:
        req = json.loads(line)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(req)
        timed_out = False
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - start > req["timeout"]:
                os.kill(pid, signal.SIGKILL)
                done, status, usage = os.wait4(pid, 0)
                timed_out = True
                break
            time.sleep(0.002)
        seconds = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"exit_code": code, "seconds": seconds, "timed_out": timed_out,
                          "peak_rss": usage.ru_maxrss * 1024}), flush=True)


class Sandbox:
    """A worker process; ``run(args)`` forks one fenced ``cnncalc`` run in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.capture = root / ".capture"
        self.capture.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.path[:0] = [sys.argv[1]]; "
             "from sandbox import _serve; _serve()", str(Path(__file__).parent)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def run(self, *args: str, cwd: Path | None = None, stdin: Path | None = None,
            timeout: float = 20.0, address_space: int = 6 * 2**30,
            env: dict[str, str] | None = None, encoding: str | None = None) -> Run:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        environment = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "LANG": "C.UTF-8",
                       **(env or {})}
        req = {"args": list(args), "cwd": str(cwd or self.root), "timeout": timeout,
               "address_space": address_space, "stdin_path": str(stdin) if stdin else None,
               "capture": str(self.capture), "env": environment, "encoding": encoding}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        return Run(tuple(args), reply["exit_code"], (self.capture / "out").read_bytes(),
                   (self.capture / "err").read_bytes(), reply["seconds"], reply["peak_rss"],
                   reply["timed_out"])

    def baseline_rss(self) -> int:
        """Peak RSS of a trivial run (the interpreter, cnncalc and numpy, as forked)."""
        return self.run("1x1x1 -> relu", "--no-verify").peak_rss

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
