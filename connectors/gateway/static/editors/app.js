// 指南编辑工作台: guides of record, drafts, review, history with diffs, the unanswered-questions
// inbox, synonyms, import/export and the audit log, over /api/kb. Every piece of text from the
// server is rendered with textContent, never as HTML.
"use strict";

const SECTIONS = [["overview", "办理概述"], ["eligibility", "申请条件"], ["materials", "所需材料"],
  ["process", "办理流程"], ["time_limit", "办理时限"], ["fee", "收费标准"], ["channel", "办理渠道"],
  ["contact", "咨询电话"]];
const STATUS = { published: "已发布", unpublished: "已下架", new: "未发布" };
const STATE = { draft: "草稿", submitted: "待审核", scheduled: "定时发布", published: "已发布",
  rejected: "已退回", superseded: "历史版本", unpublished: "已下架" };
const REASON = { out_of_scope: "答不上", clarify: "需用户选择", low_confidence: "把握不高",
  correction: "用户纠正", bad_rating: "差评" };
const state = { me: null, guides: [], guide: null,
  history: [], base: null, draft: null, fromInbox: null };

function button(text, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString("zh-CN", { hour12: false });
}

class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || "请求失败");
    this.status = status;
    this.error = error || {};
  }
}

async function api(method, path, body, raw) {
  const headers = session.auth();
  let payload;
  if (raw) { payload = raw.body; headers["Content-Type"] = raw.type; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  const resp = await fetch("/api/kb" + path, { method, headers, body: payload });
  if (resp.status === 401) { session.end(); throw new ApiFailure(401, { message: "登录已失效，请重新登录" }); }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiFailure(resp.status, data.error);
  return data;
}

async function download(path, filename) {
  const resp = await fetch("/api/kb" + path, { headers: session.auth() });
  if (!resp.ok) { toast("下载失败"); return; }
  const url = URL.createObjectURL(await resp.blob());
  const a = el("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const isReviewer = () => state.me && (state.me.roles.includes("reviewer") || state.me.roles.includes("admin"));

// --- signing in (../staff/staff.js) --------------------------------------------------------------
function start(me) {
  state.me = me;
  $("me").textContent = me.display_name + (isReviewer() ? "（审核人）" : "（编辑）");
  document.querySelectorAll("[data-role=reviewer]").forEach((n) => { n.hidden = !isReviewer(); });
  showTab("guides");
  refreshCounts();
}

// --- tabs ----------------------------------------------------------------------------------------
const LOADERS = { guides: loadGuides, review: loadReview, inbox: loadInbox, synonyms: loadSynonyms,
  exchange: loadDigest, audit: loadAudit };

function showTab(name) {
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== "tab-" + name; });
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  if (LOADERS[name]) LOADERS[name]().catch((e) => toast(e.message));
}
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

async function refreshCounts() {
  try {
    const [review, inbox] = await Promise.all([api("GET", "/review"), api("GET", "/inbox?status=open&limit=500")]);
    $("review-count").textContent = review.count;
    $("inbox-count").textContent = inbox.count;
  } catch (e) { /* the counts are a convenience */ }
}

// --- guide list ----------------------------------------------------------------------------------
async function loadGuides() {
  const data = await api("GET", "/guides");
  state.guides = data.guides;
  const live = $("live");
  if (data.version === null) { live.textContent = "实时通道不可用"; live.className = "pill bad"; }
  else {
    const ok = data.live_version >= data.version;
    live.textContent = ok ? "小申已使用最新版本" : "小申正在更新…";
    live.className = "pill " + (ok ? "ok" : "");
  }
  renderGuides();
}

function renderGuides() {
  const text = $("filter-text").value.trim().toLowerCase();
  const status = $("filter-status").value;
  const staleOnly = $("filter-stale").checked;
  const rows = state.guides.filter((g) => {
    if (text && ![g.title, g.id, g.owner_department, g.theme].some((v) => (v || "").toLowerCase().includes(text))) return false;
    if (status === "drafts" ? g.open_drafts === 0 : status && g.status !== status) return false;
    return !staleOnly || g.stale;
  });
  const stale = state.guides.filter((g) => g.stale).length;
  $("guide-summary").textContent = `共 ${state.guides.length} 篇，显示 ${rows.length} 篇；逾期未复核 ${stale} 篇`;
  const body = $("guide-table").tBodies[0];
  body.replaceChildren(...rows.map((g) => {
    const tr = el("tr");
    tr.dataset.id = g.id;
    const name = el("td");
    name.append(el("strong", g.title), el("span", g.id, "meta"));
    const due = el("td", g.review_due || "—");
    if (g.stale) { due.className = "stale"; due.append(el("span", "逾期", "tag bad")); }
    tr.append(name, el("td", STATUS[g.status] || g.status), el("td", "v" + g.version),
      el("td", g.open_drafts ? `${g.open_drafts} 篇` : ""), el("td", g.owner_department || "未指定"), due,
      el("td", g.updated_by ? `${g.updated_by} · ${when(g.updated_at)}` : "随系统发布"));
    tr.addEventListener("click", () => openGuide(g.id));
    return tr;
  }));
}
["filter-text", "filter-status", "filter-stale"].forEach((id) => $(id).addEventListener("input", renderGuides));
$("back").addEventListener("click", () => showTab("guides"));

// --- one guide: form, preview, history -------------------------------------------------------------
function sectionsForm() {
  const box = $("f-sections");
  box.replaceChildren(...SECTIONS.map(([key, label]) => {
    const l = el("label", label + " ");
    const t = el("textarea");
    t.id = "f-s-" + key;
    t.rows = key === "materials" || key === "process" ? 6 : 3;
    t.maxLength = 4000;
    t.dataset.field = "sections." + key;
    l.append(t);
    return l;
  }));
}
sectionsForm();

function situationRow(s) {
  const box = el("div", null, "situation");
  const field = (name, label, rows) => {
    const l = el("label", label + " ");
    const input = rows ? el("textarea") : el("input");
    if (rows) input.rows = rows;
    input.dataset.key = name;
    input.value = (s && s[name]) || "";
    l.append(input);
    return l;
  };
  box.append(field("name", "情形名称"), field("materials", "材料（与一般情形不同的部分）", 2),
    field("process", "流程", 2), field("note", "说明", 2), button("删除此情形", () => box.remove(), "small ghost"));
  return box;
}
$("add-situation").addEventListener("click", () => $("f-situations").append(situationRow(null)));

const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

function fillForm(guide) {
  $("f-id").value = guide.id || "";
  $("f-id").readOnly = !!state.guide;
  $("f-title").value = guide.title || "";
  $("f-audience").value = guide.audience || "citizen";
  $("f-theme").value = guide.theme || "";
  SECTIONS.forEach(([key]) => { $("f-s-" + key).value = (guide.sections && guide.sections[key]) || ""; });
  $("f-situations").replaceChildren(...(guide.situations || []).map(situationRow));
  $("f-aliases").value = (guide.aliases || []).join("\n");
  $("f-samples").value = (guide.sample_questions || []).join("\n");
  $("f-source").value = guide.source || "";
  $("f-reviewed").value = guide.reviewed || new Date().toISOString().slice(0, 10);
  $("f-note").value = "";
  clearErrors();
}

function readForm() {
  const sections = {};
  SECTIONS.forEach(([key]) => { sections[key] = $("f-s-" + key).value; });
  const situations = [...$("f-situations").children].map((box) => {
    const s = {};
    box.querySelectorAll("[data-key]").forEach((i) => { if (i.value.trim()) s[i.dataset.key] = i.value; });
    return s;
  });
  return { id: $("f-id").value.trim(), title: $("f-title").value, audience: $("f-audience").value,
    theme: $("f-theme").value, sections, situations, aliases: lines($("f-aliases").value),
    sample_questions: lines($("f-samples").value), source: $("f-source").value, reviewed: $("f-reviewed").value };
}

function clearErrors() {
  $("form-error").textContent = "";
  $("conflict").hidden = true;
  document.querySelectorAll("#guide-form .field-error").forEach((n) => n.remove());
  document.querySelectorAll("#guide-form .invalid").forEach((n) => n.classList.remove("invalid"));
}

function showFieldErrors(error) {
  $("form-error").textContent = error.message || "保存失败";
  for (const f of error.fields || []) {
    const path = f.field.replace(/^guide\./, "");
    const top = path.split(".").slice(0, path.startsWith("sections.") ? 2 : 1).join(".");
    const input = document.querySelector(`#guide-form [data-field="${CSS.escape(top)}"]`);
    if (!input) continue;
    input.classList.add("invalid");
    input.insertAdjacentElement("afterend", el("span", f.message, "field-error"));
  }
}

function newGuide(seed) {
  state.guide = null;
  state.history = [];
  state.base = null;
  state.draft = null;
  $("guide-heading").textContent = "新建指南";
  $("guide-state").textContent = "新";
  $("form-base").textContent = "新指南：保存为草稿，提交后由审核人发布。";
  fillForm(seed || {});
  $("history").replaceChildren();
  $("version-box").hidden = true;
  $("owner-box").hidden = true;
  $("publish-box").hidden = true;
  $("preview").hidden = true;
  showTab("guide");
}
$("new-guide").addEventListener("click", () => { state.fromInbox = null; newGuide(); });

async function openGuide(id) {
  const guide = state.guides.find((g) => g.id === id);
  state.guide = guide || { id };
  state.fromInbox = null;
  showTab("guide");
  $("preview").hidden = true;
  $("version-box").hidden = true;
  await loadGuide(id);
}

async function loadGuide(id) {
  const [history, list] = await Promise.all([api("GET", `/guides/${encodeURIComponent(id)}/history`), api("GET", "/guides")]);
  state.guides = list.guides;
  state.guide = list.guides.find((g) => g.id === id) || state.guide;
  state.history = history;
  const head = history[0];
  const info = state.guide;
  $("guide-heading").textContent = `${info.title}（${id}）`;
  $("guide-state").textContent = STATUS[info.status] || info.status;
  const text = await api("GET", `/guides/${encodeURIComponent(id)}/versions/${head.number}`);
  state.base = head.number;
  state.draft = head.state === "draft" ? head.number : null;
  fillForm(text.guide);
  $("form-base").textContent = state.draft
    ? `正在编辑草稿 v${head.number}（${head.author}，${when(head.created_at)}）`
    : `基于 v${head.number}（${STATE[head.state] || head.state}）修改，保存后成为新草稿`;
  $("owner-box").hidden = false;
  $("owner-text").textContent = `负责部门：${info.owner_department || "未指定"}；复核截止：${info.review_due || "—"}`
    + (info.stale ? "（已逾期，请复核）" : "");
  $("owner-dept").value = info.owner_department || "";
  $("publish-box").hidden = !isReviewer() || info.status !== "published";
  renderHistory();
}

function renderHistory() {
  $("history").replaceChildren(...state.history.map((v) => {
    const li = el("li");
    li.append(el("strong", `v${v.number} · ${STATE[v.state] || v.state}`),
      el("span", `${v.author} · ${when(v.created_at)}`, "meta"), el("span", v.note, "note"));
    if (v.review_comment) li.append(el("span", `审核意见：${v.review_comment}`, "meta"));
    if (v.effective_at && v.state === "scheduled") li.append(el("span", `生效：${when(v.effective_at)}`, "meta"));
    li.addEventListener("click", () => showVersion(v));
    return li;
  }));
}

function renderDiff(changes, box) {
  if (!changes.length) { box.replaceChildren(el("p", "与上一版相比没有改动", "muted")); return; }
  box.replaceChildren(...changes.map((c) => {
    const d = el("div", null, "change");
    d.append(el("h4", c.label));
    if ("before" in c) {
      d.append(el("pre", c.before === null || c.before === undefined ? "（无）" : c.before, "before"),
        el("pre", c.after === null || c.after === undefined ? "（删除）" : c.after, "after"));
    }
    for (const [key, label, cls] of [["added", "新增", "after"], ["removed", "删除", "before"], ["changed", "修改", ""]]) {
      if (c[key] && c[key].length) d.append(el("p", `${label}：${c[key].join("；")}`, cls));
    }
    return d;
  }));
}

async function showVersion(v) {
  const id = state.guide.id;
  $("version-box").hidden = false;
  $("version-title").textContent = `v${v.number} · ${STATE[v.state] || v.state}`;
  $("version-meta").textContent = `${v.author}，${when(v.created_at)}：${v.note}`
    + (v.reviewer ? `；审核 ${v.reviewer} ${when(v.reviewed_at)}` : "");
  const diff = await api("GET", `/guides/${encodeURIComponent(id)}/diff?to=${v.number}`);
  renderDiff(diff.changes, $("version-diff"));
  const actions = $("version-actions");
  actions.replaceChildren();
  if (isReviewer() && v.state === "submitted" && v.author !== state.me.username) {
    actions.append(...reviewButtons(id, v, () => loadGuide(id)));
  }
  if (isReviewer() && ["published", "superseded", "unpublished"].includes(v.state)) {
    actions.append(button(`回滚到 v${v.number}`, async () => {
      const note = prompt(`回滚到 v${v.number} 的原因（必填）`);
      if (!note) return;
      try {
        const out = await api("POST", `/guides/${encodeURIComponent(id)}/rollback`, { number: v.number, note });
        toast(`已发布 v${out.number}（内容同 v${v.number}）` + (out.live ? "，小申已在使用" : ""));
        loadGuide(id);
      } catch (e) { toast(e.message); }
    }, "small ghost"));
  }
}

function reviewButtons(id, v, after) {
  const at = el("input");
  at.type = "datetime-local";
  at.setAttribute("aria-label", "生效时间（留空则立即发布）");
  at.title = "生效时间（留空则立即发布）";
  const approve = button("批准发布", async () => {
    const body = { comment: null };
    if (at.value) body.effective_at = at.value;
    try {
      const out = await api("POST", `/guides/${encodeURIComponent(id)}/versions/${v.number}/approve`, body);
      toast(out.state === "scheduled" ? `v${v.number} 将于 ${when(out.effective_at)} 发布`
        : `v${v.number} 已发布` + (out.live ? "，小申已在使用" : ""));
      refreshCounts();
      after();
    } catch (e) { toast(e.message); }
  }, "small");
  const reject = button("退回", async () => {
    const comment = prompt("退回意见（必填，作者会看到）");
    if (!comment) return;
    try {
      await api("POST", `/guides/${encodeURIComponent(id)}/versions/${v.number}/reject`, { comment });
      toast(`v${v.number} 已退回`);
      refreshCounts();
      after();
    } catch (e) { toast(e.message); }
  }, "small danger");
  const label = el("label", "生效时间（可选） ", "check");
  label.append(at);
  return [label, approve, reject];
}

async function saveDraft() {
  clearErrors();
  const guide = readForm();
  const note = $("f-note").value.trim();
  if (!note) { showFieldErrors({ message: "请填写修改说明 / A change note is required.", fields: [{ field: "note", message: "必填" }] }); return null; }
  if (!state.guide && !/^[a-z0-9][a-z0-9-]{1,63}$/.test(guide.id)) {
    showFieldErrors({ message: "编号只能用小写字母、数字和连字符", fields: [{ field: "id", message: "如 dog-license" }] });
    return null;
  }
  const id = encodeURIComponent(guide.id);
  try {
    const out = state.draft
      ? await api("PUT", `/guides/${id}/drafts/${state.draft}`, { guide, note, base: state.draft })
      : await api("POST", `/guides/${id}/drafts`, { guide, note, base: state.base });
    toast(`草稿 v${out.number} 已保存（市民看不到，提交审核并批准后才发布）`);
    if (state.fromInbox) {
      await api("POST", `/inbox/${state.fromInbox}/drafted`, { guide_id: guide.id }).catch(() => {});
      state.fromInbox = null;
    }
    state.guide = { id: guide.id };
    await loadGuide(guide.id);
    return out;
  } catch (e) {
    if (e.status === 409 && e.error.code === "version_conflict") {
      $("form-error").textContent = e.message;
      $("conflict").hidden = false;
      renderDiff((e.error.detail && e.error.detail.changes) || [], $("conflict-diff"));
    } else if (e.status === 422) showFieldErrors(e.error);
    else $("form-error").textContent = e.message;
    return null;
  }
}
$("guide-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveDraft(); });
$("conflict-reload").addEventListener("click", () => state.guide && loadGuide(state.guide.id));

$("submit-review").addEventListener("click", async () => {
  if (!state.draft || $("f-note").value.trim()) {
    if (!(await saveDraft())) return;
  }
  try {
    await api("POST", `/guides/${encodeURIComponent(state.guide.id)}/versions/${state.draft}/submit`);
    toast("已提交审核，等待审核人批准");
    refreshCounts();
    loadGuide(state.guide.id);
  } catch (e) { toast(e.message); }
});

$("unpublish").addEventListener("click", async () => {
  const note = prompt("下架原因（必填）：下架后小申不再用这篇指南回答");
  if (!note) return;
  try {
    await api("POST", `/guides/${encodeURIComponent(state.guide.id)}/unpublish`, { note });
    toast("已下架");
    loadGuide(state.guide.id);
  } catch (e) { toast(e.message); }
});

$("owner-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { owner_department: $("owner-dept").value.trim() || null };
  if ($("owner-interval").value) body.review_interval_days = Number($("owner-interval").value);
  try {
    await api("PATCH", `/guides/${encodeURIComponent(state.guide.id)}/owner`, body);
    toast("已保存负责部门");
    loadGuide(state.guide.id);
  } catch (e) { toast(e.message); }
});

// The citizen's view: official title and sections, no aliases or sample questions.
function renderPreview(guide, version) {
  const art = $("preview-body");
  const head = el("header");
  head.append(el("h1", guide.title),
    el("p", `${version ? "版本 v" + version + " · " : ""}审核日期 ${guide.reviewed} · 来源：${guide.source}`, "muted"));
  const parts = [head];
  SECTIONS.forEach(([key, label]) => {
    const s = el("section");
    s.append(el("h2", label), el("p", guide.sections[key] || "（未填写）", "text"));
    parts.push(s);
  });
  for (const sit of guide.situations || []) {
    const s = el("section");
    s.append(el("h2", "情形：" + (sit.name || "")));
    for (const [k, label] of [["materials", "材料"], ["process", "流程"], ["note", "说明"]]) {
      if (sit[k]) s.append(el("p", `${label}：${sit[k]}`, "text"));
    }
    parts.push(s);
  }
  art.replaceChildren(...parts);
  $("preview").hidden = false;
  $("preview").scrollIntoView({ behavior: "smooth" });
}
$("show-preview").addEventListener("click", () => renderPreview(readForm(), state.draft || null));
$("close-preview").addEventListener("click", () => { $("preview").hidden = true; });

// --- review queue ------------------------------------------------------------------------------------
async function loadReview() {
  const data = await api("GET", "/review");
  $("review-count").textContent = data.count;
  const list = $("review-list");
  if (!data.items.length) { list.replaceChildren(el("li", "没有待审核的版本", "muted")); return; }
  list.replaceChildren(...data.items.map((v) => {
    const li = el("li", null, "card");
    const title = el("h3", `${v.title}（${v.guide_id}） v${v.number}`);
    li.append(title, el("p", `${v.author} 提交：${v.note}` + (v.against ? `；对比已发布的 v${v.against}` : "；新指南"), "muted"));
    const diff = el("div");
    renderDiff(v.changes, diff);
    li.append(diff);
    const actions = el("div", null, "buttons");
    if (isReviewer() && v.author !== state.me.username) actions.append(...reviewButtons(v.guide_id, v, loadReview));
    else if (isReviewer()) actions.append(el("span", "这是您写的版本，需由其他审核人批准", "muted"));
    actions.append(button("打开指南", () => openGuide(v.guide_id), "small ghost"));
    li.append(actions);
    return li;
  }));
}

// --- inbox -------------------------------------------------------------------------------------------
$("inbox-status").addEventListener("change", () => loadInbox().catch((e) => toast(e.message)));

async function loadInbox() {
  const status = $("inbox-status").value;
  const [data, list] = await Promise.all([api("GET", `/inbox?status=${status}&limit=200`), api("GET", "/guides")]);
  state.guides = list.guides;
  if (status === "open") $("inbox-count").textContent = data.count;
  const ul = $("inbox-list");
  if (!data.groups.length) { ul.replaceChildren(el("li", "没有问题组", "muted")); return; }
  ul.replaceChildren(...data.groups.map(inboxCard));
}

function inboxCard(g) {
  const li = el("li", null, "card inbox");
  li.dataset.group = g.id;
  const pick = el("input");
  pick.type = "checkbox";
  pick.className = "merge-pick";
  pick.value = g.id;
  pick.setAttribute("aria-label", "选中以合并");
  const head = el("div", null, "inbox-head");
  head.append(pick, el("strong", g.example), el("span", `${g.count} 次`, "count"));
  const reasons = Object.entries(g.reasons).map(([k, n]) => `${REASON[k] || k} ${n}`).join("，");
  li.append(head, el("p", `${reasons} · 首次 ${when(g.first_seen)} · 最近 ${when(g.last_seen)}`
    + (g.status !== "open" ? ` · ${g.status}${g.guide_id ? "（" + g.guide_id + "）" : ""}` : ""), "muted"));
  const ex = el("ul", null, "examples");
  ex.append(...g.examples.map((e) => el("li", `${e.text}（${REASON[e.reason] || e.reason}，${e.channel || "—"}，${when(e.at)}）`)));
  li.append(ex);
  const actions = el("div", null, "buttons");
  if (g.status === "open") {
    const select = el("select");
    select.setAttribute("aria-label", "加入哪篇指南");
    select.append(el("option", "加入指南的示例问题…"));
    select.firstChild.value = "";
    state.guides.filter((x) => x.status === "published").forEach((x) => {
      const o = el("option", x.title);
      o.value = x.id;
      select.append(o);
    });
    actions.append(select, button("加入", async () => {
      if (!select.value) { toast("请先选择指南"); return; }
      try {
        const out = await api("POST", `/inbox/${g.id}/attach`, { guide_id: select.value });
        toast(`已加入 ${out.added.length} 条示例问题` + (out.live ? "，小申已按此回答" : ""));
        loadInbox();
      } catch (e) { toast(e.message); }
    }, "small"),
    button("不属于本平台", async () => {
      try {
        const out = await api("POST", `/inbox/${g.id}/out-of-scope`);
        toast("已标记：小申今后会直接告知不属于可解答事项" + (out.live ? "（已生效）" : ""));
        loadInbox();
      } catch (e) { toast(e.message); }
    }, "small ghost"),
    button("据此新建指南", () => {
      state.fromInbox = g.id;
      newGuide({ sample_questions: [...new Set([g.example, ...g.examples.map((e) => e.text)])] });
    }, "small ghost"));
  } else if (g.status !== "merged") {
    actions.append(button("重新打开", async () => {
      try { await api("POST", `/inbox/${g.id}/reopen`); loadInbox(); } catch (e) { toast(e.message); }
    }, "small ghost"));
  }
  li.append(actions);
  return li;
}

$("merge").addEventListener("click", async () => {
  const ids = [...document.querySelectorAll(".merge-pick:checked")].map((c) => Number(c.value));
  if (ids.length < 2) { toast("请至少选中两个问题组"); return; }
  try {
    const out = await api("POST", "/inbox/merge", { into: ids[0], groups: ids.slice(1) });
    toast(`已合并为一组，共 ${out.count} 次`);
    loadInbox();
  } catch (e) { toast(e.message); }
});

// --- synonyms --------------------------------------------------------------------------------------
const splitTerms = (text) => text.split(/[,，、;；\s=]+/).map((s) => s.trim()).filter(Boolean);

async function loadSynonyms() {
  const data = await api("GET", "/synonyms");
  const ul = $("synonym-list");
  if (!data.groups.length) { ul.replaceChildren(el("li", "还没有同义词组", "muted")); return; }
  ul.replaceChildren(...data.groups.map((g) => {
    const li = el("li", null, "card synonym");
    li.dataset.group = g.id;
    const terms = el("div", null, "terms");
    terms.append(...g.terms.map((t) => el("span", t, "tag")));
    li.append(terms, el("p", `${g.note ? g.note + " · " : ""}${g.updated_by}，${when(g.updated_at)}`, "muted"));
    const edit = el("input");
    edit.value = g.terms.join("，");
    edit.setAttribute("aria-label", "修改同义词");
    li.append(el("div", null, "buttons"));
    li.lastChild.append(edit, button("保存修改", async () => {
      try { await api("PUT", `/synonyms/${g.id}`, { terms: splitTerms(edit.value), note: g.note }); toast("已保存，立即生效"); loadSynonyms(); }
      catch (e) { toast(e.message); }
    }, "small"), button("删除", async () => {
      if (!confirm(`删除同义词组“${g.terms.join(" = ")}”？`)) return;
      try { await api("DELETE", `/synonyms/${g.id}`); toast("已删除"); loadSynonyms(); } catch (e) { toast(e.message); }
    }, "small danger"));
    return li;
  }));
}

$("synonym-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("synonym-error").textContent = "";
  try {
    const out = await api("POST", "/synonyms", { terms: splitTerms($("synonym-terms").value), note: $("synonym-note").value });
    toast(`已添加：${out.terms.join(" = ")}` + (out.live ? "，小申已按此检索" : ""));
    $("synonym-terms").value = "";
    $("synonym-note").value = "";
    loadSynonyms();
  } catch (e) { $("synonym-error").textContent = e.message; }
});

