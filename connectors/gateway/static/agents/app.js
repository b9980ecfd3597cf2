// 店小二工作台: login, live queue over a WebSocket, claim, transcript, reply, typing, transfer,
// notes, close. Every piece of message text is rendered with textContent, never as HTML.
"use strict";

const state = { me: null, ws: null, selected: null,
                conv: null, snapshot: null, retry: 500, typingTimer: null, typingSent: false };

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function api(method, path, body) {
  const headers = session.auth();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401) { session.end(); throw new Error("登录已失效"); }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
  return data;
}

// --- signing in (../staff/staff.js) --------------------------------------------------------------
function start(me) {
  state.me = me;
  $("me").textContent = me.display_name;
  $("admin").hidden = !me.roles.includes("admin");
  api("GET", "/api/agents/canned").then((canned) => {
    const select = $("canned");
    canned.forEach((text) => { const o = el("option", text.length > 24 ? text.slice(0, 24) + "…" : text); o.value = text; select.append(o); });
  });
  connect();
  loadRecent();
  loadFollowups();
}

// --- live events -----------------------------------------------------------------------------------
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/api/agents/ws");
  state.ws = ws;
  ws.onopen = () => { ws.send(JSON.stringify({ type: "auth", token: session.token })); };
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    setConn(false);
    if (ev.code === 4401) { session.end(); return; }
    setTimeout(connect, state.retry);  // reconnect, then reload everything from the snapshot
    state.retry = Math.min(state.retry * 2, 10000);
  };
}

function setConn(ok) { const c = $("conn"); c.textContent = ok ? "在线" : "重连中…"; c.className = "pill " + (ok ? "ok" : "bad"); }

setInterval(() => { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify({ type: "ping" })); }, 20000);

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => { renderSnapshot(await api("GET", "/api/agents/queue")); }, 150);
}

function handle(ev) {
  switch (ev.type) {
    case "snapshot": setConn(true); state.retry = 500; renderSnapshot(ev); if (state.selected) openConv(state.selected); break;
    case "queued":
      if (state.snapshot && !state.snapshot.queue.some((q) => q.sender_id === ev.sender_id)) {
        state.snapshot.queue.push({ sender_id: ev.sender_id, position: ev.position, reason: ev.reason,
                                    channel: ev.channel, queued_at: ev.queued_at, last: null });
        renderSnapshot(state.snapshot);
      }
      refreshSoon();
      break;
    case "left": case "claimed": case "transferred": case "closed": case "ticket": case "ticket_resolved":
      refreshSoon();
      if (ev.sender_id && ev.sender_id === state.selected) openConv(state.selected);
      break;
    case "message":
      if (ev.sender_id === state.selected && ev.entry) appendEntry(ev.entry);
      break;
    case "typing":
      if (ev.sender_id === state.selected && ev.who === "user") showTyping(ev.on);
      break;
    case "note":
      if (ev.sender_id === state.selected) renderNote(ev.note);
      break;
    case "followup": case "followup_rectified": loadFollowups(); break;
    case "resync": refreshSoon(); if (state.selected) openConv(state.selected); break;
    case "error": toast(ev.error.message); break;
  }
}

// --- lists -----------------------------------------------------------------------------------------
function lastText(raw) {
  try { const e = JSON.parse(raw); return e && e.text ? e.text : ""; } catch (e) { return ""; }
}

function item(label, meta, senderId, cls) {
  const li = el("li", null, cls);
  li.append(el("span", label), el("span", meta, "meta"));
  if (senderId) {
    li.dataset.sender = senderId;
    if (senderId === state.selected) li.classList.add("active");
    li.addEventListener("click", () => openConv(senderId));
  }
  return li;
}

function minutes(s) { return Math.max(0, Math.round(s / 60)) + " 分钟"; }

