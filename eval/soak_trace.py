"""The soak's server under tracemalloc: `python eval/soak_trace.py OUT.jsonl ui --data-dir ...`.

Runs `assistant <args>`. At each SIGUSR1 (eval/soak.py --trace sends one per checkpoint) it
appends one JSON line to OUT: RSS, the Python heap tracemalloc sees (RSS minus that is native:
llama.cpp, Chroma's Rust, onnxruntime, glibc arenas), the Gradio sessions held, and the object
types and allocation sites that grew since the first checkpoint. With SOAK_TRIM=1 it then calls
malloc_trim(0) and reads RSS again: heap freed but not given back to the system. With
SOAK_GC=1 it collects garbage first (so what is counted is alive) and lists what holds large
strings (those starting with SOAK_PREFIX, default "<") and, with SOAK_HOLDERS=<type name>, what
refers to the live objects of that type.
Kept out of the assistant: the soak's measuring is no part of serving.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

FRAMES = 8
TOP = 25


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _types() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def _describe(o: Any) -> str:
    name = type(o).__qualname__
    if isinstance(o, list | tuple):
        name += f"({len(o)})"
    if isinstance(o, dict):
        keys = [k for k in list(o)[:5] if isinstance(k, str | int)]
        name += f"{keys}"
    return name


def _referrers(o: Any, depth: int, seen: set[int]) -> list[list[Any]]:
    """Up to `depth` levels of what refers to `o`, following the first referrer of each level
    (frames, iterators and the heap's own object list left out)."""
    levels, up = [], o
    for _ in range(depth):
        refs = [r for r in gc.get_referrers(up) if id(r) not in seen
                and type(r).__name__ not in ("frame", "list_iterator")
                and not (isinstance(r, list) and len(r) > 10_000)]
        if not refs:
            break
        seen.add(id(up))
        levels.append(refs)
        up = refs[0]
    return levels


def _holders(min_chars: int = 5_000, limit: int = 12, depth: int = 6) -> list[str]:
    """What holds the large strings still alive (after a full collection when SOAK_GC=1): each
    one's first characters and the chain of containers above it."""
    found: list[str] = []
    objects = gc.get_objects()
    for o in objects:
        if isinstance(o, dict):
            values: Any = o.values()
        elif isinstance(o, list | tuple):
            values = o
        else:
            continue
        for v in values:
            if not (isinstance(v, str) and len(v) >= min_chars
                    and v.startswith(os.environ.get("SOAK_PREFIX", "<"))):
                continue
            chain = [_describe(o), *(_describe(refs[0]) for refs in
                                     _referrers(o, depth, {id(objects), id(found)}))]
            found.append(f"{len(v)} chars {v[:30]!r} in {' < '.join(chain)}")
            if len(found) >= limit:
                return found
    return found


def _instance_holders(kind: str, limit: int = 8, depth: int = 4) -> list[str]:
    """Who refers to the live objects of type `kind` (SOAK_HOLDERS=HTML): chains of referrers."""
    objects = gc.get_objects()
    out = []
    for o in objects:
        if type(o).__name__ != kind:
            continue
        chain = [" | ".join(_describe(r) for r in refs[:3])
                 for refs in _referrers(o, depth, {id(objects), id(out)})]
        out.append(" < ".join(chain))
        if len(out) >= limit:
            break
    return out


def _sessions() -> dict[str, int]:
    """Gradio's per-session objects: StateHolder.session_data entries, closed ones counted."""
    for o in gc.get_objects():
        if type(o).__name__ == "StateHolder" and hasattr(o, "session_data"):
            data = o.session_data
            return {"held": len(data), "closed": sum(1 for s in data.values() if s.is_closed)}
    return {}


class Tracer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.first: tracemalloc.Snapshot | None = None
        self.first_types: collections.Counter[str] | None = None
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        started = time.monotonic()
        rss = _rss_mb()
        if not tracemalloc.is_tracing():
            # Started at the first checkpoint, not at launch: tracing the imports and the model
            # load slows the start past Gradio's own check that the server answers.
            tracemalloc.start(FRAMES)
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        if os.environ.get("SOAK_GC") == "1":
            gc.collect()
        types = _types()
        line: dict[str, Any] = {
            "checkpoint": self.count, "rss_mb": round(rss, 1),
            "python_heap_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 1),
            "gc_objects": sum(types.values()), "gradio_sessions": _sessions(),
        }
        if os.environ.get("SOAK_GC") == "1":
            line["large_strings"] = _holders()
            if kind := os.environ.get("SOAK_HOLDERS"):
                line["holders"] = _instance_holders(kind)
        if self.first is None or self.first_types is None:
            self.first, self.first_types = snap, types
        else:
            grew = (types - self.first_types).most_common(TOP)
            line["types_grown"] = dict(grew)
            stats = snap.compare_to(self.first, "traceback")
            line["sites_grown"] = [
                {"kb": round(s.size_diff / 1024, 1), "count": s.count_diff,
                 "where": [f"{fr.filename.split('site-packages/')[-1]}:{fr.lineno}"
                           for fr in s.traceback[-FRAMES:]]}
                for s in stats[:TOP]
            ]
        if os.environ.get("SOAK_TRIM") == "1":
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            line["rss_after_trim_mb"] = round(_rss_mb(), 1)
        line["seconds"] = round(time.monotonic() - started, 1)
        with self.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def main() -> int:
    out = Path(sys.argv[1])
    signal.signal(signal.SIGUSR1, Tracer(out))
    from assistant.cli import main as cli

    return cli(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
