// 服务运行看板: the service figures of a period over /api/stats/* (read-only, supervisor role).
// Every piece of text from the server is rendered with textContent, never as HTML; the charts are
// Apache ECharts served by the gateway itself, drawn as SVG with animation off.
"use strict";

const TOKEN_KEY = "xs_dashboard_token";
const ROLE = "supervisor";
// records/stats.py gives the 60 s target of "021"; how many requests must meet it is ours to say.
const RESPONSE_SHARE_TARGET = 0.95;
const state = { me: null, grain: "day", day: today(),
  start: null, end: null, channel: "", drill: null, charts: {}, generation: 0 };

function today() {
  // en-CA writes dates as YYYY-MM-DD; the figures' calendar is Shanghai's.
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric",
    month: "2-digit", day: "2-digit" }).format(new Date());
}

const isNum = (v) => typeof v === "number" && isFinite(v);
const pct = (v) => (isNum(v) ? (Math.round(v * 1000) / 10) + "%" : "—");
const secs = (v) => (isNum(v) ? v + " 秒" : "—");
const num = (v) => (isNum(v) ? String(v) : "—");

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
}

class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || "请求失败 / Request failed.");
    this.status = status;
    this.error = error || {};
  }
}

async function api(path, fresh) {
  const headers = session.auth();
  if (fresh) headers["Cache-Control"] = "no-cache";  // today's figures as of this instant
  const resp = await fetch("/api/stats" + path, { headers });
  if (resp.status === 401) {
    session.end();
    throw new ApiFailure(401, { message: "登录已失效，请重新登录 / Please sign in again." });
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiFailure(resp.status, data.error);
  return data;
}

function showError(e) {
  const box = $("error");
  box.textContent = e ? e.message : "";
  box.hidden = !e;
}

// --- signing in (../staff/staff.js) --------------------------------------------------------------
function start(me) {
  state.me = me;
  $("me").textContent = me.display_name || me.username;
  $("day").value = state.day;
  load();
}

// --- period and channel --------------------------------------------------------------------------
function query(extra) {
  const q = new URLSearchParams();
  if (state.start && state.end) { q.set("start", state.start); q.set("end", state.end); }
  else { q.set("grain", state.grain); q.set("day", state.day); }
  if (state.channel) q.set("channel", state.channel);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return "?" + q.toString();
}

function pressGrain() {
  const custom = Boolean(state.start && state.end);
  document.querySelectorAll("#grain button").forEach((b) => {
    b.setAttribute("aria-pressed", String(!custom && b.dataset.grain === state.grain));
  });
}

document.querySelectorAll("#grain button").forEach((b) => b.addEventListener("click", () => {
  state.grain = b.dataset.grain;
  state.start = state.end = null;
  load();
}));
$("day").addEventListener("change", () => {
  if (!$("day").value) return;
  state.day = $("day").value;
  state.start = state.end = null;
  load();
});
$("apply-range").addEventListener("click", () => {
  const start = $("start").value, end = $("end").value;
  if (!start || !end) { showError(new Error("请选择开始和结束日期 / Give both start and end.")); return; }
  state.start = start;
  state.end = end;
  load();
});
$("channel").addEventListener("change", () => { state.channel = $("channel").value; load(); });

function addChannels(rows) {
  const select = $("channel");
  const known = new Set([...select.options].map((o) => o.value));
  for (const row of rows) {
    if (row.channel && !known.has(row.channel)) {
      const option = el("option", row.channel);
      option.value = row.channel;
      select.append(option);
      known.add(row.channel);
    }
  }
}

// --- loading -------------------------------------------------------------------------------------
// fresh: the summary computes today's figures now (the refresh button); the other tables then
// read the same figures.
async function load(fresh) {
  pressGrain();
  const generation = ++state.generation;
  const q = query();
  try {
    const summary = await api("/summary" + q, fresh);
    const [daily, channels, services, agents] = await Promise.all([
      api("/daily" + q), api("/channels" + q), api("/services" + q), api("/agents" + q)]);
    if (generation !== state.generation) return;  // a newer choice of period is on its way
    showError(null);
    $("period-label").textContent = "期间：" + summary.period.label + (state.channel ? " · " + state.channel : " · 全部渠道");
    renderCards(summary);
    renderInbox(summary.inbox || []);
    renderCharts(summary, daily.rows);
    addChannels(channels.rows);
    renderChannels(channels.rows);
    renderServices(services.rows);
    renderAgents(agents.rows);
    if (state.drill) await drill(state.drill);
  } catch (e) {
    if (generation === state.generation) showError(e);
  }
}

// --- headline figures ----------------------------------------------------------------------------
function metric(id, value, sub, target, met) {
  const card = $(id);
  card.classList.remove("met", "miss");
  const v = card.querySelector(".value");
  v.textContent = value;
  if (met === true || met === false) {
    card.classList.add(met ? "met" : "miss");
    v.append(el("span", met ? "达标" : "未达标", "verdict"));
  }
  card.querySelector(".sub").textContent = sub;
  if (target !== undefined) card.querySelector(".target").textContent = target;
}

const atLeast = (v, target) => (isNum(v) ? v >= target : null);

function renderCards(s) {
  const r = s.resolution;
  metric("m-resolution", pct(r.rate), `已解决 ${r.resolved} / ${r.conversations} 个会话`,
    `目标 ≥ ${pct(r.target)}`, atLeast(r.rate, r.target));

  const h = s.handoff;
  metric("m-response", pct(h.within_target_share),
    `p50 ${secs(h.first_response_p50_s)} · p95 ${secs(h.first_response_p95_s)} · 未回复 ${h.unanswered}`,
    `目标：${pct(RESPONSE_SHARE_TARGET)} 在 ${h.target_s} 秒内首次回复`,
    atLeast(h.within_target_share, RESPONSE_SHARE_TARGET));

  const d = s.declarations;
  metric("m-prefill", pct(d.prefill_share), `已完成申报 ${d.finished} 份的平均值`,
    `目标 ≥ ${pct(d.prefill_target)}`, atLeast(d.prefill_share, d.prefill_target));

  const lat = s.latency || {};
  metric("m-volume", `${s.conversations} / ${s.turns}`,
    `应答耗时 p50 ${isNum(lat.p50_ms) ? lat.p50_ms + " ms" : "—"} · p95 ${isNum(lat.p95_ms) ? lat.p95_ms + " ms" : "—"}`,
    `解答 ${s.outcomes.answer} · 申报 ${s.outcomes.declaration} · 闲聊 ${s.outcomes.smalltalk}`, null);
  metric("m-clarify", pct(s.clarify_rate), `${s.outcomes.clarify} / ${s.turns} 轮`, undefined, null);
  metric("m-scope", pct(s.out_of_scope_rate), `${s.outcomes.out_of_scope} / ${s.turns} 轮`, undefined, null);
  metric("m-handoff", num(h.requests),
    `服务时间内 ${h.in_hours} · 非服务时间 ${h.outside_hours} · 限流 ${h.limited}`,
    `接入 ${h.claimed} · 排队中离开 ${h.left_queue} · 结束 ${h.closed}`, null);

  const m = s.messages;
  metric("m-messages", num(m.left),
    `次日答复 ${m.answered_next_day} 条（${pct(m.answered_next_day_share)}）· 已答复 ${m.answered}`,
    "目标：全部次日答复", atLeast(m.answered_next_day_share, 1));

  const g = s.ratings;
  metric("m-ratings", g.count ? `好评 ${pct(g.good_share)}` : "—",
    `${g.count} 条评价 · 平均 ${num(g.mean)} 分 · 差评 ${g.bad}`,
    "好评：4–5 分；差评：1–2 分", null);

  const fix = g.rectification;
  metric("m-rectify", `待整改 ${fix.open}`, `逾期 ${fix.overdue} · 已整改 ${fix.closed}`,
    `目标：差评 ${fix.deadline_days} 天内整改`, fix.open || fix.closed ? fix.overdue === 0 : null);

  metric("m-declarations", `${d.started} 份`,
    `完成 ${d.finished} · 放弃 ${d.abandoned} · 进行中 ${d.in_progress}`,
    `完成率 ${pct(d.finished_share)}`, null);

  const stale = (s.guides && s.guides.stale) || [];
  metric("m-guides", `${stale.length} 篇`,
    stale.length ? stale.join("、") : `共 ${s.guides ? s.guides.total : "—"} 篇指南，均在复核期内`,
    undefined, s.guides ? stale.length === 0 : null);
}

function renderInbox(groups) {
  const list = $("inbox");
  if (!groups.length) { list.replaceChildren(el("li", "收件箱没有待处理的问题组", "muted")); return; }
  list.replaceChildren(...groups.map((g) => {
    const li = el("li");
    li.append(el("span", g.count, "count"), el("span", g.example, "example"), el("span", when(g.last_seen), "meta"));
    return li;
  }));
}

// --- charts --------------------------------------------------------------------------------------
const EMPTY = { text: "本期没有数据", left: "center", top: "middle", textStyle: { color: "#9aa5b1", fontSize: 14, fontWeight: "normal" } };

function chart(id) {
  if (!window.echarts) return null;
  if (!state.charts[id]) state.charts[id] = window.echarts.init($(id), null, { renderer: "svg" });
  return state.charts[id];
}

function draw(id, option, empty) {
  const c = chart(id);
  if (!c) return;
  if (empty) {  // a blank chart says so instead of drawing empty axes
    option = { ...option, legend: { show: false }, xAxis: { ...option.xAxis, show: false },
      yAxis: [].concat(option.yAxis).map((a) => ({ ...a, show: false })) };
  }
  c.setOption({ animation: false, title: empty ? EMPTY : { show: false }, ...option }, true);
}

function renderCharts(s, daily) {
  const target = s.resolution.target;
  draw("chart-daily", {
    tooltip: { trigger: "axis" },
    legend: { data: ["会话数", "解决率"], top: 0 },
    grid: { left: 44, right: 48, top: 36, bottom: 28 },
    xAxis: { type: "category", data: daily.map((r) => r.day.slice(5)) },
    yAxis: [{ type: "value", name: "会话", minInterval: 1 },
      { type: "value", name: "解决率", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } }],
    series: [
      { name: "会话数", type: "bar", data: daily.map((r) => r.conversations), itemStyle: { color: "#4c8ee8" }, barMaxWidth: 28 },
      { name: "解决率", type: "line", yAxisIndex: 1, connectNulls: false, symbolSize: 8, itemStyle: { color: "#2b8a3e" },
        data: daily.map((r) => (isNum(r.resolution_rate) ? Math.round(r.resolution_rate * 1000) / 10 : null)),
        markLine: { symbol: "none", silent: true, lineStyle: { color: "#c92a2a", type: "dashed" },
          label: { position: "insideEndTop", formatter: "目标 " + pct(target) }, data: [{ yAxis: target * 100 }] } },
    ],
  }, !daily.some((r) => r.conversations));

  const by = s.ratings.by_score;
  const colors = { 1: "#c92a2a", 2: "#f76707", 3: "#fab005", 4: "#74b816", 5: "#2f9e44" };
  draw("chart-ratings", {
    tooltip: { trigger: "axis" },
    grid: { left: 44, right: 16, top: 24, bottom: 28 },
    xAxis: { type: "category", data: ["1 分", "2 分", "3 分", "4 分", "5 分"] },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: "评价", barMaxWidth: 40,
      data: [1, 2, 3, 4, 5].map((k) => ({ value: by[k] || 0, itemStyle: { color: colors[k] } })) }],
  }, !s.ratings.count);

  const steps = s.declarations.by_step || [];
  draw("chart-steps", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { data: ["到达", "在此中止"], top: 0 },
    grid: { left: 110, right: 24, top: 32, bottom: 24 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: steps.map((r) => r.field),
      axisLabel: { width: 100, overflow: "truncate" } },
    series: [
      { name: "到达", type: "bar", data: steps.map((r) => r.reached), itemStyle: { color: "#4c8ee8" } },
      { name: "在此中止", type: "bar", data: steps.map((r) => r.stopped), itemStyle: { color: "#c92a2a" } },
    ],
  }, !steps.length);
}

