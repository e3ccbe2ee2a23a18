"""The YAML form, read with PyYAML's safe composer so every node keeps its line and column.

Scalars are taken from their text as written (``padding: 0x3`` is 0×3, not hex),
a flow list that YAML split at a layer's commas is caught and explained, and
aliases may not expand the document beyond :data:`MAX_NODES` nodes and :data:`MAX_TEXT`
characters; keys are plain words, each given once.
"""

from __future__ import annotations

import difflib
import re

import yaml

from ..diagnostics import Location, syntax_error
from .expect import EXPECT_KEYS
from .oneline import MAX_DEPTH, MAX_NAME, parse_chain
from .source import MAX_SPEC_BYTES
from .syntax import (
    Arg,
    BlockDef,
    Call,
    Item,
    Param,
    RawGroup,
    RawList,
    RawSpec,
    Scalar,
    Value,
    clip,
)

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (same nodes and marks, ~10× faster)."""

MAX_NODES = 100_000
"""Most YAML nodes a spec may expand to (aliases included)."""

MAX_TEXT = MAX_SPEC_BYTES
"""Most characters of scalar text a spec may expand to (aliases included): no more than a
one-line spec may hold."""

TOP_KEYS = ("name", "description", "input", "mode", "blocks", "override", "layers", "expect")


def _at(node: yaml.Node) -> Location:
    return Location(node.start_mark.line + 1, node.start_mark.column + 1)


def _text_origin(node: yaml.ScalarNode) -> Location:
    loc = _at(node)
    return Location(loc.line, loc.column + (1 if node.style in ("'", '"') else 0))


def _unbalanced(text: str) -> bool:
    return text.count("(") != text.count(")") or text.count("[") != text.count("]")


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += 1 if ch in "([" else -1 if ch in ")]" else 0
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _kind(node: yaml.Node) -> str:
    return "list" if isinstance(node, yaml.SequenceNode) else \
        "mapping" if isinstance(node, yaml.MappingNode) else "value"



INPUT_KEYS = (("length", "channels"), ("height", "width", "channels"),
              ("depth", "height", "width", "channels"))
"""The mapping forms of the input, by rank (spec §1): keys in the order the shape is written."""

class Reader:
    """Reads the composed node graph. Every node it visits is counted, with the characters
    of every scalar, BEFORE any text is joined, parsed or quoted: an alias is expanded only
    as far as :data:`MAX_NODES` and :data:`MAX_TEXT` allow."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0
        self.chars = 0
        self.depth = 0

    def count(self, node: yaml.Node) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise syntax_error("S009", f"the YAML has more than {MAX_NODES:,} nodes, aliases "
                               "counted at every use: use repeat for repeated layers", _at(node))
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
            if self.chars > MAX_TEXT:
                raise syntax_error(
                    "S009", f"the YAML's text is more than {MAX_TEXT // 2**20} MiB, aliases "
                    "counted at every use: use repeat for repeated layers", _at(node))

    def count_all(self, nodes: list[yaml.Node]) -> None:
        for n in nodes:
            self.count(n)

    def key(self, node: yaml.Node, what: str) -> str:
        """A mapping key: a plain scalar (a list or mapping as a key is refused unprinted)."""
        self.count(node)
        if not isinstance(node, yaml.ScalarNode):
            raise syntax_error("S006", f"a key in {what} is a {_kind(node)}; keys must be plain "
                               "words", _at(node),
                               ("write `name: value`; quote a key that starts with [ or {",))
        return str(node.value)

    def mapping(self, node: yaml.MappingNode, what: str, known: tuple[str, ...] = (),
                key_what: str = "key") -> list[tuple[str, yaml.Node, Location]]:
        """A mapping's entries: every key a plain word, none given twice (YAML forbids it;
        PyYAML's composer would keep both silently), each known when ``known`` is given."""
        self.count(node)
        seen: dict[str, Location] = {}
        entries = []
        for k, v in node.value:
            name = self.key(k, what)
            if known:
                check_key(name, known, key_what, k)
            if name in seen:
                first = seen[name]
                raise syntax_error("S006", f"'{clip(name)}' is given twice in {what} (first at "
                                   f"line {first.line}, column {first.column})", _at(k),
                                   ("remove one of them",))
            seen[name] = _at(k)
            entries.append((name, v, _at(k)))
        return entries

    def scalar(self, node: yaml.Node, what: str) -> Scalar:
        self.count(node)
        if isinstance(node, yaml.SequenceNode) and all(
                isinstance(n, yaml.ScalarNode) for n in node.value) and node.value:
            self.count_all(node.value)
            return Scalar("x".join(n.value for n in node.value), _at(node), True)
        if isinstance(node, yaml.MappingNode) and what == "input":
            return self.input_mapping(node)
        if not isinstance(node, yaml.ScalarNode):
            raise syntax_error("S006", f"{what} must be a single value, not a {_kind(node)}",
                               _at(node))
        return Scalar(node.value, _text_origin(node), True)

    def shapes(self, node: yaml.Node) -> Scalar:
        """``expect: outputs``: a list of shapes, each a scalar (``13x13x255``) or a list of
        numbers (``[13, 13, 255]``), read as one text ``13x13x255, 26x26x255``."""
        self.count(node)
        if not isinstance(node, yaml.SequenceNode):
            return self.scalar(node, "outputs")
        return Scalar(", ".join(self.scalar(n, "outputs").text for n in node.value),
                      _at(node), True)

    def input_mapping(self, node: yaml.MappingNode) -> Scalar:
        """``{height, width, channels}``, ``{length, channels}`` or
        ``{depth, height, width, channels}``, in any order."""
        parts = {k: v for k, v, _ in self.mapping(node, "the input")}
        keys = next((k for k in INPUT_KEYS if set(k) == set(parts)), INPUT_KEYS[1])
        if set(parts) != set(keys) or not all(isinstance(parts[k], yaml.ScalarNode) for k in keys):
            raise syntax_error("S006", "input as a mapping needs exactly height, width and "
                               "channels, e.g. {height: 32, width: 32, channels: 3} (or "
                               "{length, channels} for 1-D, {depth, height, width, channels} "
                               "for 3-D)", _at(node))
        self.count_all([parts[k] for k in keys])
        return Scalar("x".join(parts[k].value for k in keys), _at(node), True)

    def check_flow_split(self, node: yaml.SequenceNode) -> None:
        if not node.flow_style:
            return
        before = self.nodes, self.chars
        self.count_all(node.value)  # before any text is scanned or quoted
        texts = [n.value for n in node.value if isinstance(n, yaml.ScalarNode)]
        if not any(_unbalanced(t) for t in texts):
            self.nodes, self.chars = before  # the children are counted again when read
            return
        written = self.source[node.start_mark.index:node.end_mark.index]
        layers = _split_top_level(written.strip()[1:-1])
        shown = ", ".join(repr(clip(t, 40)) for t in texts[:8]) + (
            f", … ({len(texts) - 8} more)" if len(texts) > 8 else "")
        more = " …" if len(layers) > 12 else ""
        raise syntax_error(
            "S007", f"YAML split the flow list {clip(written, 120)} at its commas into "
            f"{shown}",
            _at(node),
            ("write a block list, one '- layer' per line: "
             + " ".join(f"'- {clip(layer, 80)}'" for layer in layers[:12]) + more,
             "or one line joined by ->: "
             + " -> ".join(clip(layer, 80) for layer in layers[:12]) + more))

    def group(self, node: yaml.Node) -> RawGroup:
        """A YAML list of layers, a ``a -> b`` line, a single mapping, or null (the identity)."""
        self.depth += 1
        try:
            return self._group(node)
        finally:
            self.depth -= 1

    def _group(self, node: yaml.Node) -> RawGroup:
        self.count(node)
        if self.depth > MAX_DEPTH:
            raise syntax_error("S009", f"blocks nested more than {MAX_DEPTH} levels deep",
                               _at(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:null" or node.value.strip() in ("", "[]"):
                return RawGroup((), _at(node))
            return parse_chain(node.value, _text_origin(node), from_yaml=True)
        if isinstance(node, yaml.SequenceNode):
            self.check_flow_split(node)
            items: list[Item] = []
            for child in node.value:
                sub = self.group(child)
                if isinstance(child, yaml.SequenceNode):
                    items.append(sub)  # a nested list is a group of its own
                else:
                    items.extend(sub.items)
            return RawGroup(tuple(items), _at(node))
        return RawGroup((self.call(node),), _at(node))

    def call(self, node: yaml.Node) -> Call:
        """``conv: {filters: 10, kernel: 5}``, ``maxpool: 2``, ``repeat: 2`` + ``layers: …``."""
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise syntax_error("S006", "an empty mapping is not a layer", _at(node))
        (name, value, loc), *rest = self.mapping(node, "a layer")
        args = list(self.args(value, name))
        as_name: Scalar | None = None
        for key, val, key_loc in rest:  # sibling keys: `repeat: 2` then `layers: ...`
            if key == "as":  # `as: NAME` names the item's output (spec §9)
                as_name = self.tensor_name(val)
                continue
            args.append(Arg(key, self.value(val), key_loc))
        return Call(name, tuple(args), loc, as_name)

    def tensor_name(self, node: yaml.Node) -> Scalar:
        """The value of a sibling ``as:`` key: one identifier-like word."""
        self.count(node)
        text = node.value if isinstance(node, yaml.ScalarNode) else ""
        if not isinstance(node, yaml.ScalarNode) or len(text) > MAX_NAME or \
                not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            raise syntax_error("S006", f"`as:` takes a tensor name (letters, digits and _, at "
                               f"most {MAX_NAME} characters), not "
                               f"{repr(clip(text)) if text else 'a ' + _kind(node)}", _at(node),
                               ("e.g. as: enc1",))
        return Scalar(text, _text_origin(node), True)

    def args(self, node: yaml.Node, layer: str) -> list[Arg]:
        self.count(node)
        if isinstance(node, yaml.MappingNode):
            return [Arg(k, self.value(v), loc)
                    for k, v, loc in self.mapping(node, f"{clip(layer, 30)}'s arguments")]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        return [Arg(None, self.value(node), _at(node))]

    def value(self, node: yaml.Node) -> Value:
        self.count(node)
        if isinstance(node, yaml.ScalarNode):
            return Scalar(node.value, _text_origin(node), True)
        if isinstance(node, yaml.SequenceNode):
            self.check_flow_split(node)
            if node.value and all(isinstance(n, yaml.ScalarNode) for n in node.value):
                self.count_all(node.value)
                if all(re.fullmatch(r"\s*\d+\s*", n.value) for n in node.value):
                    return Scalar("x".join(n.value for n in node.value), _at(node), True)
            return RawList(tuple(self.group(n) for n in node.value), _at(node))
        return self.group(node)


def load(source: str) -> RawSpec:
    """Parse YAML spec text into the raw tree, or raise :class:`SpecSyntaxError`."""
    try:
        root = yaml.compose(source, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(mark.line + 1, mark.column + 1) if mark else None
        what = " ".join(str(s) for s in (exc.context, exc.problem) if s)
        raise syntax_error("S005", f"YAML syntax error: {clip(what, 200)}", loc,
                           _yaml_fixes(source, what, mark.line if mark else None)) from None
    except yaml.YAMLError as exc:
        raise syntax_error("S005", f"YAML syntax error: {clip(str(exc), 200)}", None) from None
    except RecursionError:  # PyYAML without libyaml composes recursively
        raise syntax_error("S009", f"the YAML is nested more than {MAX_DEPTH} levels deep",
                           None) from None
    if root is None:
        raise syntax_error("S001", "the file is empty: a spec needs `input:` and `layers:`",
                           Location(1, 1))
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise syntax_error("S006", f"the top level is {kind}; a cnncalc spec is a mapping with "
                           "`input:` and `layers:`", _at(root),
                           ("input: 32x32x3\nlayers:\n  - conv(10, 5, p=2)",))
    return _read_spec(Reader(source), root)


def _yaml_fixes(source: str, what: str, line: int | None) -> tuple[str, ...]:
    """How to fix a YAML syntax error; a `key: a: b` value is told to quote itself."""
    generic = ("check the indentation and quoting near this line",)
    lines = source.splitlines()
    if line is None or line >= len(lines):
        return generic
    at = re.match(r"^(\s*-\s+|[^#'\"]*?:\s+)(@.*?)\s*$", lines[line])
    if at and "cannot start any token" in what:
        # `- @enc3 -> conv(256, 1)`: a plain YAML scalar cannot start with @ (spec §9)
        return (f"a plain YAML value cannot start with @; quote it: "
                f"{at.group(1).strip()} '{clip(at.group(2), 300)}'",)
    unknown = re.search(r"(?<![\w'\"])\?(?=[\s,}\]]|$)", lines[line])
    if unknown and ("mapping keys are not allowed" in what or "'?'" in what
                    or "expected node content" in what):
        # `padding: ?`: a lone ? is YAML's marker of a complex key
        text = lines[line]
        quoted = f"{text[:unknown.start()]}'?'{text[unknown.end():]}".strip()
        return (f"a lone ? is YAML's mark of a mapping key; quote the unknown: {clip(quoted, 120)}",)
    bracket = re.match(r"^(\s*-\s+)(\[.*\](?:\s*\*\s*\S+)?(?:\s+as\s+\w+)?(?:\s*->.*)?)\s*$",
                       lines[line])
    if bracket and "'" not in bracket.group(2):
        # `- [conv(64, 3) -> relu] * 3`: YAML reads `[` as a list and `*` as an alias
        return (f"a value that starts with [ is a YAML list; quote the line: "
                f"{bracket.group(1).strip()} '{clip(bracket.group(2), 300)}' (or write "
                "`repeat: N` with `layers:`)",)
    if "mapping values are not allowed" not in what:
        return generic
    m = re.match(r"^(\s*(?:-\s+)?)([^\s:#][^:#]*?):\s+(.*?)\s*$", lines[line])
    if not m or ": " not in m.group(3):
        return generic
    value = m.group(3)
    quoted = f'"{value}"' if '"' not in value and "\\" not in value \
        else "'" + value.replace("'", "''") + "'"
    return (f"a ': ' inside a value starts a mapping; quote the value: "
            f"{clip(m.group(2), 40)}: {clip(quoted, 100)}",)


def check_key(name: str, known: tuple[str, ...], what: str, node: yaml.Node) -> None:
    """An unknown key is an error with a did-you-mean, never silently ignored."""
    if name not in known:
        close = difflib.get_close_matches(name, known, 1)
        raise syntax_error("S006", f"unknown {what} '{clip(name)}'", _at(node),
                           tuple(f"did you mean '{c}'?" for c in close)
                           or (f"the {what}s are {', '.join(known)}",))


def _read_spec(self: Reader, root: yaml.MappingNode) -> RawSpec:
    keys = [self.key(k, "the spec") for k, _ in root.value]
    if not {"input", "layers"} & set(keys):
        raise syntax_error("S006", "this YAML is not a cnncalc spec: it has no `input:` and no "
                           f"`layers:` (its keys: {', '.join(clip(k, 30) for k in keys[:6])})",
                           _at(root),
                           ("a cnncalc spec is `input: 32x32x3` and `layers: [...]`; or leave "
                            "this file out of the hook's `files:` pattern",))
    fields = {name: (value, loc) for name, value, loc in
              self.mapping(root, "the spec", TOP_KEYS, "top-level key")}
    if "layers" not in fields:
        raise syntax_error("S006", "the spec has no `layers:`", _at(root),
                           ("layers:\n  - conv(10, 5, p=2)",))
    if "input" not in fields:
        raise syntax_error("S006", "the spec has no `input:`", _at(root), ("input: 32x32x3",))
    expect: dict[str, tuple[Value, Location]] = {}
    if "expect" in fields:
        node = fields["expect"][0]
        if not isinstance(node, yaml.MappingNode):
            raise syntax_error("S006", "`expect:` must be a mapping, e.g. {params: 760}", _at(node))
        for name, value, loc in self.mapping(node, "`expect:`", EXPECT_KEYS, "expectation"):
            expect[name] = (self.shapes(value) if name == "outputs" else self.scalar(value, name),
                            loc)
    name_node = fields.get("name", (None, None))[0]
    blocks = _read_blocks(self, fields["blocks"][0]) if "blocks" in fields else ()
    return RawSpec(
        layers=self.group(fields["layers"][0]),
        input=self.scalar(fields["input"][0], "input"),
        name=self.scalar(name_node, "name").text if name_node is not None else None,
        description=self.scalar(fields["description"][0], "description").text
        if "description" in fields else None,
        mode=self.scalar(fields["mode"][0], "mode") if "mode" in fields else None,
        expect=expect,
        blocks=blocks,
        override=self.scalar(fields["override"][0], "override") if "override" in fields else None,
    )


def load_library(source: str) -> tuple[tuple[BlockDef, ...], dict[str, str]]:
    """The built-in block library's YAML (``blocks:`` as in a spec, and ``examples:``, a
    one-line spec per block): its definitions and examples."""
    root, reader = yaml.compose(source, Loader=LOADER), Reader(source)
    if not isinstance(root, yaml.MappingNode):
        raise syntax_error("S006", "the library is a mapping of blocks: and examples:", None)
    fields = {name: value for name, value, _ in
              reader.mapping(root, "the library", ("blocks", "examples"), "library key")}
    shown = fields["examples"]
    if not isinstance(shown, yaml.MappingNode):
        raise syntax_error("S006", "the library's examples: is a mapping", _at(shown))
    examples = {name: reader.scalar(value, name).text
                for name, value, _ in reader.mapping(shown, "`examples:`")}
    return _read_blocks(reader, fields["blocks"]), examples


def _read_blocks(self: Reader, node: yaml.Node) -> tuple[BlockDef, ...]:
    """``blocks:``: a mapping of ``name(params)`` to a body (a group), spec §10."""
    if not isinstance(node, yaml.MappingNode):
        raise syntax_error("S006", "`blocks:` must be a mapping of definitions, e.g. "
                           "`stem(width): conv(width, 3) -> relu`", _at(node))
    out: list[BlockDef] = []
    for key, body, loc in self.mapping(node, "`blocks:`"):
        head = parse_chain(key, _text_origin(node.value[len(out)][0]), from_yaml=True)
        first = head.items[0] if len(head.items) == 1 else None
        if not isinstance(first, Call) or first.as_name is not None:
            raise syntax_error("S006", f"a block definition is `name(params)`, not "
                               f"'{clip(key)}'", loc, ("e.g. resblock(width, stride=1):",))
        params: list[Param] = []
        for arg in first.args:
            if arg.key is None and isinstance(arg.value, Scalar) and \
                    re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", arg.value.text):
                params.append(Param(arg.value.text, None, arg.location))
            elif arg.key is not None:
                params.append(Param(arg.key, arg.value, arg.location))
            else:
                raise syntax_error("S006", f"a block parameter is a name or name=default, not "
                                   f"'{clip(key)}'", arg.location,
                                   ("e.g. resblock(width, stride=1):",))
        out.append(BlockDef(first.name, tuple(params), self.group(body), first.location))
    return tuple(out)
