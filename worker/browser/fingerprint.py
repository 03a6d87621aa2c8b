"""A deterministic browser fingerprint per account.

Every value is derived from a seed string (the account's fingerprint_seed,
else its id) through SHA-256, never through Python's `random`, so the same
account looks the same on every worker, after every restart and on every
Python version. The values are picked as coherent sets: a Windows user agent
comes with navigator.platform "Win32", a Direct3D ANGLE renderer and a
Windows screen; a Mac with "MacIntel", a Metal/OpenGL renderer and a Retina
scale.

The Chrome major version in the user agent should be the real engine's
(`BrowserPool` passes it): Chromium reports its own version in the
Sec-CH-UA headers and navigator.userAgentData, and a user agent claiming
another one is an easy tell.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from hiscrm.v1 import gateway_pb2

DEFAULT_CHROME_MAJOR = 150
LOCALE = "zh-CN"
TIMEZONE = "Asia/Shanghai"
ACCEPT_LANGUAGE = "zh-CN,zh;q=0.9"

_UA = "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
_WINDOWS_OS = "Windows NT 10.0; Win64; x64"
_MAC_OS = "Macintosh; Intel Mac OS X 10_15_7"  # frozen by Chrome on every macOS

# CSS screen size and scale: what the OS reports to the page.
_WINDOWS_SCREENS = [
    (1920, 1080, 1.0),
    (1920, 1080, 1.0),
    (1536, 864, 1.25),
    (1366, 768, 1.0),
    (1440, 900, 1.0),
    (1600, 900, 1.0),
    (2560, 1440, 1.0),
    (1280, 720, 1.5),
]
_MAC_SCREENS = [
    (1440, 900, 2.0),
    (1512, 982, 2.0),
    (1728, 1117, 2.0),
    (1680, 1050, 2.0),
    (1920, 1080, 1.0),
    (2560, 1440, 1.0),
]
# (vendor, renderer, plausible logical cores)
_WINDOWS_GPUS = [
    (
        "Google Inc. (NVIDIA)",
        "ANGLE (NVIDIA, NVIDIA GeForce GTX 1650 Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (8, 12),
    ),
    (
        "Google Inc. (NVIDIA)",
        "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (12, 16),
    ),
    (
        "Google Inc. (NVIDIA)",
        "ANGLE (NVIDIA, NVIDIA GeForce RTX 4060 Laptop GPU Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (16, 20),
    ),
    (
        "Google Inc. (Intel)",
        "ANGLE (Intel, Intel(R) UHD Graphics 630 Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (4, 8, 12),
    ),
    (
        "Google Inc. (Intel)",
        "ANGLE (Intel, Intel(R) Iris(R) Xe Graphics Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (8, 12),
    ),
    (
        "Google Inc. (AMD)",
        "ANGLE (AMD, AMD Radeon RX 580 2048SP Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (6, 8, 12),
    ),
    (
        "Google Inc. (AMD)",
        "ANGLE (AMD, AMD Radeon(TM) Graphics Direct3D11 vs_5_0 ps_5_0, D3D11)",
        (12, 16),
    ),
]
_MAC_GPUS = [
    (
        "Google Inc. (Apple)",
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M1, Unspecified Version)",
        (8,),
    ),
    (
        "Google Inc. (Apple)",
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)",
        (8,),
    ),
    (
        "Google Inc. (Apple)",
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M1 Pro, Unspecified Version)",
        (8, 10),
    ),
    (
        "Google Inc. (Apple)",
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M3, Unspecified Version)",
        (8,),
    ),
    (
        "Google Inc. (Intel Inc.)",
        "ANGLE (Intel Inc., Intel(R) Iris(TM) Plus Graphics OpenGL Engine, OpenGL 4.1)",
        (8,),
    ),
]


class _Draw:
    """Named, independent, reproducible draws from one seed."""

    def __init__(self, seed: str) -> None:
        self.seed = seed

    def number(self, label: str) -> int:
        digest = hashlib.sha256(f"hiscrm-fp-v1\x00{self.seed}\x00{label}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def pick(self, label: str, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.number(label) % len(options)]

    def between(self, label: str, low: int, high: int) -> int:
        return low + self.number(label) % (high - low + 1)


@dataclass(frozen=True)
class Fingerprint:
    seed: str
    os_name: str  # "windows" | "macos"
    chrome_major: int
    user_agent: str
    platform: str
    screen_width: int
    screen_height: int
    viewport_width: int
    viewport_height: int
    device_scale_factor: float
    hardware_concurrency: int
    device_memory: int
    webgl_vendor: str
    webgl_renderer: str
    canvas_seed: int
    locale: str = LOCALE
    timezone_id: str = TIMEZONE
    accept_language: str = ACCEPT_LANGUAGE

    @classmethod
    def from_seed(cls, seed: str, chrome_major: int = DEFAULT_CHROME_MAJOR) -> Fingerprint:
        if not seed:
            raise ValueError("a fingerprint needs a seed (the account's seed or id)")
        draw = _Draw(seed)
        windows = draw.number("os") % 10 < 7  # most desktop users in China run Windows
        if windows:
            screen_w, screen_h, scale = draw.pick("screen", _WINDOWS_SCREENS)
            vendor, renderer, cores = draw.pick("gpu", _WINDOWS_GPUS)
            os_part, platform, os_name = _WINDOWS_OS, "Win32", "windows"
            chrome_h = 40 + 85  # taskbar + tabs/address bar
        else:
            screen_w, screen_h, scale = draw.pick("screen", _MAC_SCREENS)
            vendor, renderer, cores = draw.pick("gpu", _MAC_GPUS)
            os_part, platform, os_name = _MAC_OS, "MacIntel", "macos"
            chrome_h = 25 + 80  # menu bar + tabs/address bar
        maximized = draw.number("maximized") % 3 != 0
        width = screen_w if maximized else screen_w - draw.between("width", 40, 240)
        height = screen_h - chrome_h - (0 if maximized else draw.between("height", 10, 120))
        return cls(
            seed=seed,
            os_name=os_name,
            chrome_major=chrome_major,
            user_agent=_UA.format(os=os_part, major=chrome_major),
            platform=platform,
            screen_width=screen_w,
            screen_height=screen_h,
            viewport_width=width,
            viewport_height=height,
            device_scale_factor=scale,
            hardware_concurrency=draw.pick("cores", cores),
            device_memory=8,  # Chrome caps navigator.deviceMemory at 8
            webgl_vendor=vendor,
            webgl_renderer=renderer,
            canvas_seed=draw.number("canvas") & 0x7FFFFFFF,
        )

    def context_options(self) -> dict[str, Any]:
        """Keyword arguments for Browser.new_context (the proxy is added by the pool).

        On Chromium, Playwright derives the Accept-Language header from
        `locale`, so the header says "zh-CN" whatever extra_http_headers holds;
        navigator.language(s) agree with it.
        """
        return {
            "user_agent": self.user_agent,
            "viewport": {"width": self.viewport_width, "height": self.viewport_height},
            "screen": {"width": self.screen_width, "height": self.screen_height},
            "device_scale_factor": self.device_scale_factor,
            "locale": self.locale,
            "timezone_id": self.timezone_id,
            "extra_http_headers": {"Accept-Language": self.accept_language},
        }

    def init_script(self, engine_js: str = "") -> str:
        """JavaScript run before any page script in every frame of the context.

        `engine_js` is spliced in after the navigator overrides, with the same
        helpers in scope (`asNative`, `getter`): the pool's fixes for what a
        particular browser build gives away (headless_shell.PARITY_JS)."""
        config = json.dumps(
            {
                "platform": self.platform,
                "hardwareConcurrency": self.hardware_concurrency,
                "deviceMemory": self.device_memory,
                "vendor": self.webgl_vendor,
                "renderer": self.webgl_renderer,
                "seed": self.canvas_seed,
            }
        )
        return _INIT_SCRIPT.replace("__CONFIG__", config).replace("/*__ENGINE__*/", engine_js)

    def to_proto(self) -> gateway_pb2.Fingerprint:
        return gateway_pb2.Fingerprint(
            user_agent=self.user_agent,
            viewport_width=self.viewport_width,
            viewport_height=self.viewport_height,
            device_scale_factor=self.device_scale_factor,
            platform=self.platform,
            webgl_vendor=self.webgl_vendor,
            webgl_renderer=self.webgl_renderer,
            seed=self.seed,
        )

    def summary(self) -> dict[str, Any]:
        """Everything, for logs and debugging (nothing here is secret)."""
        return asdict(self)


# Overrides are installed on prototypes with native-looking toString, so
# `Navigator.prototype.platform` and `getParameter.toString()` look untouched.
# Canvas noise flips the low bit of one colour channel in about one pixel of
# sixteen, chosen by a hash of (seed, absolute pixel index): the same drawing
# always reads back the same, and differs between accounts.
_INIT_SCRIPT = r"""
(() => {
  const FP = __CONFIG__;

  const nativeToString = Function.prototype.toString;
  const sources = new WeakMap();
  const asNative = (fn, name) => {
    sources.set(fn, `function ${name}() { [native code] }`);
    return fn;
  };
  const toString = asNative(function toString() {
    return sources.has(this) ? sources.get(this) : nativeToString.call(this);
  }, "toString");
  Object.defineProperty(Function.prototype, "toString", {
    value: toString, writable: true, configurable: true, enumerable: false,
  });

  const getter = (proto, prop, value) => {
    const old = Object.getOwnPropertyDescriptor(proto, prop);
    if (!old) return;  // e.g. deviceMemory outside secure contexts
    Object.defineProperty(proto, prop, {
      get: asNative(function () { return value; }, `get ${prop}`),
      set: undefined,
      enumerable: old.enumerable,
      configurable: true,
    });
  };
  getter(Navigator.prototype, "platform", FP.platform);
  getter(Navigator.prototype, "hardwareConcurrency", FP.hardwareConcurrency);
  getter(Navigator.prototype, "deviceMemory", FP.deviceMemory);
  getter(Navigator.prototype, "webdriver", false);
/*__ENGINE__*/

  const UNMASKED_VENDOR = 0x9245;
  const UNMASKED_RENDERER = 0x9246;
  for (const name of ["WebGLRenderingContext", "WebGL2RenderingContext"]) {
    const proto = window[name] && window[name].prototype;
    if (!proto) continue;
    const original = proto.getParameter;
    proto.getParameter = asNative(function getParameter(p) {
      if (p === UNMASKED_VENDOR) return FP.vendor;
      if (p === UNMASKED_RENDERER) return FP.renderer;
      return original.apply(this, arguments);
    }, "getParameter");
  }

  const mix = (a) => {
    a = Math.imul(a ^ (a >>> 16), 0x45d9f3b);
    a = Math.imul(a ^ (a >>> 16), 0x45d9f3b);
    return (a ^ (a >>> 16)) >>> 0;
  };
  const noise = (data, x0, y0, w, h, canvasWidth) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (data[i + 3] === 0) continue;  // keep blank pixels blank
        const k = mix(FP.seed ^ mix((y0 + y) * canvasWidth + (x0 + x) + 1));
        if ((k & 15) !== 0) continue;
        data[i + ((k >>> 4) % 3)] ^= 1;
      }
    }
  };
  const ctx2d = CanvasRenderingContext2D.prototype;
  const origGetImageData = ctx2d.getImageData;
  ctx2d.getImageData = asNative(function getImageData(sx, sy, sw, sh) {
    const image = origGetImageData.apply(this, arguments);
    if (sw > 0 && sh > 0) {
      noise(image.data, sx | 0, sy | 0, image.width, image.height, this.canvas.width);
    }
    return image;
  }, "getImageData");

  const noisyCopy = (canvas) => {
    const w = canvas.width, h = canvas.height;
    if (!w || !h) return null;
    const copy = document.createElement("canvas");
    copy.width = w;
    copy.height = h;
    const c = copy.getContext("2d");
    c.drawImage(canvas, 0, 0);
    const image = origGetImageData.call(c, 0, 0, w, h);
    noise(image.data, 0, 0, w, h, w);
    c.putImageData(image, 0, 0);
    return copy;
  };
  const canvasProto = HTMLCanvasElement.prototype;
  const origToDataURL = canvasProto.toDataURL;
  canvasProto.toDataURL = asNative(function toDataURL() {
    const copy = noisyCopy(this);
    return origToDataURL.apply(copy || this, arguments);
  }, "toDataURL");
  const origToBlob = canvasProto.toBlob;
  canvasProto.toBlob = asNative(function toBlob() {
    const copy = noisyCopy(this);
    return origToBlob.apply(copy || this, arguments);
  }, "toBlob");
})();
"""
