"""The OpenAPI 3.1 document of the HTTP API, built from the same pydantic models it serves.

Generated, never hand-edited: ``storystream schemas`` writes it to ``schemas/openapi.json`` and
a test fails when the file drifts from the code. Query parameters come from
:class:`~stream.views.StoriesQuery`, so the document and the 400 responses cannot disagree.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from stream.models import StoryUpdate
from stream.views import StoriesQuery, StoryHistory, StoryPage

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document as a JSON-ready dict."""
    _, defs = models_json_schema(
        [(m, "serialization") for m in (StoryPage, StoryUpdate, StoryHistory)],
        ref_template=REF,
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "problems": {"type": "array"}},
        "required": ["error"],
    }
    query_schema = StoriesQuery.model_json_schema()
    parameters = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": prop.get("description", ""),
            "schema": {k: v for k, v in prop.items() if k not in ("description", "title")},
        }
        for name, prop in query_schema["properties"].items()
    ]
    story_id = {"name": "story_id", "in": "path", "required": True, "schema": {"type": "string"}}
    not_found = _json_response("No such story.", _ref("Error"))
    moved = {"description": "The story was merged into another; Location names it."}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "storystream",
            "version": "1",
            "description": "Live multi-source news stories: listing, current version, history.",
        },
        "paths": {
            "/stories": {
                "get": {
                    "summary": "Latest stories, filtered and paged",
                    "parameters": parameters,
                    "responses": {
                        "200": _json_response("A page of stories.", _ref("StoryPage")),
                        "400": _json_response("A query parameter is invalid.", _ref("Error")),
                    },
                }
            },
            "/stories/{story_id}": {
                "get": {
                    "summary": "The current version of a story, sentence by sentence attributed",
                    "parameters": [story_id],
                    "responses": {
                        "200": _json_response("The story.", _ref("StoryUpdate")),
                        "301": moved,
                        "404": not_found,
                    },
                }
            },
            "/stories/{story_id}/history": {
                "get": {
                    "summary": "Every version of a story and what changed in each",
                    "parameters": [story_id],
                    "responses": {
                        "200": _json_response("The versions.", _ref("StoryHistory")),
                        "301": moved,
                        "404": not_found,
                    },
                }
            },
            "/events": {
                "get": {
                    "summary": "Server-sent events: `update` with {story: StoryCard, change}",
                    "responses": {
                        "200": {
                            "description": "An endless event stream.",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "The process answers",
                    "responses": {"200": {"description": "Alive."}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Broker reachable, agents running, view caught up, lag acceptable",
                    "responses": {
                        "200": {"description": "Ready."},
                        "503": {"description": "Not ready; the body says which check fails."},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Prometheus text exposition format."}},
                }
            },
        },
        "components": {"schemas": schemas},
    }


def render_openapi() -> str:
    """The document as the text stored in ``schemas/openapi.json``."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
