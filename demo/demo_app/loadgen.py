"""Built-in load generator: steady traffic against the app's own API so dashboards have data at once."""
from __future__ import annotations

import logging
import random
import threading
import urllib.error
import urllib.request

LOG = logging.getLogger("demo_app.loadgen")


class LoadGenerator(threading.Thread):
    def __init__(self, base_url: str, requests_per_second: float, stop: threading.Event) -> None:
        super().__init__(name="demo-loadgen", daemon=True)
        self.base_url, self.interval, self.stop = base_url.rstrip("/"), 1.0 / requests_per_second, stop
        self.rng = random.Random()

    def request(self) -> None:
        choice = self.rng.random()
        if choice < 0.5:
            req = urllib.request.Request(f"{self.base_url}/api/items/{self.rng.randint(1, 500)}")
        elif choice < 0.8:
            req = urllib.request.Request(f"{self.base_url}/api/items")
        else:
            req = urllib.request.Request(f"{self.base_url}/api/orders", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError:
            pass  # 4xx/5xx are part of the show; the app counts them
        except OSError as exc:
            LOG.warning("load generator cannot reach the app: %s", exc)
            self.stop.wait(1)

    def run(self) -> None:
        while not self.stop.wait(self.interval * self.rng.uniform(0.5, 1.5)):
            self.request()
