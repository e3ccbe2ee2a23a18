"""What a SPEC argument is, and reading it: decided in one place.

A SPEC is ``-`` (standard input), a file, a zoo name or the spec's own text. Text that
cannot be a path (it holds ``->``, a bracket, a newline, or is longer than any path) is
never shown to the file system; every other probe treats any ``OSError`` as "not a file".
Only regular files are read (a FIFO, a device or a socket is refused before any read, so
nothing blocks), and never more than :data:`MAX_SPEC_BYTES` + 1 bytes of a file or stdin.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from .. import zoo
from ..diagnostics import Location, syntax_error
from ..layers import LAYERS
from .syntax import clip

MAX_SPEC_BYTES = 2**20
"""Largest spec cnncalc reads (1 MiB, a thousand times the zoo's largest): a file, stdin,
a one-line argument, and the text a YAML file's aliases may expand to."""

MAX_PATH_BYTES = 4096
"""Longer arguments are never paths (Linux's PATH_MAX)."""

Kind = Literal["stdin", "file", "zoo", "text"]

_SPEC_MARKS = re.compile(r"->|→|[()\[\]\n\r\x00]")
_YAML_SUFFIXES = (".yaml", ".yml")
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a SPEC argument comes from, decided without reading it."""

    kind: Kind
    name: str
    """How problems name it: the path as given, ``<stdin>``, the zoo name, or ``<spec>``."""
    argument: str


@dataclass(frozen=True, slots=True)
class Source:
    """A spec's text, read and decoded, with how to parse it."""

    text: str
    name: str
    is_yaml: bool


def _exists(path: str) -> bool:
    """Whether something is at ``path``; any failure to ask (too long, NUL, …) is "no"."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def classify(argument: str) -> Origin:
    """Decide what a SPEC argument is. Only an argument that could be a path reaches the
    file system, and only through :func:`_exists`.

    >>> [classify(a).kind for a in ("-", "resnet50", "32x32x3 -> relu", "net.yaml", "")]
    ['stdin', 'zoo', 'text', 'file', 'text']
    """
    if argument == "-":
        return Origin("stdin", "<stdin>", argument)
    text = Origin("text", "<spec>", argument)
    if (not argument.strip() or _SPEC_MARKS.search(argument)
            or len(argument.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES):
        if argument.lower().endswith(_YAML_SUFFIXES) and "\n" not in argument \
                and "->" not in argument and len(argument) <= MAX_PATH_BYTES:
            return Origin("file", argument, argument)  # `my net (v2).yaml`
        return text
    if argument.lower().endswith(_YAML_SUFFIXES) or _exists(argument):
        return Origin("file", argument, argument)
    if zoo.path(argument) is not None:
        return Origin("zoo", argument, argument)
    if "/" in argument or os.sep in argument:  # no spec holds a slash: a missing file
        return Origin("file", argument, argument)
    return text


def read(origin: Origin, stdin: BinaryIO | None = None) -> Source:
    """Read what :func:`classify` found; every failure is a :class:`SpecSyntaxError`."""
    if origin.kind == "stdin":
        if stdin is None:
            if sys.stdin is None or not hasattr(sys.stdin, "buffer"):
                raise syntax_error("S008", "there is no standard input to read", None,
                                   ("pipe the spec in: cnncalc - < net.yaml",))
            stdin = sys.stdin.buffer
        return from_text(decode(read_stream(stdin), "standard input"), origin.name)
    if origin.kind == "zoo":
        found = zoo.path(origin.argument)
        if found is None:  # pragma: no cover - classify saw it
            raise syntax_error("S008", f"no zoo network '{origin.argument}'", None)
        return Source(read_file(found), origin.name, True)
    if origin.kind == "file":
        return read_path(origin.argument)
    _check_size(len(origin.argument.encode("utf-8", "surrogatepass")), "spec")
    if _BARE_WORD.fullmatch(origin.argument.strip()):
        _not_a_layer_nor_zoo(origin.argument.strip())
    return from_text(origin.argument, origin.name)


def _not_a_layer_nor_zoo(word: str) -> None:
    """``cnncalc resnet5``: a single word that is no layer is a mistyped zoo name or file."""
    if word.lower() in LAYERS:
        return  # `cnncalc relu`: the one-line parser says the input volume is missing
    close = difflib.get_close_matches(word.lower().replace("-", "_"), zoo.names(), 3, 0.6)
    raise syntax_error(
        "S008", f"'{clip(word)}' is not a file, a zoo network or a spec", Location(1, 1),
        (*(f"did you mean the zoo network '{c}'?" for c in close),
         "`cnncalc zoo` lists the built-in networks; a one-line spec starts with its input "
         "volume, e.g. 32x32x3 -> conv(10, 5, p=2)"))


def from_text(text: str, name: str = "<spec>") -> Source:
    """Spec text (one-line or YAML, told apart by :func:`looks_like_yaml`)."""
    return Source(text, name, looks_like_yaml(text))


def read_path(path: str | Path) -> Source:
    """A spec file (YAML by its suffix or its first line)."""
    text = read_file(path)
    return Source(text, str(path), str(path).lower().endswith(_YAML_SUFFIXES)
                  or looks_like_yaml(text))


def looks_like_yaml(text: str) -> bool:
    """True when the text's first meaningful line is a ``key:``, a ``- `` item, a comment
    or ``---``; a one-line spec never starts like that."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        return stripped.startswith(("#", "---", "%", "- ", "{")) or stripped == "-" or bool(
            re.match(r"^[A-Za-z_][\w-]*\s*:(\s|$)", stripped))
    return False


