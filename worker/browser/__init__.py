"""The worker's browser engine: one Chromium, one fingerprinted context per account.

- pool.py         BrowserPool: launch/relaunch Chromium, contexts, screenshots
- fingerprint.py  the deterministic per-account fingerprint and its init script
- storage.py      encrypted storage states on disk
- crypto.py       the AES-GCM session blob format and the secret key
- proxy_check.py  proxy strings and the health check through the proxy
- proxy_relay.py  a local SOCKS5 relay to a proxy Chromium cannot use itself
- relay_registry.py  which relays run for which accounts; their restarts
- processes.py    Chromium's OS processes: find, measure, reap after a crash
"""

from worker.browser.account_context import AccountContext
from worker.browser.crypto import SessionDecryptError, StateCipher, load_key
from worker.browser.fingerprint import Fingerprint
from worker.browser.pool import BrowserPool, BrowserUnavailable
from worker.browser.proxy_check import ProxyHealth, ProxySpec, check_proxy, parse_proxy
from worker.browser.storage import SessionStore, export_state

__all__ = [
    "AccountContext",
    "BrowserPool",
    "BrowserUnavailable",
    "Fingerprint",
    "ProxyHealth",
    "ProxySpec",
    "SessionDecryptError",
    "SessionStore",
    "StateCipher",
    "check_proxy",
    "export_state",
    "load_key",
    "parse_proxy",
]
