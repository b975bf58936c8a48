"""How the tests read a stored log document against the contract (logstash/contract/log-lines.yml):
flattened to dotted names, the envelope (where the line came from) apart. Shared by the contract
tests (tests/contract/) and the Docker suite, which compares the real pipeline's documents."""
from __future__ import annotations

from typing import Any

# Fields the pipeline adds to every document whatever the line says; checked once, not per case.
ENVELOPE = ("container.", "host.name", "labels.", "event.created", "log.file.", "log.offset", "data_stream.")


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys, as a document reads in Kibana; `extra` (flattened) and arrays stay whole."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name != "extra" and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def line_fields(document: dict[str, Any]) -> dict[str, Any]:
    """What a case expects: every field but the envelope and @metadata."""
    return {key: value for key, value in flatten(document).items()
            if not key.startswith(ENVELOPE) and not key.startswith("@metadata")}