// --- import / export / digest --------------------------------------------------------------------------
document.querySelectorAll("button.export").forEach((b) => b.addEventListener("click",
  () => download(`/export?format=${b.dataset.format}`, `xiaoshen-guides.${b.dataset.format}`)));

$("import").addEventListener("click", async () => {
  const file = $("import-file").files[0];
  const report = $("import-report");
  report.replaceChildren();
  if (!file) { toast("请选择文件"); return; }
  const ext = file.name.split(".").pop().toLowerCase();
  const format = ext === "yml" ? "yaml" : ext;
  if (!["xlsx", "json", "yaml"].includes(format)) { toast("只支持 .xlsx、.json、.yaml 文件"); return; }
  const mode = $("import-replace").checked ? "replace" : "merge";
  try {
    const type = format === "json" ? "application/json" : "application/octet-stream";
    const out = await api("POST", `/import?mode=${mode}&format=${format}`, undefined, { body: await file.arrayBuffer(), type });
    report.append(el("p", `导入完成：新增 ${out.created.length}，更新 ${out.replaced.length}，下架 ${out.deleted.length}，未变 ${out.unchanged}`
      + (out.live ? "；小申已在使用" : "")));
  } catch (e) {
    report.append(el("p", e.message, "error"));
    const ul = el("ul", null, "errors");
    ul.append(...(e.error.fields || []).map((f) => el("li", `${f.field}：${f.message}`)));
    report.append(ul);
  }
});

