"""From the raw syntax tree to typed layers, with did-you-mean for every misspelt name.

A layer that cannot be built (unknown name, bad argument) becomes an
:class:`Invalid` node carrying its findings, so that analysis reports it at
its path like any other problem and every problem in a spec is reported at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Any, cast

from .. import values as v
from ..diagnostics import MODES, Finding, Location, Mode, Problem, Severity, syntax_error
from ..layers import (
    GROUP,
    LAYERS,
    RANKS,
    Add,
    Argument,
    Block,
    Group,
    Node,
    Repeat,
    Route,
    arguments,
)
from ..shapes import Shape, axis_names
from . import calls, unknowns
from .expect import EXPECT_CONVERTERS
from .names import Scope, define, opened, resolve_name, scoped
from .oneline import parse_chain
from .syntax import (
    IDENT,
    Arg,
    BlockDef,
    Call,
    RawGroup,
    RawList,
    RawSpec,
    Ref,
    Scalar,
    Times,
    Value,
    clip,
    raw_text,
)
from .unknowns import Invalid


@dataclass(frozen=True)
class Expectation:
    key: str
    value: Any
    location: Location


@dataclass(frozen=True)
class Spec:
    """A parsed spec: everything typed, with locations; problems found at spec level."""

    input: Shape | None
    layers: Group
    input_location: Location = Location(1, 1)
    name: str | None = None
    mode: Mode | None = None
    description: str | None = None
    expect: tuple[Expectation, ...] = ()
    problems: tuple[Problem, ...] = field(default=())
    unknowns: tuple[unknowns.Site, ...] = ()
    """Every ``?`` written in the spec, in reading order (``cnncalc solve`` finds them)."""
    input_text: str | None = None
    """The input as written (``?x?x3`` when it has unknowns)."""


MAX_ROWS = v.MAX_REPEAT
"""Most layers (and block rows) a spec may expand to, repeats included: a hundred times the
deepest published CNNs, and small enough that any accepted spec is analysed in seconds
within a few hundred MB (each row costs ~1 KB: its record, shapes, node and problems)."""


def expanded_size(group: Group) -> int:
    """How many rows analysis would produce: every node, blocks' groups expanded.

    >>> from cnncalc.layers import ReLU
    >>> expanded_size((Repeat(3, (ReLU(), ReLU())),))
    7
    """
    return sum(1 + (n.expanded_size(expanded_size) if isinstance(n, Block) else 0)
               for n in group)


MAX_SUGGESTED = 200
"""Most did-you-mean searches one spec may cost (difflib is ~0.2 ms each); later misspellings
get the generic hint, so a megabyte of unknown names still builds in well under a second."""

MAX_FINDINGS_PER_LAYER = 20
"""Problems reported for one layer's name and arguments; the rest are counted in one line."""

_suggested: ContextVar[int] = ContextVar("suggested", default=0)


def _close(word: str, choices: list[str]) -> list[str]:
    done = _suggested.get()
    if done >= MAX_SUGGESTED:
        return []
    _suggested.set(done + 1)
    return list(_close_cached(word.lower(), tuple(choices)))


