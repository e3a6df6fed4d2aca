"""JSON Schemas of the public messages, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from stream.models import PUBLIC_MODELS


def render_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, for every public model."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        + "\n"
        for name, model in PUBLIC_MODELS.items()
    }


def write_schemas(folder: Path) -> list[Path]:
    """Write the schemas into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written