const STAGES = { dictionary: "更新分词词典", index: "建立检索索引", calibration: "校准置信度",
  ranker: "训练排序模型", done: "完成", failed: "失败" };
const STAGE_SHARE = { dictionary: 5, index: 20, calibration: 60, ranker: 90, done: 100, failed: 100 };

function showReindex(data) {
  const nodes = Object.entries(data.nodes);
  $("reindex-nodes").replaceChildren(...nodes.map(([node, p]) =>
    el("li", `${node}：${STAGES[p.stage] || p.stage}（${p.done}/${p.total} 篇指南）`)));
  const shares = nodes.map(([, p]) => STAGE_SHARE[p.stage] || 0);
  $("reindex-bar").value = shares.length ? Math.min(...shares) : 0;
}

$("reindex").addEventListener("click", async () => {
  const go = $("reindex");
  go.disabled = true;
  $("reindex-bar").hidden = false;
  $("reindex-bar").value = 0;
  try {
    await api("POST", "/reindex");
    const deadline = Date.now() + 180000;
    for (;;) {
      const data = await api("GET", "/reindex");
      showReindex(data);
      if (data.done) { toast("检索索引已重建，小申已在使用"); break; }
      if (Object.values(data.nodes).some((p) => p.stage === "failed")) { toast("重建失败，请查看应答进程日志"); break; }
      if (Date.now() > deadline) { toast("重建仍在进行，请稍后刷新查看"); break; }
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (e) { toast(e.message); }
  go.disabled = false;
});

async function loadDigest() {
  const resp = await fetch("/api/kb/digest?format=text", { headers: session.auth() });
  $("digest").textContent = resp.ok ? await resp.text() : "摘要暂不可用";
}

// --- audit ---------------------------------------------------------------------------------------------
async function loadAudit() {
  const data = await api("GET", "/audit");
  const body = $("audit-table").tBodies[0];
  body.replaceChildren(...data.entries.slice(-500).reverse().map((e) => {
    const tr = el("tr");
    tr.append(el("td", when(e.at)), el("td", e.actor), el("td", e.action), el("td", e.target),
      el("td", JSON.stringify(e.detail), "detail"));
    return tr;
  }));
}
$("audit-csv").addEventListener("click", () => download("/audit?format=csv", "xiaoshen-audit.csv"));

const session = staffSession({
  key: "xs_editor_token", page: "workspace",
  allowed: (me) => me.roles.some((r) => ["editor", "reviewer", "admin"].includes(r)),
  refused: "该账号没有指南编辑（editor）权限 / This account is not an editor.", onStart: start,
});