window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

// --- tables --------------------------------------------------------------------------------------
// A column: [key, format, class]; every cell is text.
function fill(tableId, rows, columns, onClick) {
  const body = $(tableId).tBodies[0];
  if (!rows.length) {
    const td = el("td", "本期没有数据", "empty");
    td.colSpan = columns.length;
    const tr = el("tr");
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map((row) => {
    const tr = el("tr");
    for (const [key, format, cls] of columns) {
      const value = row[key];
      const td = el("td", format ? format(value) : value ?? "—");
      if (cls) td.className = typeof cls === "function" ? cls(value) : cls;
      tr.append(td);
    }
    if (onClick) {
      tr.className = "row";
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onClick(row));
      tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onClick(row); });
    }
    return tr;
  }));
}

function renderChannels(rows) {
  fill("t-channels", rows, [["channel"], ["conversations", num, "num"], ["turns", num, "num"],
    ["resolution_rate", pct, "num"], ["clarify_rate", pct, "num"], ["out_of_scope_rate", pct, "num"],
    ["handoff_requests", num, "num"]]);
}

function renderServices(rows) {
  fill("t-services", rows, [["service_id", null, "mono"], ["title"], ["turns", num, "num"],
    ["conversations", num, "num"], ["answers", num, "num"], ["resolved", num, "num"], ["resolution_rate", pct, "num"]],
  (row) => openDrill({ key: "service_id", value: row.service_id,
    label: "事项 " + row.service_id + (row.title ? "（" + row.title + "）" : "") }));
}

