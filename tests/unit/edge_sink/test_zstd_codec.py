"""The sink's zstd codec writes exactly cramjam's frames, and aiokafka's builders use it."""

from __future__ import annotations

import threading

import cramjam
import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import given
from hypothesis import strategies as st

from turnout.edge.sink import zstd_codec

# Kafka-ish payloads: repetitive JSON (what batches hold) and arbitrary bytes.
_EVENT = st.builds(lambda i, s: b'{"click_id":"%d","ua":"%s"}' % (i, s.encode()),
                   st.integers(0, 10**9), st.text(max_size=40))
PAYLOADS = st.one_of(st.binary(max_size=4096),
                     st.lists(_EVENT, max_size=200).map(b"".join))


@given(PAYLOADS, st.sampled_from([None, 1, 3, 9]))
def test_frames_are_cramjams_bytes(payload: bytes, level: int | None) -> None:
    ours = zstd_codec.zstd_encode(payload, level)
    expected = zstd_codec.DEFAULT_LEVEL if level is None else level
    assert ours == bytes(cramjam.zstd.compress(payload, level=expected))
    assert bytes(cramjam.zstd.decompress(ours)) == payload


@given(PAYLOADS)
def test_buffers_other_than_bytes(payload: bytes) -> None:
    reference = zstd_codec.zstd_encode(payload)
    assert zstd_codec.zstd_encode(bytearray(payload)) == reference
    assert zstd_codec.zstd_encode(memoryview(payload)) == reference


def _built(records: list[tuple[bytes, bytes]]) -> bytes:
    batch = BatchBuilder(1 << 20, DefaultRecordBatch.CODEC_ZSTD)
    for key, value in records:
        assert batch.append(key=key, value=value, timestamp=1_700_000_000_000) is not None
    return bytes(batch._build())


def test_installed_builders_write_the_same_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [(b"%026d" % i, b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 50)))
               for i in range(300)]
    for module in zstd_codec.BUILDERS:  # restored after the test
        monkeypatch.setattr(module, "zstd_encode", module.zstd_encode)
    before = _built(records)
    calls: list[int] = []
    real = zstd_codec.zstd_encode
    monkeypatch.setattr(zstd_codec, "zstd_encode",
                        lambda payload, level=None: calls.append(1) or real(payload, level))
    zstd_codec.install()
    assert _built(records) == before
    assert calls, "aiokafka's builder did not call the installed codec"


def test_threads_compress_with_their_own_context() -> None:
    payloads = [b"%d:" % n + b"event " * (n * 37 % 500) for n in range(64)]
    failures: list[int] = []

    def work(offset: int) -> None:
        for _ in range(20):
            for n, payload in enumerate(payloads[offset:] + payloads[:offset]):
                if bytes(cramjam.zstd.decompress(zstd_codec.zstd_encode(payload))) != payload:
                    failures.append(n)

    threads = [threading.Thread(target=work, args=(k * 16,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_bad_payload_raises_and_the_codec_keeps_working() -> None:
    with pytest.raises(TypeError):
        zstd_codec.zstd_encode("not a buffer")  # type: ignore[arg-type]
    assert zstd_codec.zstd_encode(b"after") == bytes(cramjam.zstd.compress(b"after", level=3))
