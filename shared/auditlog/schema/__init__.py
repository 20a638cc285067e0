"""Table schemas shared by the code and Terraform (which reads the same JSON files)."""

from __future__ import annotations

import json
from importlib import resources
from typing import cast

EVENTS_SCHEMA_FILE = "events.bigquery.json"


def load_events_schema() -> list[dict[str, str]]:
    """The events table in BigQuery's JSON schema format: name, type, mode, description."""
    text = resources.files(__name__).joinpath(EVENTS_SCHEMA_FILE).read_text(encoding="utf-8")
    return cast(list[dict[str, str]], json.loads(text))