function renderSnapshot(snap) {
  state.snapshot = snap;
  $("hours").textContent = snap.open ? "服务时间内" : "非服务时间";
  const tickets = $("tickets"); tickets.replaceChildren();
  snap.tickets.forEach((t) => {
    const li = item(t.id + " · " + t.contact, t.text, t.sender_id, "ticket");
    const done = el("button", "已处理", "small");
    done.addEventListener("click", async (ev) => {
      ev.stopPropagation();
      const note = prompt("处理说明（可选）") || "";
      try { await api("POST", "/api/agents/tickets/" + encodeURIComponent(t.id) + "/resolve", { note }); } catch (e) { toast(e.message); }
    });
    li.append(done);
    tickets.append(li);
  });
  $("ticket-count").textContent = snap.tickets.length;
  const queue = $("queue"); queue.replaceChildren();
  const now = Date.now() / 1000;
  snap.queue.forEach((q) => queue.append(item("#" + q.position + " " + q.sender_id,
    "已等 " + minutes(now - q.queued_at) + " · " + (q.channel || "") + " · " + lastText(q.last), q.sender_id)));
  $("queue-count").textContent = snap.queue.length;
  const mine = $("mine"); mine.replaceChildren();
  snap.mine.forEach((m) => mine.append(item(m.sender_id, m.channel || "", m.sender_id)));
  $("mine-count").textContent = snap.mine.length + " / " + snap.limit;
}

async function loadRecent() {
  const list = $("recent"); list.replaceChildren();
  (await api("GET", "/api/agents/recent?limit=30")).forEach((r) => list.append(item(r.sender_id, lastText(r.last), r.sender_id)));
}
$("refresh-recent").addEventListener("click", loadRecent);

async function loadFollowups() {
  if (!state.me || !state.me.roles.includes("admin")) return;
  const items = await api("GET", "/api/agents/followups");
  const list = $("followups"); list.replaceChildren();
  items.forEach((f) => {
    const li = item(f.id + " · " + f.label + " · " + (f.agent || ""), f.comment || "（无意见）", null);
    const fix = el("button", "记录整改", "small");
    fix.addEventListener("click", async () => {
      const text = prompt("如何整改的？");
      if (!text) return;
      try { await api("POST", "/api/agents/followups/" + encodeURIComponent(f.id) + "/rectify", { rectification: text }); loadFollowups(); } catch (e) { toast(e.message); }
    });
    li.append(fix);
    list.append(li);
  });
  $("followup-count").textContent = items.length;
}

// --- one conversation ------------------------------------------------------------------------------
const ROLE_LABEL = { user: "用户", bot: "小申", agent: "店小二", system: "系统" };

function appendEntry(e) {
  const list = $("transcript");
  if (e.seq && list.querySelector('[data-seq="' + e.seq + '"]')) return;
  const li = el("li", null, e.role);
  if (e.seq) li.dataset.seq = e.seq;
  const when = e.ts ? new Date(e.ts * 1000).toLocaleTimeString() : "";
  li.append(el("span", (ROLE_LABEL[e.role] || e.role) + (e.author ? " " + e.author : "") + " " + when, "who"));
  li.append(document.createTextNode(e.text || ""));
  (e.buttons || []).forEach((b) => li.append(el("span", " [" + b.title + "]", "who")));
  list.append(li);
  list.scrollTop = list.scrollHeight;
  if (e.role === "user") showTyping(false);
}

function renderNote(n) {
  const li = el("li", null);
  li.append(el("span", n.text), el("span", n.author + " · " + new Date(n.ts * 1000).toLocaleString(), "meta"));
  $("notes").append(li);
}

function showTyping(on) {
  $("typing").hidden = !on;
  clearTimeout(showTyping.timer);
  if (on) showTyping.timer = setTimeout(() => { $("typing").hidden = true; }, 8000);
}

// The user's unfinished smart declaration: what they answered so far and the checklist it gives.
function renderDeclaration(d) {
  $("declaration").hidden = !d;
  if (!d) return;
  const SOURCE = { user: "用户填写", prefill: "电子证照", derived: "自动计算" };
  $("decl-head").textContent = d.title + " · 续办码 " + d.resume_code + "（结束服务后用户可接着填）";
  const answers = $("decl-answers"); answers.replaceChildren();
  d.answers.forEach((a) => {
    answers.append(el("dt", a.label));
    answers.append(el("dd", (a.value || "（未答）") + (a.source ? " · " + SOURCE[a.source] : "")));
  });
  const list = $("decl-checklist"); list.replaceChildren();
  d.checklist.forEach((m) => list.append(el("li", m.name + (m.exempt ? "（免交）" : "") + "：" + m.why)));
}

