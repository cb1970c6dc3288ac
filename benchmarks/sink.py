"""EventSink: emit() cost per call, and events/s end to end into a real tansu broker.

    python -m benchmarks.sink [--emits N] [--events N] [--repeat N] [--bootstrap HOST:PORT]
                              [--json]

emit() is timed on a sink whose buffer holds every event (nothing else runs), against
`deque.append` of the same tuple: the ratio is what the request path pays over the bare
minimum. End to end, N events go through emit() into the broker until every one is
acked, against a bare aiokafka producer sending the same pre-encoded records with the
same settings (acks=all, zstd), one `send()` per record: the ratio is the sink's overhead
over the client's usual use. CPU per event is this process's CPU time (user + system, the
client's included; the broker is another process) over the run divided by N: for the
sink, the background sender's cost once emit() is done, since all events are emitted
into the buffer before the clock starts.
Without --bootstrap a local tansu is started on a free port. Events are built before
timing; the best of --repeat runs counts, because noise only ever slows a run down. The
emit() loops run with the garbage collector off, as `timeit` does: with hundreds of
thousands of live events a collection pass would otherwise dominate both timings.
With --json the figures are printed as one JSON object instead of text.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import NamedTuple

from turnout.edge.sink import EventSink, SinkSettings
from turnout.edge.sink.producer import make_producer
from turnout.events import ENCODER, TOPIC_CLICKS, Click
from turnout.local.services import local_stack
from turnout.topics import ensure_topics


def clicks(n: int, tag: str) -> list[tuple[str, Click]]:
    out = []
    for i in range(n):
        key = f"{tag}-{i:012d}"
        out.append((key, Click(
            click_id=key, ts_ms=1_718_000_000_000 + i, workspace_id="ws-1", campaign_id="cmp-1",
            campaign_code="INSTA_SUMMER_01", graph_version=7, rule_id="r-us", offer_id="of-3",
            destination_id="of-3", destination_kind="offer", country="US", device="mobile",
            os="iOS", browser="Safari", language="en", ip="214.78.0.0", visitor_id=f"v-{i}",
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            subs=["s1", "", "", "", "", "", "", "", "", ""], cost_micros=25_000,
        )))
    return out


def time_emit(settings: SinkSettings, events: list[tuple[str, Click]]) -> float:
    sink = EventSink(settings)  # not started: only emit() itself is timed
    emit = sink.emit
    topic = TOPIC_CLICKS
    started = time.perf_counter_ns()
    for key, event in events:
        emit(topic, key, event)
    return (time.perf_counter_ns() - started) / len(events)


def time_append(events: list[tuple[str, Click]]) -> float:
    buffer: deque[tuple[str, str, Click]] = deque()
    append = buffer.append
    topic = TOPIC_CLICKS
    started = time.perf_counter_ns()
    for key, event in events:
        append((topic, key, event))
    return (time.perf_counter_ns() - started) / len(events)


class Run(NamedTuple):
    rate: float  # events/s
    cpu_us: float  # process CPU microseconds per event


def _run(count: int, wall: float, cpu: float) -> Run:
    return Run(count / wall, cpu / count * 1e6)


async def sink_rate(settings: SinkSettings, events: list[tuple[str, Click]]) -> Run:
    """Rate and sender CPU: the sender drains a buffer holding every event."""
    sink = EventSink(settings)
    await sink.start()
    while not sink.stats.broker_up:
        await asyncio.sleep(0.01)
    for key, event in events:
        sink.emit(TOPIC_CLICKS, key, event)  # no await: the sender has not run yet
    wall, cpu = time.perf_counter(), time.process_time()
    while sink.stats.sent_total.get(TOPIC_CLICKS, 0) < len(events):
        await asyncio.sleep(0.002)
    run = _run(len(events), time.perf_counter() - wall, time.process_time() - cpu)
    stats = sink.stats
    await sink.close()
    if stats.spooled_total or stats.dropped_total:
        raise SystemExit(f"the run spooled or dropped events, rate is not comparable: {stats}")
    return run


async def producer_rate(settings: SinkSettings, events: list[tuple[str, Click]]) -> Run:
    """A bare producer, one send() (and future) per record: the client's usual use."""
    records = [(key.encode(), ENCODER.encode(event)) for key, event in events]
    producer = make_producer(settings)
    await producer.start()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        futures = [await producer.send(TOPIC_CLICKS, value, key) for key, value in records]
        await asyncio.gather(*futures)
        return _run(len(records), time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        await producer.stop()


def _best(runs: list[Run]) -> Run:
    return Run(max(r.rate for r in runs), min(r.cpu_us for r in runs))


async def end_to_end(args: argparse.Namespace, bootstrap: str, spool_dir: Path
                     ) -> dict[str, float]:
    await ensure_topics(bootstrap)
    settings = SinkSettings(kafka_bootstrap=bootstrap, spool_dir=spool_dir,
                            buffer_size=max(100_000, args.events))
    sink_runs, base_runs = [], []
    for run in range(args.repeat):
        sink_runs.append(await sink_rate(settings, clicks(args.events, f"s{run}")))
        base_runs.append(await producer_rate(settings, clicks(args.events, f"p{run}")))
    sink, base = _best(sink_runs), _best(base_runs)
    return {"sink_events_per_s": sink.rate, "producer_events_per_s": base.rate,
            "rate_ratio": sink.rate / base.rate, "sink_cpu_us_per_event": sink.cpu_us,
            "producer_cpu_us_per_event": base.cpu_us, "cpu_ratio": sink.cpu_us / base.cpu_us}


def report(figures: dict[str, float]) -> None:
    print(f"emit(): {figures['emit_ns']:.0f} ns/call ({1e9 / figures['emit_ns']:,.0f}/s), "
          f"deque.append {figures['append_ns']:.0f} ns/call, ratio {figures['emit_ratio']:.2f}")
    print(f"end to end: sink {figures['sink_events_per_s']:,.0f} events/s, bare aiokafka "
          f"producer {figures['producer_events_per_s']:,.0f} events/s, "
          f"ratio {figures['rate_ratio']:.2f}")
    print(f"CPU per event: sink sender {figures['sink_cpu_us_per_event']:.1f} us (encode, "
          f"partition, batch, client), bare producer send() "
          f"{figures['producer_cpu_us_per_event']:.1f} us (records pre-encoded), "
          f"ratio {figures['cpu_ratio']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emits", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bootstrap", default="")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="turnout-bench-sink-") as tmp:
        root = Path(tmp)
        settings = SinkSettings(kafka_bootstrap="127.0.0.1:1", spool_dir=root / "spool",
                                buffer_size=args.emits)
        events = clicks(args.emits, "e")
        gc.collect()
        gc.disable()
        try:
            emit_ns = min(time_emit(settings, events) for _ in range(args.repeat))
            append_ns = min(time_append(events) for _ in range(args.repeat))
        finally:
            gc.enable()
        figures = {"emits": args.emits, "events": args.events, "emit_ns": emit_ns,
                   "append_ns": append_ns, "emit_ratio": emit_ns / append_ns}
        if args.bootstrap:
            figures |= asyncio.run(end_to_end(args, args.bootstrap, root / "spool"))
        else:
            with local_stack(root / "stack") as stack:
                figures |= asyncio.run(end_to_end(args, stack.kafka_bootstrap, root / "spool"))
    if args.json:
        print(json.dumps(figures))
    else:
        report(figures)


if __name__ == "__main__":
    main()
