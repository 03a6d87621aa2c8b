"""What the headless shell gives away, and how the pool makes it look like Chromium.

`chromium-headless-shell` (Debian's package, or Playwright's own headless
build) is the old headless browser: no browser UI, so one renderer per account
instead of two, and about 40 % less memory than the full Chromium in headless
mode (bench/memory.py). It also differs from the full Chromium where a page
can see it, in ways that are classic bot tells:

- its brand list (`Sec-CH-UA`, `navigator.userAgentData`) names
  "HeadlessChrome" next to "Chromium", whatever user agent a context sets;
- no PDF viewer: empty `navigator.plugins` / `mimeTypes`,
  `pdfViewerEnabled` false;
- no `window.chrome` (`loadTimes`, `csi`, `app`);
- `Notification.permission` "denied" while the permissions API says "prompt";
- `navigator.connection.rtt` 0 (no network quality estimator).

The pool gives every page of a headless-shell context the brand list a full
Chromium of the same version would send (through the DevTools protocol, so
headers and JavaScript agree, `Sec-CH-UA-Full-Version-List` included), and
adds PARITY_JS to the fingerprint's init script for the rest.
tests/test_browser_pool.py compares what a page sees in both builds.

Not covered: a page the site opens itself (a popup) sends its very first
request with the shell's brand list (the override reaches it once it exists);
web workers keep the shell's brand list, as they keep the engine's
navigator.platform (the fingerprint's overrides are for documents only).
"""

from __future__ import annotations

import os
from typing import Any

from worker.browser.fingerprint import Fingerprint

# Chromium's GREASE brand (components/embedder_support/user_agent_utils.cc,
# the algorithm of the UA-CH spec), seeded by the major version.
_GREASE_CHARS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")


def is_headless_shell(executable: str | None) -> bool:
    """True for a headless-shell binary (Debian's `chromium-headless-shell`,
    Playwright's `chrome-headless-shell` or `headless_shell`)."""
    if not executable:
        return False
    name = os.path.basename(executable).replace("_", "-")
    return name.endswith("headless-shell")


