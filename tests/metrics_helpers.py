"""Scraping the master's /metrics and reading it with prometheus_client's
own parser, so that a malformed exposition fails the test that reads it."""

from __future__ import annotations

import urllib.request

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


def scrape(port: int) -> dict[str, Metric]:
    """Families by name; the parser names counters without `_total`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict[str, Metric], sample: str, **labels: str) -> float:
    """The value of one sample (e.g. hiscrm_items_ingested_total); KeyError
    when the series is missing, so that a dropped series fails loudly."""
    family = sample
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        family = family.removesuffix(suffix)
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    present = [(s.name, s.labels) for s in families[family].samples]
    raise KeyError(f"{sample}{labels} not in {present}")
