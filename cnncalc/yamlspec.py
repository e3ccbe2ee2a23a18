"""The YAML form, read with PyYAML's safe composer so every node keeps its line and column.

Scalars are taken from their text as written (``padding: 0x3`` is 0×3, not hex),
a flow list that YAML split at a layer's commas is caught and explained, and
aliases may not expand the document beyond :data:`MAX_NODES`.
"""

from __future__ import annotations

import difflib
import re

import yaml

from .diagnostics import Location, syntax_error
from .oneline import MAX_DEPTH, parse_chain
from .syntax import Arg, Call, Item, RawGroup, RawList, RawSpec, Scalar, Value

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (same nodes and marks, ~10× faster)."""

MAX_NODES = 100_000
"""Most YAML nodes a spec may expand to (aliases included)."""

TOP_KEYS = ("name", "description", "input", "mode", "layers", "expect")
EXPECT_KEYS = ("output", "params", "non_trainable", "macs", "flops", "max_params", "max_macs",
               "max_flops", "max_memory", "max_activation_bytes")


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


class Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0
        self.depth = 0

    def count(self, node: yaml.Node) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise syntax_error("S009", f"the YAML expands to more than {MAX_NODES:,} nodes "
                               "(aliases?): write the layers out or use repeat", _at(node))

    def scalar(self, node: yaml.Node, what: str) -> Scalar:
        self.count(node)
        if isinstance(node, yaml.SequenceNode) and all(
                isinstance(n, yaml.ScalarNode) for n in node.value) and node.value:
            return Scalar("x".join(n.value for n in node.value), _at(node), True)
        if isinstance(node, yaml.MappingNode) and what == "input":
            return self.input_mapping(node)
        if not isinstance(node, yaml.ScalarNode):
            raise syntax_error("S006", f"{what} must be a single value, not a "
                               f"{'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}",
                               _at(node))
        return Scalar(node.value, _text_origin(node), True)

    def input_mapping(self, node: yaml.MappingNode) -> Scalar:
        parts = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        keys = ("height", "width", "channels")
        if set(parts) != set(keys) or not all(isinstance(parts[k], yaml.ScalarNode) for k in keys):
            raise syntax_error("S006", "input as a mapping needs exactly height, width and "
                               "channels, e.g. {height: 32, width: 32, channels: 3}", _at(node))
        return Scalar("x".join(parts[k].value for k in keys), _at(node), True)

    def check_flow_split(self, node: yaml.SequenceNode) -> None:
        if not node.flow_style:
            return
        texts = [n.value for n in node.value if isinstance(n, yaml.ScalarNode)]
        if any(_unbalanced(t) for t in texts):
            written = self.source[node.start_mark.index:node.end_mark.index]
            layers = _split_top_level(written.strip()[1:-1])
            raise syntax_error(
                "S007", f"YAML split the flow list {written} at its commas into "
                f"{', '.join(repr(t) for t in texts)}",
                _at(node),
                ("write a block list, one '- layer' per line: "
                 + " ".join(f"'- {layer}'" for layer in layers),
                 "or one line joined by ->: " + " -> ".join(layers)))

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
        (key, value), *rest = node.value
        if not isinstance(key, yaml.ScalarNode):
            raise syntax_error("S006", "a layer's name must be a plain word", _at(key))
        args = list(self.args(value))
        for k, val in rest:  # sibling keys: `repeat: 2` then `layers: ...`
            args.append(Arg(k.value, self.value(val), _at(k)))
        return Call(key.value, tuple(args), _at(key))

    def args(self, node: yaml.Node) -> list[Arg]:
        self.count(node)
        if isinstance(node, yaml.MappingNode):
            return [Arg(str(k.value), self.value(v), _at(k)) for k, v in node.value]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        return [Arg(None, self.value(node), _at(node))]

    def value(self, node: yaml.Node) -> Value:
        self.count(node)
        if isinstance(node, yaml.ScalarNode):
            return Scalar(node.value, _text_origin(node), True)
        if isinstance(node, yaml.SequenceNode):
            self.check_flow_split(node)
            if node.value and all(isinstance(n, yaml.ScalarNode) and re.fullmatch(
                    r"\s*\d+\s*", n.value) for n in node.value):
                return self.scalar(node, "value")  # [1, 7] is the pair 1x7
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
        raise syntax_error("S005", f"YAML syntax error: {what}", loc,
                           ("check the indentation and quoting near this line",)) from None
    except yaml.YAMLError as exc:
        raise syntax_error("S005", f"YAML syntax error: {exc}", None) from None
    if root is None:
        raise syntax_error("S001", "the file is empty: a spec needs `input:` and `layers:`",
                           Location(1, 1))
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise syntax_error("S006", f"the top level is {kind}; a cnncalc spec is a mapping with "
                           "`input:` and `layers:`", _at(root),
                           ("input: 32x32x3\nlayers:\n  - conv(10, 5, p=2)",))
    return _read_spec(Reader(source), root)


def check_key(name: str, known: tuple[str, ...], what: str, node: yaml.Node) -> None:
    """An unknown key is an error with a did-you-mean, never silently ignored."""
    if name not in known:
        close = difflib.get_close_matches(name, known, 1)
        raise syntax_error("S006", f"unknown {what} '{name}'", _at(node),
                           tuple(f"did you mean '{c}'?" for c in close)
                           or (f"the {what}s are {', '.join(known)}",))


def _read_spec(self: Reader, root: yaml.MappingNode) -> RawSpec:
    fields: dict[str, tuple[yaml.Node, Location]] = {}
    keys = [str(k.value) for k, _ in root.value]
    if not {"input", "layers"} & set(keys):
        raise syntax_error("S006", "this YAML is not a cnncalc spec: it has no `input:` and no "
                           f"`layers:` (its keys: {', '.join(keys[:6])})", _at(root),
                           ("a cnncalc spec is `input: 32x32x3` and `layers: [...]`; or leave "
                            "this file out of the hook's `files:` pattern",))
    for key, value in root.value:
        name = str(key.value)
        check_key(name, TOP_KEYS, "top-level key", key)
        if name in fields:
            raise syntax_error("S006", f"'{name}' is given twice", _at(key))
        fields[name] = (value, _at(key))
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
        for key, value in node.value:
            name = str(key.value)
            check_key(name, EXPECT_KEYS, "expectation", key)
            expect[name] = (self.scalar(value, name), _at(key))
    name_node = fields.get("name", (None, None))[0]
    return RawSpec(
        layers=self.group(fields["layers"][0]),
        input=self.scalar(fields["input"][0], "input"),
        name=self.scalar(name_node, "name").text if name_node is not None else None,
        description=self.scalar(fields["description"][0], "description").text
        if "description" in fields else None,
        mode=self.scalar(fields["mode"][0], "mode") if "mode" in fields else None,
        expect=expect,
    )
