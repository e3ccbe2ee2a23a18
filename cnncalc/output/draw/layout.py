"""Pure geometry: where every box, label, join and arrow of a picture goes.

Everything is an exact integer pixel position in frozen dataclasses (:class:`Layout`), so
the SVG writer only spells it out, the same spec always gives the same picture, and the
tests check from this geometry that no two labels and no two boxes overlap.

Along the flow (left to right) every item has a column; the caption of the arrow into it
sits under that arrow in the gap before the column, its size under its box, its problem
codes above. A block's groups are lanes stacked under its first one, meeting at the join.
The top-level items wrap into rows at :data:`MAX_WIDTH`. Sizes follow H, W and C on a log
scale, clamped: a 224×224×3 image and a 7×7×2048 map both read.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...diagnostics import Severity
from ...shapes import Shape, format_shape
from ..formats import elide, human
from .geometry import (
    STACK,
    Arrow,
    Bar,
    Box,
    Glyph,
    Label,
    Layout,
    Part,
    dims,
    line_height,
    overlap,
    text_lines,
    text_width,
)
from .graph import (
    INPUT,
    Chain,
    Fork,
    Item,
    Join,
    Picture,
    Volume,
    codes_of,
    severity_rank,
    walk,
)

MAX_WIDTH = 3600
"""Top-level items wrap into a new row past this width (pixels)."""
MARGIN = 20
GAP = 22          # the least gap between two columns (the arrow's length)
PAD = 6           # around a caption in its gap
FAN = 14          # a block's fan-out before its lanes
LANE_GAP = 14     # between a block's lanes
ROW_GAP = 30      # between wrapped rows
ROUTE_STEP = 6    # between the tiers of a row's @NAME routes
SIZE, CAPTION, CODE, STAGE, TITLE = 11, 10, 10, 10, 15
CAPTION_WIDTH = 44  # characters before a caption line is elided


def volume_part(v: Volume) -> Part:
    """A volume's box in a column as wide as the box; its size under it and its codes
    above, centred (they may reach into the gaps beside it: the packer keeps them clear)."""
    w, h, dx, dy, copies = dims(v.shape)
    bw, up, down = w + dx + (copies - 1) * STACK, h // 2 + dy + (copies - 1) * STACK, h - h // 2
    size = "?" if v.shape is None else format_shape(v.shape)
    mark, severity = codes_of(v.marks), severity_rank(v.marks)
    style = "unknown" if v.shape is None else "route" if v.route is not None else \
        "folded" if v.folded else "volume"
    p = Part(width=bw, entry=0, exit=w)
    p.boxes.append(Box(0, -(h // 2), w, h, dx, dy, copies, style,
                       severity if severity is not Severity.NOTE else None,
                       "\n".join(v.caption)))
    p.labels += text_lines([size], SIZE, "size", 0, down + 3, bw)
    if mark:
        p.labels += text_lines([mark], CODE, "code", 0, -up - 3 - line_height(CODE), bw, severity)
    p.anchors[v.key] = (bw // 2, -up)
    if v.route is not None:
        p.routes.append((v.route, v.key))
    return p.settle()


def caption_lines(caption: Sequence[str]) -> list[str]:
    return [elide(c, CAPTION_WIDTH) for c in caption]


def gap_for(lines: Sequence[str]) -> int:
    return max([GAP] + [text_width(t, CAPTION) + 2 * PAD for t in lines])


class Packer:
    """Items left to right on one axis: each after a gap holding the caption of the arrow
    into it, pushed right until none of its boxes and labels overlaps those of the items
    just before it (labels wider than their box reach into the gaps where there is room)."""

    WINDOW = 4
    """Earlier items checked against each new one: labels reach at most into the next gap."""

    def __init__(self, lead: bool) -> None:
        self.part, self.cursor = Part(), 0
        self.last: int | None = 0 if lead else None
        self.recent: list[list[tuple[int, int, int, int]]] = []

    def add(self, part: Part, caption: Sequence[str], routed: bool = False) -> tuple[int, int]:
        """Place ``part`` after the caption; returns its x and the gap's start."""
        lines = caption_lines(caption)
        gap = gap_for(lines) if self.last is not None else 0
        x, start = self.cursor + gap, self.cursor
        mine = [b for prims in (part.boxes, part.glyphs, part.labels) for b in
                (q.bounds() for q in prims)]
        x = max([x] + [-b[0] for b in mine])  # nothing left of the chain's start
        # Only what could meet: x only grows, so an earlier rectangle ending left of all of
        # this item never will, nor will a rectangle of this item starting right of every
        # earlier one and of the caption (a long block is compared by its edges, not whole).
        lo = min([start] + [b[0] + x for b in mine])
        earlier = [b for item in self.recent for b in item if b[2] > lo]
        hi = max([b[2] for b in earlier] + [x])
        near = [b for b in mine if b[0] + x < hi]
        for _ in range(64):
            caps = text_lines(lines, CAPTION, "caption", start, 4, x - start)
            placed = [(a + x, b, c + x, d) for a, b, c, d in near]
            here = placed + [t.bounds() for t in caps]
            push = max((o[2] - m[0] + 1 for m in here for o in earlier if overlap(m, o)),
                       default=0)
            push = max([push] + [t.bounds()[2] - m[0] + 1 for m in placed for t in caps
                                 if overlap(m, t.bounds())])
            if push <= 0:
                break
            x += push
        self.part.labels += caps
        if self.last is not None and not routed:
            self.part.arrows.append(Arrow(((self.last, 0), (x + part.entry, 0)),
                                          head=not part.glyphs))  # a block fans out
        self.part.put(part, x, 0)
        everything = [(a + x, b, c + x, d) for a, b, c, d in mine] + [t.bounds() for t in caps]
        self.recent = [*self.recent[-self.WINDOW + 1:], everything]
        self.cursor, self.last = x + part.width, x + part.exit
        return x, start

    def done(self) -> Part:
        self.part.width, self.part.exit = self.cursor, self.last or 0
        return self.part.settle()