@lru_cache(maxsize=1024)
def _close_cached(word: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(difflib.get_close_matches(word, choices, n=3, cutoff=0.6))


def _close_name(word: str, choices: Callable[[], list[str]]) -> list[str]:
    """:func:`_close` for a tensor name among the visible ones, listed only when searched."""
    return _close(word, choices()) if _suggested.get() < MAX_SUGGESTED else []


def _invalid(value: Value, *findings: Finding) -> Invalid:
    last = findings[-1]
    marked = (*findings[:-1], Finding(last.code, last.message, last.suggestions, True,
                                      last.location))
    return Invalid(text=raw_text(value), findings=marked, location=value.location)


def build_group(raw: RawGroup | Value) -> Group:
    """A group's nodes (a nested ``[...]`` flattened into them); every group is a scope of
    its own for the names ``as`` defines (spec §9)."""
    nodes: list[Node] = []
    with scoped():
        for item in (raw.items if isinstance(raw, RawGroup) else (raw,)):
            if isinstance(item, RawGroup):
                inner = build_group(item)
                if item.as_name is not None:
                    inner = named_group(inner, item, item.as_name)
                nodes.extend(inner)
            else:
                nodes.append(build_node(item))
    return tuple(nodes)


def named_group(group: Group, item: RawGroup, as_name: Scalar) -> Group:
    """``[...] as NAME``: the name is the last node's output (an empty group, or one whose
    last node has a name already, becomes a ``* 1`` of its own to carry it)."""
    found = define(as_name.text, as_name.location)
    if found is not None:
        return (*group, _invalid(item, found))
    if group and group[-1].tensor is None:
        return (*group[:-1], replace(group[-1], tensor=as_name.text))
    return (Repeat(1, group, location=item.location, tensor=as_name.text),)


def build_node(item: Value) -> Node:
    node = _build_node(item)
    as_name = getattr(item, "as_name", None)
    if as_name is None:
        return node
    found = define(as_name.text, as_name.location)
    if found is not None:
        return _invalid(item, found)
    return replace(node, tensor=as_name.text)


def _build_node(item: Value) -> Node:
    if isinstance(item, Ref):
        missing = resolve_name(item.name, item.location, _close_name)
        return Route(calls.route_name(item.name), location=item.location) if missing is None \
            else _invalid(item, missing)
    if isinstance(item, Times):
        text = item.times.text
        if unknowns.has_unknown(text):
            return _invalid(item, Finding(
                "A006", f"a repeat count cannot be an unknown ('{clip(text.strip())}')",
                ("write the count: cnncalc solve finds layer arguments and input sizes",),
                location=item.times.location))
        try:
            text = calls.value_text(item.times, whole_only=True)
            times = v.repeat_count(text)
        except ValueError as exc:
            if item.times.text.strip() != text:  # an expression: its value shown
                exc = ValueError(f"{clip(item.times.text.strip())} = {text}: {exc}")
            return _invalid(item, Finding("A006", f"repeat count: {exc}", (),
                                          location=item.times.location))
        body = build_group(item.body)
        if times == 0 and (unread := unbuilt(body)):  # `* 0` builds nothing, but is checked
            return Invalid(text=raw_text(item), findings=unread, location=item.location)
        return Repeat(times, body, location=item.location)
    if isinstance(item, Scalar):
        return _invalid(item, Finding(
            "A006", f"'{clip(item.text)}' is a size, not a layer: only the input comes first",
            ("remove it, or join it to the first item: " + clip(item.text),)))
    if isinstance(item, RawList):
        return _invalid(item, Finding("A006", "a list of groups is not a layer"))
    if isinstance(item, RawGroup):  # pragma: no cover - build_group flattens groups
        return Repeat(1, build_group(item), location=item.location)
    return build_call(item)


def unbuilt(group: Group) -> tuple[Finding, ...]:
    """The findings of every layer in ``group`` that could not be built (blocks searched),
    in spec order: what ``* 0`` reports although it builds nothing."""
    found: list[Finding] = []
    stack = list(reversed(group))
    while stack:
        node = stack.pop()
        if node.unknown:  # a `?` no walk will ever reach: no value of it means anything
            assert isinstance(node, unknowns.Open)  # the one kind with unknowns
            found += [Finding(
                "A006", f"{s.argument} {s.text} is inside `* 0`, which builds nothing: no "
                "value of it is ever used", ("write a number, or remove what is repeated 0 "
                                            "times",), location=s.location) for s in node.sites()]
            continue
        if isinstance(node, Invalid):  # each finding where it was written
            found += [f if f.location else replace(f, location=node.location)
                      for f in node.findings]
            continue
        for a in arguments(type(node)):
            if a.convert is GROUP:
                value = getattr(node, a.name)
                for g in reversed(value if a.variadic else (value,)):
                    stack.extend(reversed(g))
    return tuple(found)


def build_add(call: Call) -> Node:
    """``add(@a, …)``: the current tensor plus the named ones (spec §9)."""
    refs: list[Ref] = []
    for raw in call.args:
        value = raw.value
        if isinstance(value, Scalar) and value.from_yaml:
            value = parse_chain(value.text, value.location, True)
        values = value.groups if isinstance(value, RawList) else (value,)
        for one in values:
            if isinstance(one, RawGroup) and len(one.items) == 1:
                one = one.items[0]
            if raw.key is not None or not isinstance(one, Ref) or one.as_name is not None:
                return _invalid(call, Finding(
                    "A006", f"add takes named tensors, not '{clip(raw_text(raw.value))}'",
                    ("e.g. add(@a, @b): the current tensor plus a and b",),
                    location=raw.location))
            refs.append(one)
    if not refs:
        return _invalid(call, Finding("A004", "add needs at least one named tensor",
                                      ("e.g. add(@a): the current tensor plus a",)))
    findings = [f for r in refs if (f := resolve_name(r.name, r.location, _close_name)) is not None]
    if findings:
        return _invalid(call, *findings)
    return Add(tuple((Route(calls.route_name(r.name), location=r.location),) for r in refs),
               location=call.location)


def build_call(call: Call) -> Node:
    if call.name.lower() == Add.name and Add.name not in LAYERS:  # syntax, not a layer kind
        return build_add(call)
    if any(isinstance(a.value, Scalar) and unknowns.has_unknown(a.value.text)
           for a in call.args) and any(
            _stands_for_number(call, a, n)
            for a, n in zip(call.args, _argument_names(call), strict=True)):
        return build_open(call)
    kind = LAYERS.get(call.name.lower())
    if kind is None and (frame := calls.frame()) is not None and not call.args \
            and call.name in frame.values:
        return build_layer_param(call, frame.values[call.name])
    if kind is None and (defn := calls.lookup(call.name)) is not None:
        return build_block_call(call, defn)
    if kind is None:
        close = list(dict.fromkeys(
            LAYERS[c].name if c in LAYERS else c
            for c in _close(call.name, [*LAYERS, *calls.block_names()])))
        hint = "input must come first" if call.name.lower() == "input" else \
            f"unknown layer '{clip(call.name)}'"
        return _invalid(call, Finding(
            "A001", hint, tuple(f"did you mean '{c}'?" for c in close)
            or ("`cnncalc layers` lists every layer kind",)))
    schema = arguments(kind)
    positional, by_name = signature(kind)
    given: dict[str, Any] = {}
    findings: list[Finding] = []
    n_pos = 0
    for raw in call.args:
        if raw.key is None:
            if n_pos >= len(positional):
                names = ", ".join(a.name for a in positional) or "none"
                findings.append(Finding(
                    "A005", f"{kind.name} takes {len(positional)} positional argument"
                    f"{'' if len(positional) == 1 else 's'} ({names}); "
                    f"'{clip(raw_text(raw.value))}' is one too many",
                    ("name the argument, e.g. s=" + clip(raw_text(raw.value)),)
                    if positional else ("remove the parentheses' contents",),
                    location=raw.location))
                continue
            a = positional[n_pos]
            if not a.variadic:
                n_pos += 1
        else:
            found = by_name.get(raw.key.lower())
            if found is None:
                close = _close(raw.key, list(by_name))
                findings.append(Finding(
                    "A002", f"{kind.name} has no argument '{clip(raw.key)}'",
                    tuple(f"did you mean '{by_name[c].name}'?" for c in close)
                    or (f"{kind.name} takes {', '.join(a.name for a in schema) or 'none'}",),
                    location=raw.location))
                continue
            a = found
        if a.name in given and not a.variadic:
            findings.append(Finding("A003", f"{a.name} is given twice", (),
                                    location=raw.location))
            continue
        try:
            value = convert(a, raw)
        except ValueError as exc:
            findings.append(Finding("A006", f"{kind.name} {a.name}: {exc}", (),
                                    location=raw.value.location))
            continue
        if a.variadic:
            given.setdefault(a.name, []).extend(value)
        else:
            given[a.name] = value
    for a in schema:
        if a.required and a.name not in given and not any(f.code == "A006" for f in findings):
            example = ", ".join(x.name for x in positional)
            what = f" ({a.help})" if a.help else ""
            findings.append(Finding("A004", f"{kind.name} needs {a.name}{what}",
                                    (f"{kind.name}({example})",), location=call.location))
    if len(findings) > MAX_FINDINGS_PER_LAYER:
        more = len(findings) - MAX_FINDINGS_PER_LAYER + 1
        last = findings[MAX_FINDINGS_PER_LAYER - 1]
        findings[MAX_FINDINGS_PER_LAYER - 1:] = [Finding(
            last.code, f"… and {more:,} more problems in {kind.name}'s arguments", (),
            location=last.location)]
    if findings:
        return _invalid(call, *findings)
    for a in schema:
        if a.variadic and a.name in given:
            given[a.name] = tuple(given[a.name])
    return kind(**given, location=call.location, alias_rank=RANKS.get(call.name.lower()))


WHOLE_NUMBERS = frozenset({v.count, v.pair, v.natural_pair, v.padding, v.whole})
"""The converters of arguments a ``?`` may stand for: whole numbers and sizes."""

STRUCTURAL = frozenset({"A001", "A002", "A003", "A004", "A005"})
"""Problems of a call that no value of its unknowns can mend."""


def signature(kind: type[Node]) -> tuple[tuple[Argument, ...], Mapping[str, Argument]]:
    """A layer kind's positional arguments, and every argument by its name and short name
    (what a call's arguments are matched against; once per kind)."""
    return _signature(cast(Any, kind))  # Any: mypy sees dataclass types unhashable


@cache
def _signature(kind: Any) -> tuple[tuple[Argument, ...], Mapping[str, Argument]]:
    schema = arguments(kind)
    by_name = {n: a for a in schema for n in (a.name, a.short) if n}
    return tuple(a for a in schema if a.positional), by_name


def _argument_names(call: Call) -> list[str]:
    """The argument each of ``call``'s arguments gives (its parameter's name for a block
    call); ``?`` where it names none (the build reports that)."""
    kind = LAYERS.get(call.name.lower())
    defn = calls.lookup(call.name) if kind is None else None
    if kind is not None:
        args, by_argument = signature(kind)
        positional = [a.name for a in args]
        by_name = {n: a.name for n, a in by_argument.items()}
    elif defn is not None:
        positional = [p.name for p in defn.params]
        by_name = {p.name: p.name for p in defn.params}
    else:
        positional, by_name = [], {}
    names, n = [], 0
    for a in call.args:
        if a.key is None:
            names.append(positional[min(n, len(positional) - 1)] if positional else "?")
            n += 1
        else:
            names.append(by_name.get(a.key.lower() if kind else a.key, a.key))
    return names


def _stands_for_number(call: Call, a: Arg, argument: str) -> bool:
    """Whether argument ``a`` of ``call`` holds a ``?`` that stands for a number: not a
    layer kind's group (``layers: conv(8, 3, p=?) -> relu``) nor a block's layer-valued
    argument written as text, whose own layers hold their ``?``."""
    if not isinstance(a.value, Scalar) or not unknowns.has_unknown(a.value.text):
        return False
    kind = LAYERS.get(call.name.lower())
    if kind is None:
        return unknowns.bad_part(a.value.text) is None
    by_name = signature(kind)[1]
    return argument not in by_name or by_name[argument].convert is not GROUP


def build_open(call: Call) -> Node:
    """A layer or block call with unknowns (:class:`~cnncalc.spec.unknowns.Open`): checked
    now for everything no value can mend (names, counts of arguments), built with numbers
    when ``cnncalc solve`` binds it."""
    kind = LAYERS.get(call.name.lower())
    names = _argument_names(call)
    holes: list[unknowns.Hole] = []
    findings: list[Finding] = []
    for i, (a, argument) in enumerate(zip(call.args, names, strict=True)):
        if not _stands_for_number(call, a, argument):
            continue
        assert isinstance(a.value, Scalar)  # a `?` that stands for a number is a scalar
        text = a.value.text
        if (bad := unknowns.bad_part(text)) is not None:
            findings.append(Finding("A006", bad, (), location=a.value.location))
            continue
        schema = signature(kind)[1] if kind is not None else {}
        if argument in schema and schema[argument].convert not in WHOLE_NUMBERS:
            findings.append(Finding(
                "A006", f"{kind.name if kind else call.name} {argument} is not a whole number: "
                f"`?` cannot stand for it", ("`?` stands for a padding, stride, kernel, "
                "dilation, output padding, a count of filters or units, or an input size",),
                location=a.value.location))
            continue
        parts = unknowns.components(text)
        offset = 0
        for part, piece in enumerate(parts):
            if unknowns.has_unknown(piece):
                at = Location(a.value.location.line, a.value.location.column + offset) \
                    if "\n" not in text[:offset] else a.value.location
                where = unknowns.site(at, part, piece, call.name.lower(), argument,
                                      part if len(parts) > 1 else None)
                holes.append(unknowns.Hole(i, part, where))
            offset += len(piece) + 1
    if findings:
        return _invalid(call, *findings)
    placeholder = unknowns.filled(call, tuple(holes), {h.site: 1 for h in holes})
    trial = build_call(placeholder)
    if isinstance(trial, Invalid) and any(f.code in STRUCTURAL for f in trial.findings):
        return trial
    context = copy_context()

    def rebuild(filled: Call) -> Node:  # where the call was written: its block's values
        return context.run(build_call, filled)
    return unknowns.Open.make(call, tuple(holes), rebuild, call.location)


def build_block_call(call: Call, defn: BlockDef) -> Node:
    """A call of a user block (spec §10): one row holding the body built with its values."""
    loop = calls.cycle(defn)
    if loop is not None:
        return _invalid(call, replace(loop, location=call.location))
    values, findings = calls.bind(call, defn)
    if findings:
        return _invalid(call, *findings[:MAX_FINDINGS_PER_LAYER])
    return calls.expand(call, defn, values, build_group, calls.label(call, values, defn))


def build_layer_param(call: Call, value: calls.Bound) -> Node:
    """A layer-valued parameter used where a layer goes (``act`` for ``act=relu``): each use
    is a layer of its own."""
    if isinstance(value, Scalar):
        group = parse_chain(value.text, value.location, value.from_yaml)
    elif isinstance(value, RawGroup):
        group = value
    elif isinstance(value, Call | Times):
        group = RawGroup((value,), value.location)
    else:
        return _invalid(call, Finding("A006", f"the parameter {call.name} is a number, not a "
                                      "layer", ()))
    nodes = build_group(group)
    if len(nodes) == 1:
        return replace(nodes[0], location=call.location)
    return Repeat(1, nodes, location=call.location)


def convert(a: Argument, raw: Arg) -> Any:
    value = raw.value
    if a.convert is GROUP:
        if isinstance(value, RawList):
            groups = [build_group(g) for g in value.groups]
            return groups if a.variadic else tuple(n for g in groups for n in g)
        if isinstance(value, Scalar):
            if value.text.strip().lower() in a.words:
                return value.text.strip().lower()  # the kind takes the word (shortcut=auto)
            if not value.from_yaml and not value.text[:1].isalpha():
                raise ValueError(f"expects a group of layers like [conv(64, 3) -> relu], "
                                 f"not '{clip(value.text)}'")
            value = parse_chain(value.text, value.location, value.from_yaml) \
                if value.from_yaml or not IDENT.fullmatch(value.text) \
                else Call(value.text, (), value.location)
        group = build_group(value)
        return [group] if a.variadic else group
    if not isinstance(value, Scalar):
        raise ValueError(f"expects a value, not the group {clip(raw_text(value))}")
    return calls.whole_or_message(value, a.convert)


def build(raw: RawSpec) -> Spec:
    """Type every layer and value of a raw spec (errors become problems or Invalid nodes)."""
    problems: list[Problem] = []

    def problem(code: str, message: str, loc: Location, path: str,
                suggestions: tuple[str, ...] = ()) -> None:
        problems.append(Problem(Severity.ERROR, code, message, path, loc, suggestions))

    if raw.input is None:
        first = raw.layers.items[0].location if raw.layers.items else Location(1, 1)
        raise syntax_error("S001", "the spec has no input volume: start with it, e.g. "
                           "32x32x3 -> conv(10, 5, p=2)", first)
    shape: Shape | None = None
    sites = unknowns.collecting()
    if isinstance(raw.input, Scalar) and unknowns.has_unknown(raw.input.text):
        if (bad := input_unknowns(raw.input)) is not None:
            problem("A007", f"input {bad}", raw.input.location, "input")
        else:
            problem("A007", "the input has unknown sizes: `cnncalc solve` finds the ones that "
                    "work", raw.input.location, "input",
                    ("cnncalc solve SPEC; cnncalc sizes SPEC lists every size a network "
                     "accepts",))
    elif isinstance(raw.input, Scalar):
        try:
            shape = v.shape(raw.input.text)
        except ValueError as exc:
            problem("A007", f"input {exc}", raw.input.location, "input",
                    ("e.g. 32x32x3 for a colour image, 28x28x1 for MNIST",))
    else:
        problem("A007", "the input must be a shape like 32x32x3", raw.input.location, "input")
    mode: Mode | None = None
    if raw.mode is not None:
        word = raw.mode.text.strip().lower()
        if word in MODES:
            mode = word
        else:
            problem("A006", f"mode '{clip(raw.mode.text)}' is not {', '.join(MODES[:-1])} or "
                    f"{MODES[-1]}", raw.mode.location, "mode", tuple(_close(word, list(MODES))))
    expect = []
    for key, (value, key_loc) in raw.expect.items():
        text = value.text if isinstance(value, Scalar) else raw_text(value)
        try:
            if unknowns.has_unknown(text):
                raise ValueError(f"'{clip(text)}' cannot be unknown: write what the network "
                                 "must give, and `?` in its layers (cnncalc solve finds them)")
            expect.append(Expectation(key, EXPECT_CONVERTERS[key](text), key_loc))
        except ValueError as exc:
            problem("A006", f"expect {key}: {exc}", value.location, f"expect.{key}")
    override = False
    if raw.override is not None:
        try:
            override = v.boolean(raw.override.text)
        except ValueError as exc:
            problem("A006", f"override: {exc}", raw.override.location, "override")
    defs = calls.definitions(raw.blocks, problems, LAYERS, override)
    token = _suggested.set(0)
    try:
        with opened(Scope.top(raw.layers)), calls.defined(defs):
            layers = build_group(raw.layers)
    finally:
        _suggested.reset(token)
    rows = expanded_size(layers)
    if rows > MAX_ROWS:
        biggest = max(layers, key=lambda n: expanded_size((n,)))
        raise syntax_error("S009", f"the spec expands to {rows:,} layers, more than cnncalc's "
                           f"limit of {MAX_ROWS:,}", biggest.location or raw.layers.location,
                           ("use smaller repeat counts",))
    return Spec(shape, layers, raw.input.location, raw.name, mode, raw.description,
                tuple(expect), tuple(problems),
                tuple(sorted(sites.values(), key=lambda s: s.index)),
                raw.input.text if isinstance(raw.input, Scalar) else None)


def input_unknowns(raw: Scalar) -> str | None:
    """Record the input's unknown sizes (``?x?x3``) as sites; what is wrong with it, or None."""
    if (bad := unknowns.bad_part(raw.text)) is not None:
        return bad
    parts = unknowns.components(raw.text)
    if len(parts) > v.MAX_RANK + 1:
        return f"'{clip(raw.text)}' has {len(parts)} sizes: a shape has at most {v.MAX_RANK + 1}"
    names = [*axis_names(len(parts) - 1), "channels"] if len(parts) > 1 else ["size"]
    offset = 0
    for part, piece in enumerate(parts):
        if unknowns.has_unknown(piece):
            at = Location(raw.location.line, raw.location.column + offset)
            unknowns.site(at, part, piece, "input", names[part], None)
        offset += len(piece) + 1
    return None

