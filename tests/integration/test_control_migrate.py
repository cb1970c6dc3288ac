"""`turnout migrate` against a real PostgreSQL: ordered, once each, one transaction a file,
checksummed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.integration.control_support import empty_database
from turnout.cli.main import main
from turnout.control.errors import ControlUnavailable
from turnout.control.migrate import MigrationError, load_migrations, migrate
from turnout.errors import EXIT_OK, EXIT_UNAVAILABLE
from turnout.local.services import free_port


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_files_apply_in_order_once_each_and_are_recorded(postgres_url: str,
                                                         tmp_path: Path) -> None:
    url = empty_database(postgres_url)
    (tmp_path / "0002_two.sql").write_text("ALTER TABLE one ADD COLUMN b int;\n")
    (tmp_path / "0001_one.sql").write_text(
        "CREATE TABLE one (a int);\n"
        # A function body with semicolons at line ends: the file goes over whole.
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\n"
    )
    assert migrate(url, tmp_path) == ["0001_one.sql", "0002_two.sql"]
    assert migrate(url, tmp_path) == []
    with psycopg.connect(url) as conn:
        recorded = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()
        assert conn.execute("SELECT f()").fetchone() == (1,)
        assert conn.execute("SELECT a, b FROM one").fetchall() == []
    assert recorded == [(m.version, m.name, m.checksum) for m in load_migrations(tmp_path)]


def test_a_failing_file_leaves_nothing_behind(postgres_url: str, tmp_path: Path) -> None:
    url = empty_database(postgres_url)
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (a int);\n")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (a int);\nSELECT nonsense;\n")
    with pytest.raises(psycopg.errors.UndefinedColumn) as raised:
        migrate(url, tmp_path)
    assert "while applying 0002_bad.sql" in raised.value.__notes__
    assert _tables(url) == {"ok", "schema_migrations"}
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (a int);\n")
    assert migrate(url, tmp_path) == ["0002_bad.sql"]


def test_a_changed_file_is_refused(postgres_url: str, tmp_path: Path) -> None:
    url = empty_database(postgres_url)
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (a int);\n")
    migrate(url, tmp_path)
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (a bigint);\n")
    with pytest.raises(MigrationError, match=r"0001_one\.sql changed after it was applied"):
        migrate(url, tmp_path)


def test_an_unreachable_server_is_unavailable_without_the_password() -> None:
    url = f"postgresql://turnout:hunter2@127.0.0.1:{free_port()}/turnout"
    with pytest.raises(ControlUnavailable) as raised:
        migrate(url)
    assert raised.value.retriable
    assert "hunter2" not in str(raised.value)


def test_the_command_migrates_postgres_when_it_is_configured(
        postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    url = empty_database(postgres_url)
    names = [m.name for m in load_migrations()]
    assert main(["migrate", "--only", "postgres", "--postgres-url", url]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"postgres: applied {n}" for n in names]
    monkeypatch.setenv("TURNOUT_POSTGRES_URL", url)
    assert main(["migrate", "--only", "postgres"]) == EXIT_OK
    assert capsys.readouterr().out == "postgres: up to date\n"
    monkeypatch.setenv("TURNOUT_POSTGRES_URL", f"postgresql://x@127.0.0.1:{free_port()}/x")
    assert main(["migrate", "--only", "postgres"]) == EXIT_UNAVAILABLE
