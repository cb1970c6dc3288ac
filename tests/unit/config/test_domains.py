"""Tracking domains in the graph: their normal form, their validation, the code index."""

from __future__ import annotations

import msgspec
import pytest

from tests.two_domains import CODE, two_domain_graph
from turnout.config.compile import compile_graph
from turnout.config.domains import DEFAULT_DOMAIN, host_name, normal_domain
from turnout.config.model import Graph
from turnout.config.validate import validate


@pytest.mark.parametrize(("text", "normal"), [
    ("track.example.com", "track.example.com"),
    ("Track.Example.COM", "track.example.com"),
    ("track.example.com.", "track.example.com"),
    ("Bücher.Example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("localhost", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_domains_are_compared_in_one_normal_form(text: str, normal: str) -> None:
    assert normal_domain(text) == normal


@pytest.mark.parametrize(("text", "reason"), [
    ("", "without spaces"),
    (" track.example.com", "without spaces"),
    ("https://track.example.com", "without a scheme"),
    ("track.example.com/c", "without a scheme or a path"),
    ("track.example.com:8080", "without a port"),
    ("track..example.com", "not a valid"),
    ("-track.example.com", "not a host name"),
    ("track_1.example.com", "not a host name"),
    ("x" * 64 + ".example.com", "not a valid"),
    (".", "not a host name"),
])
def test_what_is_not_a_tracking_domain(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normal_domain(text)


@pytest.mark.parametrize(("raw", "host"), [
    (b"track.a.example", "track.a.example"),
    (b"TRACK.A.Example:8443", "track.a.example"),
    (b"track.a.example.:80", "track.a.example"),
    (b" track.a.example ", "track.a.example"),
    (b"[2001:db8::1]:8080", "[2001:db8::1]"),
    (b"[2001:db8::1", ""),
    (b"", ""),
])
def test_a_host_header_as_a_domain(raw: bytes, host: str) -> None:
    assert host_name(raw) == host


def _messages(graph: Graph) -> list[str]:
    return [str(problem) for problem in validate(graph)]


def _with_domains(graph: Graph, **domains: tuple[str, ...]) -> Graph:
    return msgspec.structs.replace(graph, workspaces=tuple(
        msgspec.structs.replace(w, domains=domains.get(w.id, w.domains))
        for w in graph.workspaces))


def test_the_same_code_on_two_domains_and_the_default_domain_is_valid() -> None:
    assert _messages(two_domain_graph()) == []


def test_a_domain_claimed_twice_fails_validation_with_its_path() -> None:
    graph = _with_domains(two_domain_graph(), b=("track.b.example", "Track.A.Example"))
    assert _messages(graph) == [
        "workspaces[1].domains[1]: domain 'track.a.example' is already claimed by "
        "workspaces[0].domains[0]"]
    graph = _with_domains(two_domain_graph(), c=("track.c.example", "TRACK.C.EXAMPLE."))
    assert _messages(graph) == [
        "workspaces[2].domains[1]: domain 'track.c.example' is already claimed by "
        "workspaces[2].domains[0]"]


def test_a_domain_that_is_no_host_name_fails_validation_with_its_path() -> None:
    graph = _with_domains(two_domain_graph(), c=("track.c.example:8080",))
    assert _messages(graph) == [
        "workspaces[2].domains[0]: a host name only, without a port (the edge ignores the "
        "Host's port), got 'track.c.example:8080'"]


def test_codes_are_unique_per_domain() -> None:
    graph = two_domain_graph()
    # Workspace c lends its second campaign the code of its first: both on the default
    # domain; then workspace a does the same on its own domain.
    for index, where in ((5, ""), (1, " on the domains of workspace 'a'")):
        campaigns = list(graph.campaigns)
        campaigns[index] = msgspec.structs.replace(campaigns[index], code=CODE)
        assert _messages(msgspec.structs.replace(graph, campaigns=tuple(campaigns))) == [
            f"campaigns[{index}].code: duplicate tracking code 'SUMMER'{where} "
            f"(also campaigns[{index - 1}].code)"]
    # Without their domains, a, b and c all share the default domain: SUMMER clashes.
    shared = _with_domains(graph, a=(), b=())
    assert _messages(shared) == [
        "campaigns[2].code: duplicate tracking code 'SUMMER' (also campaigns[0].code)",
        "campaigns[3].code: duplicate tracking code 'VIA_LANDER' (also campaigns[1].code)",
        "campaigns[4].code: duplicate tracking code 'SUMMER' (also campaigns[0].code)",
        "campaigns[5].code: duplicate tracking code 'VIA_LANDER' (also campaigns[1].code)",
    ]


def test_the_code_index_is_keyed_by_domain_and_code() -> None:
    graph = _with_domains(two_domain_graph(), b=("track.b.example", "go.b.example"))
    compiled = compile_graph(graph, 1)
    assert set(compiled.codes) == {DEFAULT_DOMAIN, "track.a.example", "track.b.example",
                                   "go.b.example"}
    summer = {domain: codes[CODE].id for domain, codes in compiled.codes.items()}
    assert summer == {DEFAULT_DOMAIN: "summer-c", "track.a.example": "summer-a",
                      "track.b.example": "summer-b", "go.b.example": "summer-b"}
    assert compiled.campaigns_by_code is compiled.codes[DEFAULT_DOMAIN]
    assert compiled.workspaces_by_domain["go.b.example"].id == "b"
    assert compiled.workspaces_by_id["a"].domains == ("track.a.example",)


def test_a_claimed_domain_without_campaigns_serves_no_codes() -> None:
    graph = _with_domains(two_domain_graph(), c=("track.c.example",))
    graph = msgspec.structs.replace(graph, campaigns=tuple(
        c for c in graph.campaigns if c.workspace != "c"))
    compiled = compile_graph(graph, 1)
    assert compiled.codes["track.c.example"] == {}
    assert compiled.campaigns_by_code == {}