def brand_lists(full_version: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(brands, fullVersionList) of a Chromium build (no vendor brand) of this version.

    The order and the GREASE entry follow Chromium's own algorithm, so the list
    equals what /usr/bin/chromium of the same version sends (a test checks)."""
    major = int(full_version.split(".", 1)[0])
    grease = (
        f"Not{_GREASE_CHARS[major % len(_GREASE_CHARS)]}A"
        f"{_GREASE_CHARS[(major + 1) % len(_GREASE_CHARS)]}Brand"
    )
    grease_version = _GREASE_VERSIONS[major % len(_GREASE_VERSIONS)]
    pair = [
        (grease, grease_version, f"{grease_version}.0.0.0"),
        ("Chromium", str(major), full_version),
    ]
    if major % 2:
        pair.reverse()
    brands = [{"brand": b, "version": v} for b, v, _ in pair]
    full = [{"brand": b, "version": v} for b, _, v in pair]
    return brands, full


def user_agent_override(fingerprint: Fingerprint, full_version: str) -> dict[str, Any]:
    """Parameters of Emulation.setUserAgentOverride: what Playwright sends for
    the context's user agent and locale, plus the brand lists it leaves to the
    browser (and the headless shell fills with "HeadlessChrome")."""
    brands, full = brand_lists(full_version)
    if fingerprint.os_name == "windows":
        platform, platform_version = "Windows", "10.0"
    else:
        # Playwright derives "10_15_7" from the frozen macOS user agent; a
        # different value here would make pages of one context disagree.
        platform, platform_version = "macOS", "10_15_7"
    return {
        "userAgent": fingerprint.user_agent,
        "acceptLanguage": fingerprint.locale,
        "userAgentMetadata": {
            "brands": brands,
            "fullVersionList": full,
            "platform": platform,
            "platformVersion": platform_version,
            "architecture": "x86",
            "model": "",
            "mobile": False,
        },
    }


# Runs inside the fingerprint's init script (asNative and getter in scope),
# before any page script, in every frame.
PARITY_JS = r"""
  // --- headless shell: look like the full Chromium (worker/browser/headless_shell.py)
  const named = (fn, name, length) => {
    Object.defineProperty(fn, "name", { value: name, configurable: true });
    Object.defineProperty(fn, "length", { value: length, configurable: true });
    return asNative(fn, name);
  };
  const backing = new WeakMap();  // stand-in platform object -> its fields
  const serve = (iface, props, methods) => {
    const proto = window[iface] && window[iface].prototype;
    if (!proto) return false;
    for (const prop of props) {
      const old = Object.getOwnPropertyDescriptor(proto, prop);
      if (!old || !old.get) continue;
      Object.defineProperty(proto, prop, {
        get: named(function () {
          const f = backing.get(this);
          return f ? f[prop] : old.get.call(this);
        }, `get ${prop}`, 0),
        set: undefined,
        enumerable: old.enumerable,
        configurable: true,
      });
    }
    for (const [name, impl] of Object.entries(methods)) {
      const old = Object.getOwnPropertyDescriptor(proto, name);
      if (!old || typeof old.value !== "function") continue;
      Object.defineProperty(proto, name, {
        value: named(function () {
          const f = backing.get(this);
          return f ? impl(f, ...arguments) : old.value.apply(this, arguments);
        }, name, old.value.length),
        writable: old.writable,
        enumerable: old.enumerable,
        configurable: true,
      });
    }
    return true;
  };
  const item = (f, i) => f.items[i >>> 0] || null;
  const namedItem = (f, key) => f.byName[String(key)] || null;
  const list = { item, namedItem };
  const haveAll = [
    serve("PluginArray", ["length"], { ...list, refresh: () => undefined }),
    serve("MimeTypeArray", ["length"], list),
    serve("Plugin", ["name", "filename", "description", "length"], list),
    serve("MimeType", ["type", "suffixes", "description", "enabledPlugin"], {}),
  ].every(Boolean);
  const fill = (obj, fields, items, key) => {
    const byName = {};
    items.forEach((it, i) => {
      Object.defineProperty(obj, i, { value: it, enumerable: true, configurable: true });
    });
    for (const it of items) {
      const k = backing.get(it)[key];
      if (byName[k]) continue;
      byName[k] = it;
      Object.defineProperty(obj, k, { value: it, enumerable: false, configurable: true });
    }
    backing.set(obj, { ...fields, items, byName, length: items.length });
    return obj;
  };
  if (haveAll && navigator.plugins.length === 0) {
    const PDF = "Portable Document Format";
    const TYPES = ["application/pdf", "text/pdf"];
    const mime = (type, plugin) => {
      const m = Object.create(MimeType.prototype);
      backing.set(m, { type, suffixes: "pdf", description: PDF, enabledPlugin: plugin });
      return m;
    };
    const plugins = [
      "PDF Viewer", "Chrome PDF Viewer", "Chromium PDF Viewer",
      "Microsoft Edge PDF Viewer", "WebKit built-in PDF",
    ].map((name) => {
      const p = Object.create(Plugin.prototype);
      const fields = { name, filename: "internal-pdf-viewer", description: PDF };
      return fill(p, fields, TYPES.map((t) => mime(t, p)), "type");
    });
    const pluginArray = fill(Object.create(PluginArray.prototype), {}, plugins, "name");
    const mimeTypes = TYPES.map((t) => mime(t, plugins[0]));
    const mimeArray = fill(Object.create(MimeTypeArray.prototype), {}, mimeTypes, "type");
    getter(Navigator.prototype, "plugins", pluginArray);
    getter(Navigator.prototype, "mimeTypes", mimeArray);
    getter(Navigator.prototype, "pdfViewerEnabled", true);
  }

  if (!("chrome" in window)) {
    const timing = () => performance.timing;
    const protocol = () => {
      const nav = performance.getEntriesByType("navigation")[0];
      return (nav && nav.nextHopProtocol) || "http/1.1";
    };
    const [loadTimes, csi] = [
      function () {
        const t = timing();
        const proto = protocol();
        const spdy = /^(h2|h3|hq)/.test(proto);
        const paint = performance.getEntriesByName("first-paint")[0];
        return {
          requestTime: t.navigationStart / 1000,
          startLoadTime: t.navigationStart / 1000,
          commitLoadTime: t.responseStart / 1000,
          finishDocumentLoadTime: t.domContentLoadedEventEnd / 1000,
          finishLoadTime: t.loadEventEnd / 1000,
          firstPaintTime: paint ? (performance.timeOrigin + paint.startTime) / 1000 : 0,
          firstPaintAfterLoadTime: 0,
          navigationType: "Other",
          wasFetchedViaSpdy: spdy,
          wasNpnNegotiated: spdy,
          npnNegotiatedProtocol: spdy ? proto : "unknown",
          wasAlternateProtocolAvailable: false,
          connectionInfo: proto,
        };
      },
      function () {
        const t = timing();
        return {
          startE: t.navigationStart,
          onloadT: t.domContentLoadedEventEnd,
          pageT: Math.round(performance.now() * 1000) / 1000,
          tran: 15,
        };
      },
    ];
    const invocation = (name) => new TypeError(`Error in invocation of app.${name}(): `);
    const app = {
      isInstalled: false,
      getDetails: function getDetails() {
        if (arguments.length) throw invocation("getDetails");
        return null;
      },
      getIsInstalled: function getIsInstalled() {
        if (arguments.length) throw invocation("getIsInstalled");
        return false;
      },
      installState: function installState(callback) {
        if (typeof callback !== "function") throw invocation("installState");
        setTimeout(() => callback("not_installed"), 0);
      },
      runningState: function runningState() {
        if (arguments.length) throw invocation("runningState");
        return "cannot_run";
      },
      InstallState: {
        DISABLED: "disabled", INSTALLED: "installed", NOT_INSTALLED: "not_installed",
      },
      RunningState: {
        CANNOT_RUN: "cannot_run", READY_TO_RUN: "ready_to_run", RUNNING: "running",
      },
    };
    for (const name of ["getDetails", "getIsInstalled", "installState", "runningState"]) {
      asNative(app[name], name);
    }
    window.chrome = { loadTimes: asNative(loadTimes, ""), csi: asNative(csi, ""), app };
  }

  if (typeof Notification !== "undefined" && Notification.permission === "denied") {
    getter(Notification, "permission", "default");
  }

  const rtt = window.NetworkInformation &&
    Object.getOwnPropertyDescriptor(NetworkInformation.prototype, "rtt");
  if (rtt && rtt.get) {
    Object.defineProperty(NetworkInformation.prototype, "rtt", {
      get: named(function () {
        const value = rtt.get.call(this);
        return value === 0 ? 100 : value;  // what Chromium's estimator starts from
      }, "get rtt", 0),
      set: undefined,
      enumerable: rtt.enumerable,
      configurable: true,
    });
  }
"""