function renderAgents(rows) {
  fill("t-agents", rows, [["agent"], ["claimed", num, "num"], ["closed", num, "num"], ["replies", num, "num"],
    ["first_response_p50_s", secs, "num"], ["first_response_p95_s", secs, "num"],
    ["within_target_share", pct, "num"], ["ratings", num, "num"], ["rating_mean", num, "num"], ["bad", num, "num"]],
  (row) => openDrill({ key: "agent", value: row.agent, label: "店小二 " + row.agent }));
}

function openDrill(target) {
  drill(target).then(() => $("drill").scrollIntoView({ block: "nearest" })).catch(showError);
}

// Drill-down: the conversations of one service or one agent in the period (ids, not transcripts).
async function drill(target) {
  state.drill = target;
  const data = await api("/conversations" + query({ [target.key]: target.value }));
  $("drill-title").textContent = `${target.label} 的会话（${data.rows.length}）`;
  fill("t-conversations", data.rows, [["conversation", null, "mono"], ["channel"], ["turns", num, "num"],
    ["answers", num, "num"], ["declared", num, "num"], ["handoffs", num, "num"], ["bad_ratings", num, "num"],
    ["resolved", (v) => (v ? "是" : "否"), (v) => (v ? "yes" : "no")], ["last", when]],
  (row) => showTranscript(row.conversation).catch(showError));
  $("transcript").hidden = true;
  $("drill").hidden = false;
  renderSelection();
}

