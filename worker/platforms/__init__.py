"""Platform adapters, by platform."""

from __future__ import annotations

from hiscrm.v1 import common_pb2
from worker.platforms.base import Adapter, AdapterContext
from worker.platforms.synthetic import SyntheticAdapter


def _adapters() -> dict[int, type[Adapter]]:
    # These import Playwright: only when a browser platform is asked for.
    from worker.platforms.demo import DemoAdapter
    from worker.platforms.douyin import DouyinAdapter
    from worker.platforms.xiaohongshu import XiaohongshuAdapter

    return {
        common_pb2.PLATFORM_SYNTHETIC: SyntheticAdapter,
        common_pb2.PLATFORM_DEMO: DemoAdapter,
        common_pb2.PLATFORM_DOUYIN: DouyinAdapter,
        common_pb2.PLATFORM_XIAOHONGSHU: XiaohongshuAdapter,
    }


def make_adapter(config: common_pb2.AccountConfig, ctx: AdapterContext) -> Adapter:
    cls = _adapters().get(config.spec.platform)
    if cls is None:
        name = common_pb2.Platform.Name(config.spec.platform)
        raise NotImplementedError(f"no adapter for {name} in this worker")
    return cls(config, ctx)