async function openConv(senderId) {
  state.selected = senderId;
  document.querySelectorAll(".list li").forEach((li) => li.classList.toggle("active", li.dataset.sender === senderId));
  let conv;
  try { conv = await api("GET", "/api/agents/conversations/" + encodeURIComponent(senderId)); } catch (e) { toast(e.message); return; }
  if (state.selected !== senderId) return;
  state.conv = conv;
  const statusText = { queued: "排队中", agent: "店小二 " + (conv.agent || "") + " 接待中", none: "机器人会话",
                       rating: "待评价", comment: "待评价", message: "留言中" }[conv.status] || conv.status;
  $("chat-head").textContent = senderId + " · " + (conv.channel || "") + " · " + statusText;
  $("transcript").replaceChildren();
  conv.messages.forEach(appendEntry);
  $("notes").replaceChildren();
  conv.notes.forEach(renderNote);
  renderDeclaration(conv.declaration);
  const ratings = $("ratings"); ratings.replaceChildren();
  conv.ratings.forEach((r) => ratings.append(item(r.label + " (" + r.score + ")", r.comment || "", null)));
  const mine = conv.status === "agent" && conv.agent === state.me.username;
  $("actions").hidden = false;
  $("claim").hidden = conv.status !== "queued";
  $("takeover").hidden = !(conv.status === "none" || conv.status === "" || conv.status === "rating" || conv.status === "comment");
  $("transfer").hidden = $("transfer-to").hidden = $("close").hidden = !mine;
  $("reply-form").hidden = !mine;
  $("note-form").hidden = false;
  if (mine) loadAgents();
}

async function loadAgents() {
  const select = $("transfer-to"); select.replaceChildren();
  (await api("GET", "/api/agents/agents")).filter((a) => a.username !== state.me.username).forEach((a) => {
    const o = el("option", a.display_name + (a.online ? "（在线，" + a.held + "）" : "（离线）"));
    o.value = a.username;
    select.append(o);
  });
}

async function act(method, suffix, body) {
  try { return await api(method, "/api/agents/conversations/" + encodeURIComponent(state.selected) + suffix, body); }
  catch (e) { toast(e.message); return null; }
}

$("claim").addEventListener("click", async () => { if (await act("POST", "/claim")) { openConv(state.selected); refreshSoon(); } });
$("takeover").addEventListener("click", async () => { if (await act("POST", "/claim?takeover=true")) { openConv(state.selected); refreshSoon(); } });
$("transfer").addEventListener("click", async () => {
  const to = $("transfer-to").value;
  if (to && await act("POST", "/transfer", { to })) { toast("已转接"); openConv(state.selected); refreshSoon(); }
});
$("close").addEventListener("click", async () => {
  if (confirm("结束本次服务并邀请用户评价？") && await act("POST", "/close")) { openConv(state.selected); refreshSoon(); }
});

async function sendReply() {
  // The box is emptied at once, so what the agent types while this one is sent is kept; a message
  // that fails comes back into an empty box.
  const box = $("reply-text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  const entry = await act("POST", "/messages", { text });
  if (entry) { appendEntry(entry); sendTyping(false); } else if (!box.value) box.value = text;
}
$("reply-form").addEventListener("submit", (ev) => { ev.preventDefault(); sendReply(); });
$("reply-text").addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); sendReply(); } });
$("canned").addEventListener("change", () => {
  if ($("canned").value) { $("reply-text").value = $("canned").value; $("canned").value = ""; $("reply-text").focus(); }
});

function sendTyping(on) {
  if (!state.ws || state.ws.readyState !== 1 || !state.selected) return;
  if (on === state.typingSent) return;
  state.typingSent = on;
  state.ws.send(JSON.stringify({ type: "typing", sender_id: state.selected, on }));
}
$("reply-text").addEventListener("input", () => {
  sendTyping(true);
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(() => sendTyping(false), 3000);
});

$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const box = $("note-text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  if (!await act("POST", "/notes", { text }) && !box.value) box.value = text;
});

const session = staffSession({
  key: "xs_agent_token", page: "console", allowed: (me) => me.roles.includes("agent"),
  refused: "该账号没有店小二（agent）权限 / This account is not an agent.", onStart: start,
  onEnd: () => { if (state.ws) { state.ws.onclose = null; state.ws.close(); } },
});
