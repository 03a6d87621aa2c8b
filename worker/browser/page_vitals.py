"""What a page holds in its renderer, as DevTools' Performance domain counts it.

A monitor page lives for hours: its renderer's memory, the DevTools buffers
Playwright's session keeps of every response, and the driver's and worker's
objects for its requests all grow with the cycles it serves and are freed
only when the page closes (docs/performance.md, "What grows while a page
lives"). These figures are logged and drive `PageRenewal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class PageVitals:
    js_heap_used_bytes: int
    js_heap_total_bytes: int
    dom_nodes: int
    documents: int
    listeners: int

    @property
    def js_heap_used_mib(self) -> float:
        return self.js_heap_used_bytes / MIB

    @classmethod
    def of(cls, answer: dict[str, Any]) -> PageVitals:
        """From a `Performance.getMetrics` answer; absent metrics count 0."""
        metrics = {m.get("name"): m.get("value", 0) for m in answer.get("metrics", [])}

        def count(name: str) -> int:
            value = metrics.get(name, 0)
            return int(value) if isinstance(value, int | float) else 0

        return cls(
            js_heap_used_bytes=count("JSHeapUsedSize"),
            js_heap_total_bytes=count("JSHeapTotalSize"),
            dom_nodes=count("Nodes"),
            documents=count("Documents"),
            listeners=count("JSEventListeners"),
        )

    def __str__(self) -> str:
        return (
            f"JS heap {self.js_heap_used_mib:.1f} MiB, {self.dom_nodes} DOM nodes, "
            f"{self.listeners} listeners, {self.documents} documents"
        )
