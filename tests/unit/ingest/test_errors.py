"""Every error ingest raises is an IngestError, and says whether retrying may help."""

from __future__ import annotations

from turnout.errors import EXIT_BAD_INPUT, EXIT_UNAVAILABLE, TurnoutError
from turnout.ingest.dimensions import DimensionError
from turnout.ingest.driver_internals import DriverMismatch
from turnout.ingest.errors import IngestError
from turnout.ingest.migrate import MigrationError
from turnout.ingest.pipelines import Abandoned
from turnout.ingest.validate import Invalid


def test_the_package_has_one_root_under_turnouts_root() -> None:
    assert issubclass(IngestError, TurnoutError)
    for error in (Abandoned, DimensionError, DriverMismatch, Invalid, MigrationError):
        assert issubclass(error, IngestError), error


def test_callers_that_caught_the_builtin_bases_still_do() -> None:
    assert issubclass(MigrationError, RuntimeError)
    assert issubclass(DimensionError, ValueError) and issubclass(Invalid, ValueError)
    assert issubclass(DriverMismatch, ImportError)


def test_only_an_abandoned_batch_is_worth_retrying() -> None:
    assert Abandoned("clicks insert").retriable
    assert Abandoned("x").exit_code == EXIT_UNAVAILABLE
    for error in (DimensionError, DriverMismatch, Invalid, MigrationError):
        assert not error("x").retriable
        assert error("x").exit_code == EXIT_BAD_INPUT