def chain_part(chain: Chain, lead: bool = True) -> Part:
    """Items left to right, each after a gap with the caption of the arrow into it."""
    packer = Packer(lead)
    for item in chain:
        packer.add(item_part(item), item.caption if isinstance(item, Volume) else (),
                   isinstance(item, Volume) and item.route is not None)
    return packer.done()


def starts_with_route(chain: Chain) -> bool:
    return bool(chain) and isinstance(chain[0], Volume) and chain[0].route is not None


def join_glyph(join: Join) -> tuple[int, int]:
    if join.glyph in ("⊕", "⊗"):
        return 18, 18
    return text_width(join.glyph, CAPTION) + 8, 16


def fork_part(fork: Fork) -> Part:
    """A block: its lanes one under another, fanned out from the input, meeting at the
    join; the first lane on the axis."""
    p = Part()
    lanes = [chain_part(b) for b in fork.branches]
    ys, y = [], 0
    for n, lane in enumerate(lanes):
        up, down = (lane.up, lane.down) if fork.branches[n] else (4, 4)
        if n:
            y += LANE_GAP + up
        ys.append(y)
        y += down
    inner = max([0] + [max([lane.width] + [q.bounds()[2] for q in lane.labels]) for lane in lanes])
    gw, gh = join_glyph(fork.join)
    j = fork.join
    shown = j.shape is not None and (not fork.branches or not fork.branches[0]
                                     or _last_shape(fork.branches[0]) != j.shape)
    size = format_shape(j.shape) if shown else ""
    mark, severity = codes_of(j.marks), severity_rank(j.marks)
    col = max(gw, text_width(size, SIZE) if size else 0, text_width(mark, CODE) if mark else 0)
    jx = FAN + inner + GAP
    cx = jx + col // 2
    p.glyphs.append(Glyph(cx, 0, gw, gh, j.glyph,
                          severity if severity is not Severity.NOTE else None))
    p.anchors[j.key] = (cx, -(gh // 2))
    top = gh // 2 + 3
    if size:
        top += line_height(SIZE)
        p.labels += text_lines([size], SIZE, "size", jx, -top, col)
    if mark:
        top += line_height(CODE)
        p.labels += text_lines([mark], CODE, "code", jx, -top, col, severity)
    mid, bottom = FAN // 2, gh - gh // 2
    for n, (lane, ly) in enumerate(zip(lanes, ys, strict=True)):
        branch = fork.branches[n]
        if branch:
            p.put(lane, FAN, ly)
            if not starts_with_route(branch):
                p.arrows.append(Arrow(((0, 0), (FAN, 0)) if not n else
                                      ((0, 0), (mid, 0), (mid, ly), (FAN, ly)), head=False))
            end = FAN + lane.exit
            p.arrows.append(Arrow(((end, 0), (cx - gw // 2, 0)) if not n else
                                  ((end, ly), (cx, ly), (cx, bottom))))
        elif not n:
            p.arrows.append(Arrow(((0, 0), (cx - gw // 2, 0))))
        else:
            p.arrows.append(Arrow(((0, 0), (mid, 0), (mid, ly), (cx, ly), (cx, bottom))))
    right = cx - gw // 2 + gw
    after = caption_lines(j.after)
    if after:
        tail = gap_for(after)
        x0 = jx + col
        p.labels += text_lines(after, CAPTION, "caption", x0, 4, tail)
        p.arrows.append(Arrow(((right, 0), (x0 + tail, 0)), head=False))
        p.width = p.exit = x0 + tail
    else:
        p.width, p.exit = jx + col, right
    return p.settle()


def _last_shape(chain: Chain) -> Shape | None:
    last = chain[-1]
    return last.shape if isinstance(last, Volume) else last.join.shape


def item_part(item: Item) -> Part:
    return volume_part(item) if isinstance(item, Volume) else fork_part(item)


def stage_key(item: Item) -> tuple[int, ...] | str:
    shape = item.shape if isinstance(item, Volume) else item.join.shape
    if shape is None:
        return "?"
    return "flat" if len(shape) == 1 else shape[:-1]


def stage_text(key: tuple[int, ...] | str, params: int, macs: int) -> list[list[str]]:
    """The stage's label, longest first (one or two lines): the layout takes the first
    that fits over the stage's columns.

    >>> stage_text((56, 56), 215808, 680_000_000)[:2]
    [['56×56 · 215.81K params · 680.00M MACs'], ['56×56', '215.81K params · 680.00M MACs']]
    """
    where = key if isinstance(key, str) else "×".join(map(str, key))
    if not params and not macs:
        return [[where]]
    p, m = human(params), human(macs)
    return [[f"{where} · {p} params · {m} MACs"], [where, f"{p} params · {m} MACs"],
            [where, f"{p} · {m} MACs"], [f"{where} · {p} params", f"{m} MACs"],
            [f"{p} params", f"{m} MACs"], [where]]


def folded(fork: Fork) -> Volume:
    """A block too wide for a row, as one box (as ``--depth`` folds it), keeping the marks
    of every problem inside it; a route to its output still finds it."""
    marks = tuple(m for node in walk((fork,)) for m in node.marks)
    return Volume(fork.join.key, fork.join.shape, (f"{fork.label} (folded: wider than a row)",
                                                   *fork.join.after),
                  folded=True, marks=marks, params=fork.params, macs=fork.macs)


def layout(picture: Picture) -> Layout:
    """The picture's geometry: a title, then the top-level items in rows of at most
    :data:`MAX_WIDTH`, each row under a band of stage labels (a block wider than a row is
    folded into one box)."""
    page = Part()
    y = MARGIN
    for text, size, role in ((picture.title, TITLE, "title"), (picture.subtitle, SIZE, "subtitle"),
                             *((n, SIZE, "note") for n in picture.notes)):
        text = elide(text, 160)
        page.labels.append(Label(MARGIN, y, text_width(text, size), line_height(size), text, size,
                                 role, Severity.ERROR if role == "note" else None))
        y += line_height(size) + 2
    y += 8
    stage_h = 2 * line_height(STAGE) + 6
    rows: list[list[tuple[Part, Item]]] = [[]]
    x = 0
    for n, item in enumerate(picture.chain):
        part = item_part(item)
        if isinstance(item, Fork) and part.width > MAX_WIDTH:
            item = folded(item)
            part = item_part(item)
        lines = caption_lines(item.caption) if isinstance(item, Volume) else []
        gap = gap_for(lines) if n else 0
        if rows[-1] and x + gap + part.width > MAX_WIDTH:
            rows.append([])
            x = 0
        rows[-1].append((part, item))
        x += gap + part.width
    previous: tuple[int, int, int] | None = None  # (exit x, axis y, bottom y) of the last row
    width = 0
    for row in rows:
        packer = Packer(lead=previous is not None)
        stages: list[tuple[tuple[int, ...] | str, int, int, int, int]] = []  # key, x0, x1, params, macs
        for part, item in row:
            routed = isinstance(item, Volume) and item.route is not None
            at, start = packer.add(part, item.caption if isinstance(item, Volume) else (), routed)
            key = stage_key(item)
            if isinstance(item, Volume) and item.key == INPUT:
                continue
            if stages and stages[-1][0] == key:
                k, s0, _, pp, mm = stages[-1]
                stages[-1] = (k, s0, at + part.width, pp + item.params, mm + item.macs)
            else:
                stages.append((key, (start + at) // 2, at + part.width, item.params, item.macs))
        chain = packer.done()
        local = [(a, b) for a, b in chain.routes if a in chain.anchors]  # within this row
        chain.routes = [r for r in chain.routes if r not in local]
        top = y + stage_h
        axis = top + chain.up + (ROUTE_STEP * len(local) + 6 if local else 0)
        for key, x0, x1, params, macs in stages:
            for lines in stage_text(key, params, macs):
                if all(text_width(t, STAGE) <= x1 - x0 for t in lines):
                    page.labels += text_lines(lines, STAGE, "stage", MARGIN + x0,
                                              top - 6 - len(lines) * line_height(STAGE), x1 - x0)
                    break
            page.bars.append(Bar(MARGIN + x0, MARGIN + x1, top - 4))
        page.put(chain, MARGIN, axis)
        for n, (source, target) in enumerate(local):  # over the row, under its stage bars
            (sx, sy), (tx, ty) = page.anchors[source], page.anchors[target]
            tier = top + 2 + ROUTE_STEP * n
            page.arrows.append(Arrow(((sx, sy), (sx, tier), (tx, tier), (tx, ty)), route=True))
        if previous is not None:
            ex, ey, bottom = previous
            turn = bottom + ROW_GAP // 2
            page.arrows.append(Arrow(((ex, ey), (ex + 10, ey), (ex + 10, turn),
                                      (MARGIN - 10, turn), (MARGIN - 10, axis), (MARGIN, axis)),
                                     head=False))
        previous = (MARGIN + chain.exit, axis, axis + chain.down)
        width = max(width, MARGIN + chain.width + 12)
        y = axis + chain.down + ROW_GAP
    for source, target in page.routes:  # from an earlier row: a curve
        if source in page.anchors and target in page.anchors:
            (sx, sy), (tx, ty) = page.anchors[source], page.anchors[target]
            lift = min(sy, ty) - 24
            page.arrows.append(Arrow(((sx, sy), ((sx + tx) // 2, lift), (tx, ty)), route=True))
    width = max([width] + [lab.x + lab.w for lab in page.labels]) + MARGIN
    return Layout(width, y - ROW_GAP + MARGIN, tuple(page.boxes), tuple(page.glyphs),
                  tuple(page.labels), tuple(page.arrows), tuple(page.bars))


__all__ = ["MAX_WIDTH", "Arrow", "Bar", "Box", "Glyph", "Label", "Layout", "layout"]
