"""What a version changed, as the edge's holder takes it: from the version's record when
it was published on the installed version, else by comparing the two manifests."""

from __future__ import annotations

from turnout.config.manifest import Changes, Manifest, changes_between
from turnout.config.store import VersionInfo
from turnout.edge.graph import _changes

INSTALLED = Manifest({"campaigns": (("a", "d1"), ("b", "d2"))})
NEW = Manifest({"campaigns": (("a", "d1"), ("b", "d3"), ("c", "d4"))})
# A record that differs from the manifests' diff, so the test sees which one was used.
RECORDED = Changes(upserted={"campaigns": ("b",)})


def _info(base: int | None) -> VersionInfo:
    return VersionInfo(version=8, published_at_ms=0, base=base, changes=RECORDED)


def test_a_version_published_on_the_installed_one_is_taken_at_its_word() -> None:
    assert _changes(_info(7), 7, INSTALLED, NEW) is RECORDED


def test_any_other_version_is_compared_with_the_installed_manifest() -> None:
    diff = changes_between(INSTALLED, NEW)
    assert diff.upserted == {"campaigns": ("b", "c")}
    assert _changes(_info(6), 7, INSTALLED, NEW) == diff  # published on another version
    assert _changes(_info(None), 7, INSTALLED, NEW) == diff  # a first publish
    assert _changes(_info(7), 7, None, NEW) == changes_between(None, NEW)
