from __future__ import annotations

import signal
from pathlib import Path

import pytest

from turnout.local.services import (
    LocalStack,
    ServiceError,
    ping_kafka,
    ping_redis,
    reap_stale,
    valkey,
)


def test_stack_services_answer_their_protocols(stack: LocalStack) -> None:
    assert ping_redis(stack.redis.port)
    assert ping_kafka(stack.kafka.port)


def test_pings_fail_on_a_port_nobody_listens_on(stack: LocalStack) -> None:
    from turnout.local.services import free_port

    port = free_port()
    assert not ping_redis(port)
    assert not ping_kafka(port)
    # A Redis port is not a Kafka broker: the protocol check tells them apart.
    assert not ping_kafka(stack.redis.port)


def test_stale_processes_from_a_killed_parent_are_reaped(tmp_path: Path) -> None:
    service = valkey(tmp_path)
    service.start()
    process = service.process
    assert process is not None
    # Forget the process as a SIGKILLed parent would, leaving only the pid file.
    service.process = None
    reap_stale(tmp_path / "run")
    assert process.wait(timeout=5) == -signal.SIGKILL
    assert not (tmp_path / "run" / "valkey.pid").exists()


def test_a_service_that_cannot_start_raises(tmp_path: Path, stack: LocalStack) -> None:
    taken = valkey(tmp_path, port=stack.redis.port)
    with pytest.raises(ServiceError):
        taken.start(timeout=5)
    assert not taken.running
