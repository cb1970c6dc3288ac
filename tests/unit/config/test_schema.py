"""docs/graph.schema.json and docs/graph-format.md are the generator's output, and the
examples validate against the schema. jsonschema is not a dependency, so `conforms` below
checks the part of JSON Schema the generator emits."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from turnout.config import examples, io, model
from turnout.config.io import load_graph
from turnout.config.schema import DOC, SCHEMA, graph_schema, render_markdown, schema_text
from turnout.config.yaml_reader import reference_load

TYPES = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
         "null": type(None), "number": (int, float)}


def conforms(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$"
             ) -> list[str]:
    if "$ref" in schema:
        return conforms(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, path)
    if "anyOf" in schema:
        if any(not conforms(value, branch, root, path) for branch in schema["anyOf"]):
            return []
        return [f"{path}: matches no branch of anyOf"]
    kind = schema.get("type")
    if kind is not None:
        if isinstance(value, bool) and kind in ("integer", "number"):
            return [f"{path}: expected {kind}, got a boolean"]
        if not isinstance(value, TYPES[kind]):
            return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    problems: list[str] = []
    if kind == "array":
        for index, item in enumerate(value):
            problems += conforms(item, schema["items"], root, f"{path}[{index}]")
    if kind == "object":
        properties = schema.get("properties", {})
        problems += [f"{path}.{name}: required" for name in schema.get("required", [])
                     if name not in value]
        for name, item in value.items():
            if "propertyNames" in schema:
                problems += conforms(name, schema["propertyNames"], root, f"{path} key {name}")
            if name in properties:
                problems += conforms(item, properties[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}.{name}: unknown field")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += conforms(item, schema["additionalProperties"], root,
                                     f"{path}.{name}")
    return problems


def parsed(path) -> Any:
    # The loader the CLI reads graphs with (floats keep their text: money is a string).
    return reference_load(path.read_text())


def test_committed_files_are_the_generators_output():
    # Regenerate with `python -m turnout.config.schema --write`.
    assert SCHEMA.read_text() == schema_text()
    assert DOC.read_text() == render_markdown(graph_schema())


@pytest.mark.parametrize("path", sorted(examples.DIRECTORY.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_validates_against_the_schema(path):
    schema = json.loads(SCHEMA.read_text())
    assert conforms(parsed(path), schema, schema) == []
    load_graph(path)  # and decodes into the model


def test_the_exported_json_validates_too():
    schema = json.loads(SCHEMA.read_text())
    exported = json.loads(io.dump_graph(load_graph(examples.GRAPH), "json"))
    assert conforms(exported, schema, schema) == []


def test_the_schema_refuses_what_the_model_or_validate_refuses():
    schema = graph_schema()
    graph = parsed(examples.GRAPH)
    campaign = graph["campaigns"][0]
    campaign["colour"] = "red"
    campaign["status"] = "running"
    campaign["attribution_window_days"] = "30"
    del campaign["code"]
    graph["traffic_sources"][0]["tokens"]["sub11"] = "x"
    graph["campaigns"][1]["redirect_mode"] = 303
    assert sorted(conforms(graph, schema, schema)) == sorted([
        "$.campaigns[0].code: required",
        "$.campaigns[0].colour: unknown field",
        "$.campaigns[0].status: 'running' is not one of "
        "['draft', 'active', 'paused', 'completed', 'cancelled']",
        "$.campaigns[0].attribution_window_days: expected integer, got str",
        "$.traffic_sources[0].tokens key sub11: 'sub11' is not one of "
        f"{list(model.TOKENS)}",
        "$.campaigns[1].redirect_mode: matches no branch of anyOf",
    ])


def test_every_struct_and_field_of_the_model_is_in_the_schema():
    definitions = graph_schema()["$defs"]
    structs = {name: cls for name, cls in vars(model).items() if isinstance(cls, type)
               and issubclass(cls, model.Entity) and cls is not model.Entity}
    assert set(definitions) == set(structs)
    for name, cls in structs.items():
        info = msgspec.inspect.type_info(cls)
        definition = definitions[name]
        assert list(definition["properties"]) == [f.name for f in info.fields], name
        assert definition["required"] == [f.name for f in info.fields if f.required], name
        assert definition["additionalProperties"] is False  # forbid_unknown_fields


def test_every_section_and_entity_field_has_a_description():
    definitions = graph_schema()["$defs"]
    missing = [f"{name}.{field}" for name, definition in definitions.items() if name != "Graph"
               for field, prop in definition["properties"].items() if not prop.get("description")]
    assert missing == []


def test_enums_are_the_sets_validate_checks():
    definitions = graph_schema()["$defs"]
    assert definitions["Campaign"]["properties"]["status"]["enum"] == list(model.STATUSES)
    modes = definitions["Campaign"]["properties"]["redirect_mode"]["anyOf"]
    assert [branch["enum"] for branch in modes] == [list(model.REDIRECT_MODES), [302, 307, 301]]
