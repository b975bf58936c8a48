"""What every collector of the exporter shares: no describe-time collection, and a collect() that
never raises (an exception in one collector would turn the whole /metrics into HTTP 500)."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from .worker import Collection

LOG = logging.getLogger(__name__)


class SnapshotCollector(Collector):
    """Builds its metric families from the shared collection's latest snapshot."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def describe(self) -> list[Metric]:
        return []  # stops the registry from calling collect() at registration

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception:  # noqa: BLE001 - one collector must never fail the scrape
            LOG.exception("%s failed", type(self).__name__)

    def _collect(self) -> Iterable[Metric]:
        raise NotImplementedError
