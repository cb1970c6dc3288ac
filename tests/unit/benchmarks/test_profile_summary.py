"""benchmarks.profile_summary: py-spy's raw lines, split by thread."""

from __future__ import annotations

from benchmarks.profile_summary import by_thread, shares, short, stacks

RAW = [
    "thread (10): MainThread;run (/x/lib/python3.11/asyncio/runners.py:118);"
    "respond (/w/edge/quick.py:47) 30",
    "thread (10): MainThread;run (/x/lib/python3.11/asyncio/runners.py:118);"
    "submit (/w/edge/sink/batches.py:40);partitions_of (/w/edge/sink/partition.py:91) 10",
    "thread (11): turnout-sink-seal_0;_build (/w/edge/sink/sealer.py:37) 25",
    "",
    "garbage",
]


def test_samples_are_counted_per_thread_and_frame():
    counts = stacks(RAW)
    assert by_thread(counts) == {"thread (10): MainThread": 40,
                                 "thread (11): turnout-sink-seal_0": 25}
    total, inclusive, own = shares(counts, "MainThread")
    assert total == 40  # the sealer's samples are not the loop's
    assert inclusive["run (asyncio/runners.py:118)"] == 40
    assert inclusive["submit (/w/edge/sink/batches.py:40)"] == 10
    assert own["respond (/w/edge/quick.py:47)"] == 30


def test_short_drops_the_site_packages_prefix():
    assert short("f (/v/lib/python3.11/site-packages/aiokafka/conn.py:423)") == \
        "f (aiokafka/conn.py:423)"
