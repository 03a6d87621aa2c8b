// Creator centre: load everything through the JSON APIs, render it with the
// layout's selectors, send replies, and apply live pushes from /api/live.
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const S = cfg.sel;
  const V2 = cfg.layout === "v2";
  const PAGE = 20;
  const postList = document.getElementById("post-list");
  const convList = document.getElementById("conversation-list");
  const banner = document.getElementById("error-banner");
  const liveEl = document.getElementById("live-status");
  let sessionGone = false;

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.status_msg) || "HTTP " + status);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(path, options) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {}));
    if (r.ok && (r.headers.get("content-type") || "").includes("protobuf")) {
      return { status_code: 0, binary: new Uint8Array(await r.arrayBuffer()) };
    }
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok || !body || body.status_code !== 0) throw new ApiError(r.status, body);
    return body;
  }

  function showError(err) {
    const slug = (err.body && err.body.error) || (err instanceof TypeError ? "layout" : "error");
    if (slug === "not_logged_in") {
      sessionGone = true;
      location.href = "/login";
      return;
    }
    if (slug === "captcha_required") {
      location.href = err.body.verify_url || "/captcha";
      return;
    }
    banner.dataset.error = slug;
    banner.textContent = slug === "layout" ? "页面数据异常：" + err.message : err.message;
    banner.hidden = false;
  }

  // -- data shapes --------------------------------------------------------
  function normComment(c) {
    if (V2) {
      return {
        id: c.cid, postId: c.aweme_id, text: c.content, time: c.ctime,
        authorId: c.user.uid, authorName: c.user.nickname, avatar: c.user.avatar_thumb,
        mine: !!c.is_author,
      };
    }
    return {
      id: c.comment_id, postId: c.post_id, text: c.text, time: c.create_time,
      authorId: c.author_id, authorName: c.author_name, avatar: c.author_avatar,
      mine: !!c.is_author,
    };
  }

  function normPage(b) {
    if (V2) return { items: b.comment_list.map(normComment), cursor: b.next_cursor, hasMore: !!b.hasMore };
    return { items: b.comments.map(normComment), cursor: b.cursor, hasMore: !!b.has_more };
  }

  // -- DOM helpers ----------------------------------------------------------
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmtTime(t) {
    return new Date(t * 1000).toLocaleString("zh-CN", { hour12: false });
  }

  function byAttr(root, attr, value) {
    return root.querySelector(`[${attr}="${CSS.escape(String(value))}"]`);
  }

  function replyRow(send) {
    const row = el("div", { class: "reply-row" });
    const input = el("input", { "data-testid": S.reply_input, type: "text", placeholder: "回复…", maxlength: "500" });
    const button = el("button", { "data-testid": S.reply_send, type: "button" }, "发送");
    const hint = el("span", { "data-testid": S.reply_status, class: "reply-status" });
    const go = async () => {
      const text = input.value.trim();
      if (!text || button.disabled) return;
      button.disabled = true;
      hint.dataset.state = "sending";
      hint.textContent = "发送中…";
      try {
        await send(text);
        input.value = "";
        hint.dataset.state = "sent";
        hint.textContent = "已发送";
      } catch (err) {
        hint.dataset.state = "error";
        hint.textContent = "发送失败：" + err.message;
        showError(err);
      } finally {
        button.disabled = false;
      }
    };
    button.addEventListener("click", go);
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") go();
    });
    row.append(input, button, hint);
    return row;
  }

  // -- comments -----------------------------------------------------------
  function commentNode(c) {
    const li = el("li", {
      "data-testid": S.comment_item, [S.comment_id_attr]: c.id, [S.post_id_attr]: c.postId,
      "data-author-id": c.authorId, "data-create-time": c.time, class: c.mine ? "comment mine" : "comment",
    });
    li.append(
      el("img", { class: "avatar", src: c.avatar, alt: "" }),
      el("span", { class: "author", "data-testid": "comment-author" }, c.authorName),
      el("span", { class: "text", "data-testid": "comment-text" }, c.text),
      el("time", { datetime: new Date(c.time * 1000).toISOString() }, fmtTime(c.time)),
    );
    if (!c.mine) {
      li.append(replyRow(async (text) => {
        const body = await api("/api/creator/reply", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: "comment", comment_id: c.id, text }),
        });
        addComment(normComment(body.comment), true);
      }));
    }
    return li;
  }

  function addComment(c, atTop) {
    const post = byAttr(postList, S.post_id_attr, c.postId);
    if (!post || byAttr(post, S.comment_id_attr, c.id)) return;
    const list = post.querySelector(`[data-testid="${S.comment_list}"]`);
    if (atTop) list.prepend(commentNode(c));
    else list.append(commentNode(c));
  }

  async function loadComments(postId, cursor) {
    const q = new URLSearchParams({ post_id: postId, cursor: String(cursor), count: String(PAGE) });
    const page = normPage(await api("/api/creator/comments?" + q));
    for (const c of page.items) addComment(c, false);
    const post = byAttr(postList, S.post_id_attr, postId);
    const more = post.querySelector(`[data-testid="${S.comments_more}"]`);
    more.hidden = !page.hasMore;
    more.dataset.cursor = String(page.cursor);
  }

  function postNode(p) {
    const section = el("section", { "data-testid": S.post_item, [S.post_id_attr]: p.post_id });
    const more = el("button", { "data-testid": S.comments_more, type: "button", hidden: "" }, "加载更多评论");
    more.addEventListener("click", () => loadComments(p.post_id, more.dataset.cursor).catch(showError));
    const pick = el("button", { "data-testid": "post-pick", type: "button" }, "查看评论");
    pick.addEventListener("click", () => loadComments(p.post_id, 0).catch(showError));
    section.append(
      el("h3", { "data-testid": "post-title" }, p.title),
      pick,
      el("p", { class: "hint" }, `${p.comment_count} 条评论 · ${fmtTime(p.create_time)}`),
      el("ul", { "data-testid": S.comment_list }),
      more,
    );
    return section;
  }

  // -- direct messages ----------------------------------------------------
  function messageNode(m) {
    const li = el("li", {
      "data-testid": S.message_item, [S.message_id_attr]: m.message_id,
      "data-direction": m.direction, "data-sender-id": m.sender_id, "data-create-time": m.create_time,
      class: "message",
    });
    li.append(
      el("span", { class: "author", "data-testid": "message-sender" }, m.sender_name),
      el("span", { class: "text", "data-testid": "message-text" }, m.text),
      el("time", { datetime: new Date(m.create_time * 1000).toISOString() }, fmtTime(m.create_time)),
    );
    return li;
  }

  function convNode(c) {
    const section = el("section", {
      "data-testid": S.conversation_item, [S.conversation_id_attr]: c.conversation_id,
      "data-peer-id": c.peer_id,
    });
    section.append(
      el("h3", { "data-testid": "conversation-peer" }, c.peer_name),
      el("ul", { "data-testid": S.message_list }),
      replyRow(async (text) => {
        const body = await api("/api/creator/reply", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: "message", conversation_id: c.conversation_id, text }),
        });
        addMessage(body.message);
      }),
    );
    return section;
  }

  function addMessage(m) {
    let conv = byAttr(convList, S.conversation_id_attr, m.conversation_id);
    if (!conv) {
      conv = convNode({ conversation_id: m.conversation_id, peer_id: m.sender_id, peer_name: m.sender_name });
      convList.prepend(conv);
    }
    if (byAttr(conv, S.message_id_attr, m.message_id)) return;
    conv.querySelector(`[data-testid="${S.message_list}"]`).append(messageNode(m));
  }

  // The binary IM answer (demosite/protowire.py), read the way an IM SDK would:
  // field number -> values; varints as BigInt, length-delimited as bytes.
  function pbFields(bytes) {
    const out = {};
    let i = 0;
    const varint = () => {
      let v = 0n, shift = 0n;
      for (;;) {
        const b = bytes[i++];
        v |= BigInt(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
        shift += 7n;
      }
    };
    while (i < bytes.length) {
      const key = Number(varint());
      const wire = key & 7;
      let value;
      if (wire === 0) value = varint();
      else if (wire === 2) { const n = Number(varint()); value = bytes.subarray(i, i + n); i += n; }
      else if (wire === 1 || wire === 5) { i += wire === 1 ? 8 : 4; continue; }
      else throw new TypeError("IM answer: wire type " + wire);
      (out[key >> 3] = out[key >> 3] || []).push(value);
    }
    return out;
  }

  function binaryMessages(bytes, conv) {
    const text = (b) => new TextDecoder().decode(b);
    const env = pbFields(bytes);
    const body = pbFields(pbFields(env[6][0])[301][0]);
    return (body[1] || []).map((raw) => {
      const m = pbFields(raw);
      const sender = m[7][0].toString();
      const out = sender === String(cfg.user_id);
      return {
        message_id: m[3][0].toString(), conversation_id: text(m[1][0]), sender_id: sender,
        sender_name: out ? document.getElementById("me-nickname").textContent : conv.peer_name,
        text: JSON.parse(text(m[8][0])).text, create_time: Number(m[10][0] / 1000n),
        direction: out ? "out" : "in",
      };
    });
  }

  async function loadMessages(conv) {
    const q = new URLSearchParams({ conversation_id: conv.conversation_id, count: String(PAGE) });
    const body = await api("/api/creator/messages?" + q);
    const messages = body.binary ? binaryMessages(body.binary, conv) : body.messages;
    for (const m of messages.slice().reverse()) addMessage(m);
  }

  // -- loading --------------------------------------------------------------
  async function loadAll() {
    document.body.dataset.loaded = "false";
    banner.hidden = true;
    try {
      const me = (await api("/api/creator/me")).user;
      document.getElementById("me-nickname").textContent = me.nickname;
      document.getElementById("me-id").textContent = "ID " + me.unique_id;
      document.getElementById("me-avatar").src = me.avatar;
      const posts = (await api("/api/creator/posts")).posts;
      postList.replaceChildren(...posts.map(postNode));
      if (!cfg.comments_on_pick) await Promise.all(posts.map((p) => loadComments(p.post_id, 0)));
      const convs = (await api("/api/creator/conversations")).conversations;
      convList.replaceChildren(...convs.map(convNode));
      await Promise.all(convs.map((c) => loadMessages(c)));
      document.body.dataset.loaded = "true";
    } catch (err) {
      document.body.dataset.loaded = "error";
      showError(err);
    }
  }

  // -- live channel ---------------------------------------------------------
  let liveDelay = 1000;
  function connectLive() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/api/live");
    liveEl.dataset.state = "connecting";
    ws.onopen = () => {
      liveDelay = 1000;
      liveEl.dataset.state = "open";
      liveEl.textContent = "实时：已连接";
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      try {
        if (frame.type === "comment") addComment(normComment(frame.comment), true);
        else if (frame.type === "message") addMessage(frame.message);
        else if (frame.type === "session_expired") {
          sessionGone = true;
          location.href = "/login";
        }
      } catch (err) {
        showError(err);
      }
    };
    ws.onclose = () => {
      liveEl.dataset.state = "closed";
      liveEl.textContent = "实时：已断开";
      if (sessionGone) return;
      setTimeout(connectLive, liveDelay);
      liveDelay = Math.min(liveDelay * 2, 30000);
    };
  }

  document.getElementById("refresh").addEventListener("click", loadAll);
  const every = Number(new URLSearchParams(location.search).get("refresh") || 0);
  if (every > 0) setInterval(loadAll, every * 1000);
  loadAll();
  connectLive();
})();
