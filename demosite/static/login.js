// QR login page: poll the token's status, refresh an expired QR, ask for the
// SMS code when the platform wants it, and go to the creator centre on success.
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const qr = document.getElementById("qr");
  const statusEl = document.getElementById("login-status");
  const expiresEl = document.getElementById("qr-expires");
  const mask = document.getElementById("qr-mask");
  const smsForm = document.getElementById("sms-form");
  const smsCode = document.getElementById("sms-code");
  const smsError = document.getElementById("sms-error");
  const smsPhone = document.getElementById("sms-phone");
  const LABELS = {
    waiting: "等待扫码",
    scanned: "扫码成功，请在手机上确认",
    verify: "请输入短信验证码",
    confirmed: "登录成功，正在跳转…",
    expired: "二维码已失效，正在刷新…",
    failed: "登录失败，请刷新二维码重试",
  };
  let token = cfg.token;
  let expiresAt = Date.now() + cfg.expires_in * 1000;
  let done = false;
  let refreshing = false;

  function setStatus(status) {
    statusEl.dataset.status = status;
    statusEl.textContent = LABELS[status] || status;
    document.body.dataset.loginStatus = status;
  }

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const r = await fetch("/api/login/qr", { method: "POST", cache: "no-store" });
      const body = await r.json();
      token = body.token;
      expiresAt = Date.now() + body.expires_in * 1000;
      qr.dataset.token = token;
      qr.dataset.expiresAt = String(body.expires_at);
      qr.src = body.qr_url;
      mask.hidden = true;
      smsForm.hidden = true;
      smsError.hidden = true;
      setStatus("waiting");
    } catch (err) {
      console.warn("QR refresh failed", err);
    } finally {
      refreshing = false;
    }
  }

  function finish(body) {
    if (done) return;
    done = true;
    setStatus("confirmed");
    const user = body.user || {};
    localStorage.setItem("demo_user_id", user.user_id || "");
    localStorage.setItem("demo_nickname", user.nickname || "");
    localStorage.setItem("demo_login_at", String(Date.now()));
    location.href = body.redirect || "/creator";
  }

  async function poll() {
    if (done) return;
    try {
      const r = await fetch("/api/login/status?token=" + encodeURIComponent(token), {
        cache: "no-store",
      });
      const body = await r.json();
      if (done) return;
      const status = body.status || (body.error === "unknown_token" ? "expired" : "failed");
      if (status === "confirmed") {
        finish(body);
        return;
      }
      setStatus(status);
      if (status === "verify") {
        smsPhone.textContent = body.phone || "";
        smsForm.hidden = false;
      } else if (status === "expired") {
        mask.hidden = false;
        await refresh();
      } else if (status === "failed") {
        smsForm.hidden = true;
        mask.hidden = false;
      }
    } catch (err) {
      console.warn("status poll failed", err);
    } finally {
      if (!done) setTimeout(poll, cfg.poll_ms);
    }
  }

  smsForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    smsError.hidden = true;
    const r = await fetch("/api/login/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token, code: smsCode.value }),
    });
    const body = await r.json();
    if (r.ok && body.status === "confirmed") {
      finish(body);
      return;
    }
    smsError.textContent = body.status_msg || "验证失败";
    smsError.dataset.error = body.error || "";
    smsError.hidden = false;
    smsCode.value = "";
    smsCode.focus();
    if (body.error === "too_many_attempts") {
      setStatus("failed");
      smsForm.hidden = true;
      mask.hidden = false;
    }
  });

  document.getElementById("qr-refresh").addEventListener("click", refresh);

  setInterval(() => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    expiresEl.textContent = statusEl.dataset.status === "waiting" ? `二维码 ${left} 秒后失效` : "";
  }, 500);

  setStatus("waiting");
  poll();
})();