def _check_size(size: int, what: str) -> None:
    if size > MAX_SPEC_BYTES:
        raise syntax_error("S008", f"the {what} is larger than {MAX_SPEC_BYTES // 2**20} MiB, "
                           "cnncalc's limit; is it really an architecture spec?", None)


_FILE_TYPES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_file(path: str | Path) -> str:
    """Read a regular file as UTF-8 (at most the limit + 1 bytes), turning every failure
    into a S008 problem. The file is opened without blocking, so a FIFO never hangs."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    directory = ("this is a directory, not a spec file", None, ("name a .yaml file inside it",))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise syntax_error("S008", "no such file", None) from None
    except (IsADirectoryError, PermissionError) as exc:
        if os.path.isdir(path):
            raise syntax_error("S008", *directory) from None
        raise syntax_error("S008", f"cannot read the file ({exc.strerror})", None) from None
    except OSError as exc:
        raise syntax_error("S008", f"cannot read the file ({exc.strerror or exc})", None) \
            from None
    except ValueError:  # a NUL in the name
        raise syntax_error("S008", "no such file (the name holds a NUL character)", None) \
            from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise syntax_error("S008", *directory)
        if not stat.S_ISREG(mode):
            what = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
            raise syntax_error("S008", f"this is {what}, not a regular file: cnncalc reads only "
                               "regular files", None,
                               ("save the spec to a .yaml file, or pipe it: cnncalc - < spec",))
        data = _read_fd(fd)
    except OSError as exc:
        raise syntax_error("S008", f"cannot read the file ({exc.strerror or exc})", None) \
            from None
    finally:
        os.close(fd)
    return decode(data, "file")


def _read_fd(fd: int) -> bytes:
    chunks, size = [], 0
    while size <= MAX_SPEC_BYTES:
        chunk = os.read(fd, min(2**16, MAX_SPEC_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    _check_size(size, "file")
    return b"".join(chunks)


def read_stream(stream: BinaryIO) -> bytes:
    """At most the limit + 1 bytes of a stream (``/dev/zero`` on stdin ends here)."""
    try:
        data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise syntax_error("S008", f"cannot read standard input ({exc.strerror or exc})",
                           None) from None
    _check_size(len(data), "input")
    return data


def decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise syntax_error("S008", f"the {what} is not UTF-8 text: byte 0x{data[exc.start]:02x} "
                           f"at line {line}, column {column}", Location(line, column),
                           ("save the file as UTF-8",)) from None
