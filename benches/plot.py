#!/usr/bin/env python3
"""Plot the cost per input kind of the SDK core from `cargo bench --bench sdk` output.

    cargo bench --bench sdk | tee target/sdk-bench.txt
    python3 benches/plot.py target/sdk-bench.txt benches/cost-per-input.svg

Reads divan's table: the median time and throughput (items = inputs) of each bench, and
its allocation counts; writes an SVG bar chart of nanoseconds per input beside the floor,
with the 10x-floor target as a line. Standard library only.
"""

import re
import sys
from html import escape

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
RATE = {"item/s": 1.0, "Kitem/s": 1e3, "Mitem/s": 1e6, "Gitem/s": 1e9}

# (bench, label, whether the input or its outputs carry strings)
ROWS = [
    ("floor", "floor (bare match + queue push)", None),
    ("guest_count", "guest count change (frame)", False),
    ("timer_expiry", "timer expiry (reconnect)", False),
    ("lifecycle", "lifecycle change (bg / fg)", False),
    ("presence_show_terms", "presence show terms (frame)", False),
    ("network", "network lost / restored", False),
    ("floor_fresh", "floor, fresh state *", None),
    ("start_session", "start_session(random) *", False),
    ("end_session", "end_session() *", False),
    ("session_started", "session_started (frame) *", True),
    ("session_ended", "session_ended (frame) *", True),
    ("session_start_end", "session start + end cycle", True),
    ("network_resume", "network, session + presence on", True),
    ("presence_signal", "presence signal (signal_agent)", True),
]


def columns(line):
    return [c.strip() for c in re.split(r"│", line)]


def parse(text):
    """bench name -> {"ns": median ns per iteration, "items": per iteration, "allocs": n}"""
    out, cur, expect = {}, None, None
    for line in text.splitlines():
        m = re.match(r"^[│ ]*[├╰]─ (\w+)\s+(.*)$", line)
        if m:
            cols = columns(m.group(2))
            cur = None
            if len(cols) >= 3 and cols[2]:
                v, unit = cols[2].split()
                cur = out.setdefault(m.group(1), {})
                cur.update(ns=float(v) * UNITS[unit], items=1.0, allocs=0.0)
            expect = None
            continue
        if cur is None:
            continue
        cols = columns(re.sub(r"^[│ ]*", "", line))
        if len(cols) < 4:
            continue
        first = cols[0]
        if first.endswith("item/s"):
            v, unit = cols[2].split()
            cur["items"] = round(cur["ns"] * 1e-9 * float(v) * RATE[unit])
        elif first == "alloc:":
            expect = "alloc"
        elif first.endswith(":"):
            expect = None
        elif expect == "alloc":
            cur["allocs"] = float(cols[2])
            expect = None
    return out


def svg(data):
    rows = [(b, label, s) for b, label, s in ROWS if b in data]
    per = {b: data[b]["ns"] / max(data[b]["items"], 1) for b, _, _ in rows}
    allocs = {b: data[b]["allocs"] / max(data[b]["items"], 1) for b, _, _ in rows}
    floor = per.get("floor")
    limit = 10 * floor if floor else None
    top = max(list(per.values()) + ([limit] if limit else []))
    left, bar, gap, width = 250, 20, 8, 520
    height = 70 + len(rows) * (bar + gap) + 40
    x = lambda ns: left + width * ns / top
    colour = {None: "#888888", False: "#3b78c2", True: "#e08a2c"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 190}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">SDK core: median cost '
        f"per input (handled + outputs drained), ns</text>",
        f'<text x="10" y="42" fill="#555">blue: no strings in input or outputs; orange: '
        f"strings; * fresh state, vs fresh floor; label: ns, x floor, allocations</text>",
    ]
    y = 60
    for b, label, strings in rows:
        ns = per[b]
        base = per.get("floor_fresh") if label.endswith("*") else floor
        ratio = f" {ns / base:.1f}x" if base else ""
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{max(x(ns) - left, 1):.1f}" height="{bar}" '
            f'fill="{colour[strings]}"/>'
        )
        parts.append(
            f'<text x="{x(ns) + 6:.1f}" y="{y + 14}">{ns:.1f} ns{ratio}, '
            f"{allocs[b]:g} alloc</text>"
        )
        y += bar + gap
    if limit:
        parts.append(
            f'<line x1="{x(limit):.1f}" y1="52" x2="{x(limit):.1f}" y2="{y}" '
            f'stroke="#c0392b" stroke-dasharray="5,4"/>'
        )
        parts.append(
            f'<text x="{x(limit):.1f}" y="{y + 16}" fill="#c0392b" text-anchor="middle">'
            f"target: 10 x floor = {limit:.0f} ns</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py BENCH_OUTPUT.txt OUT.svg")
    with open(sys.argv[1], encoding="utf-8") as f:
        data = parse(f.read())
    if "floor" not in data:
        sys.exit("no `floor` bench in the input: run `cargo bench --bench sdk`")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(svg(data))
    per = {b: d["ns"] / d["items"] for b, d in data.items()}
    for b, label, _ in ROWS:
        if b in data:
            base = per.get("floor_fresh") if label.endswith("*") else per["floor"]
            print(f"{b:22} {per[b]:8.1f} ns/input {per[b] / base:5.1f}x floor  "
                  f"{data[b]['allocs'] / data[b]['items']:g} allocs/input")


if __name__ == "__main__":
    main()