// One conversation of the drill-down, as the citizen and 小申 wrote it, personal data masked by the API.
const ROLE_NAMES = { user: "市民", bot: "小申", agent: "店小二", system: "系统" };
async function showTranscript(id) {
  const data = await api("/conversations/" + encodeURIComponent(id) + "/messages");
  $("transcript-title").textContent = `会话 ${id}（${data.messages.length} 条）`;
  $("transcript-list").replaceChildren(...data.messages.map((m) => {
    const li = el("li", "", "msg " + (ROLE_NAMES[m.role] ? m.role : "system"));
    li.append(el("span", (m.author || ROLE_NAMES[m.role] || m.role) + "：", "who"), el("span", m.text || ""));
    return li;
  }));
  $("transcript").hidden = false;
}

function renderSelection() {
  for (const [table, key] of [["t-services", "service_id"], ["t-agents", "agent"]]) {
    $(table).querySelectorAll("tbody tr.row").forEach((tr) => {
      const on = state.drill && state.drill.key === key && tr.cells[0].textContent === state.drill.value;
      tr.classList.toggle("selected", Boolean(on));
    });
  }
}

$("drill-close").addEventListener("click", () => {
  state.drill = null;
  $("drill").hidden = true;
  renderSelection();
});

// --- CSV export: fetched with the bearer token, handed to the browser as a file --------------------
async function download(name) {
  const extra = { format: "csv" };
  if (name === "conversations" && state.drill) extra[state.drill.key] = state.drill.value;
  try {
    const resp = await fetch("/api/stats/" + name + query(extra), { headers: session.auth() });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({}));
      throw new ApiFailure(resp.status, data.error);
    }
    const disposition = resp.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const url = URL.createObjectURL(await resp.blob());
    const a = el("a");
    a.href = url;
    a.download = match ? match[1] : `xiaoshen-${name}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (e) {
    showError(e);
  }
}
document.querySelectorAll("button.export").forEach((b) => b.addEventListener("click", () => download(b.dataset.table)));

const session = staffSession({
  key: TOKEN_KEY, page: "board", allowed: (me) => me.roles.includes(ROLE),
  refused: "该账号不能查看服务运行看板：需要 supervisor 角色 / This needs the supervisor role.",
  onStart: start, onEnd: () => { state.me = null; },
});

// Refresh: now on the button; every minute by itself while the page is in view.
$("refresh").addEventListener("click", () => load(true));
setInterval(() => {
  if (session.token && document.visibilityState === "visible" && !$("board").hidden) load(false);
}, 60_000);
