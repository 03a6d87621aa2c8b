"""Operator input checks, each with a message that says the fix."""

from __future__ import annotations

import pytest

from hiscrm.v1 import common_pb2
from master.validation import InvalidInput, check_account_id, check_proxy, check_spec


@pytest.mark.parametrize(
    "proxy",
    [
        "",
        "http://10.0.0.5:8080",
        "https://p.example:443",
        "socks5://u:p@127.0.0.1:1080",
        "socks5h://u:p%40ss@p.example:1080",
        "socks5://127.0.0.1:1080",
    ],
)
def test_good_proxies(proxy: str) -> None:
    check_proxy(proxy)


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("ftp://h:21", "scheme must be one of"),
        ("http://:8080", "missing host"),
        ("http://10.0.0.5", "missing port"),
        ("http://10.0.0.5:99999", "out of range"),
        ("socks5://user@h:1080", "both user and password"),
        ("http://h:80/path", "must not have a path"),
        ("10.0.0.5:8080", "scheme must be one of"),
        ("socks4://u:hunter2@h:1080", "use socks5://|the SOCKS5 form, socks5://"),
        ("socks://u:hunter2@h:1080", "socks5://user:pass@host:port"),
        ("socks5://u:@h:1080", "both user and password"),
        ("socks5://:hunter2@h:1080", "both user and password"),
        ("socks5://u:" + "x" * 256 + "@h:1080", "at most 255 bytes"),
        ("http://a%3Ab:hunter2@h:8080", "cannot contain ':'"),
        ("http://u:hunter2@h:8080/path", "must not have a path"),
    ],
)
def test_bad_proxies_say_what_is_wrong(proxy: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        check_proxy(proxy)
    assert "hunter2" not in str(caught.value)  # the password is never repeated


def test_account_ids() -> None:
    check_account_id("dy-shop_01")
    for bad in ("", "-x", "a b", "x" * 65, "账号"):
        with pytest.raises(InvalidInput):
            check_account_id(bad)


def test_spec_checks() -> None:
    ok = common_pb2.AccountSpec(platform=common_pb2.PLATFORM_DOUYIN, monitor_interval_ms=30_000)
    check_spec(ok)
    with pytest.raises(InvalidInput, match="platform is required"):
        check_spec(common_pb2.AccountSpec(monitor_interval_ms=30_000))
    with pytest.raises(InvalidInput, match="out of range"):
        check_spec(
            common_pb2.AccountSpec(platform=common_pb2.PLATFORM_DOUYIN, monitor_interval_ms=5)
        )
    wrong = common_pb2.AccountSpec(
        platform=common_pb2.PLATFORM_DOUYIN,
        monitor_interval_ms=30_000,
        synthetic=common_pb2.SyntheticOptions(items_per_second=1),
    )
    with pytest.raises(InvalidInput, match="only for platform PLATFORM_SYNTHETIC"):
        check_spec(wrong)
