"""Where one thread's time went, from a py-spy raw profile recorded with `--threads`.

    python -m benchmarks.profile_summary FILE [--thread MainThread] [--top 30]

`benchmarks.edge --profile FILE` records the edge during its paced run. py-spy samples
every thread of the process; the event loop is the main thread, and the worker threads
(the sink's sealer, to_thread's pool, uvloop's) are counted apart, so that a busy worker
does not read as a busy loop. Idle samples are not in the file (py-spy's default), so the
shares are of the time the thread was running or runnable.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

Stack = tuple[str, tuple[str, ...]]  # thread label, frames from the outermost


def stacks(lines: Iterable[str]) -> Counter[Stack]:
    """`thread (tid): name;frame;...;frame count` lines, as py-spy's raw format writes them."""
    counts: Counter[Stack] = Counter()
    for line in lines:
        text, _, count = line.rstrip("\n").rpartition(" ")
        if not text or not count.isdigit():
            continue
        thread, *frames = text.split(";")
        counts[thread, tuple(frames)] += int(count)
    return counts


def by_thread(counts: Counter[Stack]) -> Counter[str]:
    threads: Counter[str] = Counter()
    for (thread, _), count in counts.items():
        threads[thread] += count
    return threads


def short(frame: str) -> str:
    """`f (/long/path/site-packages/pkg/mod.py:12)` -> `f (pkg/mod.py:12)`."""
    return re.sub(r"\((?:/[^()]*/(?:site-packages|lib/python3\.\d+)/)", "(", frame)


def shares(counts: Counter[Stack], thread: str) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive, self) of the threads whose label contains `thread`."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for (label, frames), count in counts.items():
        if thread not in label or not frames:
            continue
        total += count
        for frame in {short(f) for f in frames}:
            inclusive[frame] += count
        own[short(frames[-1])] += count
    return total, inclusive, own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--thread", default="MainThread", help="thread name part (MainThread)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    counts = stacks(args.file.read_text().splitlines())
    print("samples by thread:")
    for label, count in by_thread(counts).most_common():
        print(f"  {count:8}  {label}")
    total, inclusive, own = shares(counts, args.thread)
    if not total:
        print(f"no samples of a thread named like {args.thread!r}", file=sys.stderr)
        return 1
    for title, table in (("inclusive", inclusive), ("self", own)):
        print(f"{args.thread}, {title} ({total} samples):")
        for frame, count in table.most_common(args.top):
            print(f"  {count / total * 100:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
