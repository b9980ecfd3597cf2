/*
 * 小申 web widget — embed with one tag:
 *   <script src="https://GATEWAY/widget/xiaoshen.js" defer></script>
 * Options as data- attributes: data-target="element-id" (render inside that element instead of a
 * floating button), data-title, data-greet="false" (no greeting on a new conversation).
 *
 * Safety: every message is rendered with textContent; no HTML from a message is ever parsed.
 * Reliability: every stored message has a sequence number; after a reload or reconnect the widget
 * asks for everything after the last one it shows, and each message it sends carries a client id
 * so a resend is answered once.
 */
(function () {
  "use strict";
  if (window.XiaoShen && window.XiaoShen.mounted) return;

  var script = document.currentScript;
  var assetBase = script.src.replace(/xiaoshen\.js(\?.*)?$/, "");
  var origin = new URL(script.src).origin;
  var opts = {
    target: script.getAttribute("data-target"),
    title: script.getAttribute("data-title") || "小申",
    greet: script.getAttribute("data-greet") !== "false"
  };
  var KEY_SESSION = "xiaoshen.session";
  var KEY_TOKEN = "xiaoshen.token";  // the conversation token: with the session id, it lets us back in
  var KEY_LARGE = "xiaoshen.large";
  var SECTION_LABELS = {
    overview: "办理概述", eligibility: "申请条件", materials: "所需材料", process: "办理流程",
    time_limit: "办理时限", fee: "收费标准", channel: "办理渠道", contact: "咨询电话"
  };

  // ---- small DOM helpers (textContent only) -------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the conversation simply does not survive a reload */ }
  }
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function guidePayload(serviceId, section) {
    return "/ask_guide" + JSON.stringify({ service_id: serviceId, section: section });
  }

  // ---- the panel -----------------------------------------------------------------------------
  var css = el("link");
  css.rel = "stylesheet";
  css.href = assetBase + "xiaoshen.css";
  document.head.appendChild(css);

  var root = el("section", "xs-widget");
  root.setAttribute("aria-label", opts.title + " 智能客服");
  root.lang = "zh-CN";
  var header = el("header", "xs-header");
  var titleBox = el("div", "xs-titlebox");
  titleBox.appendChild(el("h2", "xs-title", opts.title));
  titleBox.appendChild(el("span", "xs-subtitle", "一网通办智能客服"));
  header.appendChild(titleBox);
  var status = el("span", "xs-status", "连接中…");
  status.setAttribute("role", "status");
  header.appendChild(status);
  var largeBtn = el("button", "xs-large-toggle", "大字");
  largeBtn.type = "button";
  largeBtn.title = "大字模式（适老化）";
  largeBtn.setAttribute("aria-pressed", "false");
  header.appendChild(largeBtn);
  var closeBtn = null;
  if (!opts.target) {
    closeBtn = el("button", "xs-close", "×");
    closeBtn.type = "button";
    closeBtn.setAttribute("aria-label", "关闭对话窗口");
    header.appendChild(closeBtn);
  }
  root.appendChild(header);

  var banner = el("div", "xs-handoff");
  banner.hidden = true;
  banner.setAttribute("role", "status");
  root.appendChild(banner);

  var log = el("ol", "xs-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "对话记录");
  log.tabIndex = 0;
  root.appendChild(log);

  var typing = el("div", "xs-typing");
  typing.hidden = true;
  typing.setAttribute("aria-live", "polite");
  root.appendChild(typing);

  var form = el("form", "xs-form");
  var inputId = "xs-input-" + randomId().slice(0, 6);
  var label = el("label", "xs-sr-only", "输入您的问题");
  label.htmlFor = inputId;
  var input = el("input", "xs-input");
  input.id = inputId;
  input.type = "text";
  input.maxLength = 2000;
  input.autocomplete = "off";
  input.placeholder = "请输入您的问题，如：开公司要带什么材料？";
  var sendBtn = el("button", "xs-send", "发送");
  sendBtn.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendBtn);
  root.appendChild(form);

  var launcher = null;
  function mount() {
    if (opts.target) {
      var host = document.getElementById(opts.target);
      root.classList.add("xs-embedded");
      (host || document.body).appendChild(root);
    } else {
      launcher = el("button", "xs-launcher", "咨询" + opts.title);
      launcher.type = "button";
      launcher.setAttribute("aria-expanded", "false");
      root.classList.add("xs-floating");
      root.hidden = true;
      launcher.addEventListener("click", function () { setOpen(root.hidden); });
      closeBtn.addEventListener("click", function () { setOpen(false); launcher.focus(); });
      document.body.appendChild(launcher);
      document.body.appendChild(root);
    }
  }
  function setOpen(open) {
    root.hidden = !open;
    if (launcher) launcher.setAttribute("aria-expanded", String(open));
    if (open) input.focus();
  }
  root.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && launcher && !root.hidden) { setOpen(false); launcher.focus(); }
  });

  function setLarge(on) {
    root.classList.toggle("xs-large", on);
    largeBtn.setAttribute("aria-pressed", String(on));
    store(KEY_LARGE, on ? "1" : null);
  }
  largeBtn.addEventListener("click", function () { setLarge(!root.classList.contains("xs-large")); });
  setLarge(load(KEY_LARGE) === "1");

  // ---- conversation state -------------------------------------------------------------------
  var sessionId = load(KEY_SESSION);
  var conversationToken = load(KEY_TOKEN);
  var confirmed = false;
  var socket = null;
  var shown = {};          // seq -> true for every stored message on screen
  var maxSeq = 0;
  var titles = {};         // payload -> button title, so a clicked payload reads as its title
  var pending = [];        // {id, text, node} sent but not yet acknowledged, oldest first

  function pendingKey() { return "xiaoshen.pending." + sessionId; }
  function savePending() {
    if (!sessionId) return;
    store(pendingKey(), pending.length ? JSON.stringify(pending.map(function (p) {
      return { id: p.id, text: p.text, title: p.title, after: p.after };
    })) : null);
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function placeBySeq(node, seq) {
    node.setAttribute("data-seq", String(seq));
    var items = log.children;
    for (var i = 0; i < items.length; i++) {
      var other = items[i];
      var s = other.getAttribute("data-seq");
      if (s === null || Number(s) > seq) { log.insertBefore(node, other); return; }
    }
    log.appendChild(node);
  }

  function displayTextOfUser(text) {
    if (titles[text]) return titles[text];
    if (text.charAt(0) !== "/") return text;
    var m = /^\/rate\{"score":\s*(\d+)\}$/.exec(text);
    if (m) return "评价：" + m[1] + " 分";
    m = /^\/ask_guide(\{.*\})$/.exec(text);
    if (m) {
      try { var data = JSON.parse(m[1]); return SECTION_LABELS[data.section] || "查看指南"; } catch (e) { /* fall through */ }
    }
    if (text === "/ask_human") return "转人工客服";
    return null;  // an intent payload with nothing to show (e.g. the greeting)
  }

  function userBubble(text) {
    var li = el("li", "xs-msg xs-user");
    li.appendChild(el("span", "xs-sr-only", "我说："));
    li.appendChild(el("div", "xs-bubble", text));
    return li;
  }

  // A document to tick off: a checkbox and its label.
  function checkItem(text) {
    var li = el("li");
    var id = "xs-chk-" + randomId().slice(0, 8);
    var box = el("input");
    box.type = "checkbox";
    box.id = id;
    var lab = el("label", null, text);
    lab.htmlFor = id;
    li.appendChild(box);
    li.appendChild(lab);
    return li;
  }

  function renderText(container, text, checklist) {
    var lines = String(text).split("\n");
    var list = null;
    lines.forEach(function (line) {
      var item = /^\s*(?:[-*•]|\d+[.、)])\s+(.*)$/.exec(line);
      if (item) {
        if (!list) {
          list = el(checklist ? "ul" : "ul", checklist ? "xs-checklist" : "xs-list");
          container.appendChild(list);
        }
        list.appendChild(checklist ? checkItem(item[1]) : el("li", null, item[1]));
      } else {
        list = null;
        if (line.trim()) container.appendChild(el("p", null, line));
      }
    });
  }

  function buttonRow(buttons, cls) {
    var row = el("div", cls || "xs-buttons");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "可选回复");
    buttons.forEach(function (b) {
      if (!b || !b.payload) return;
      titles[b.payload] = b.title;
      var btn = el("button", "xs-quick", b.title);
      btn.type = "button";
      btn.addEventListener("click", function () { send(b.payload, b.title); });
      row.appendChild(btn);
    });
    return row;
  }

  function renderCard(bubble, card) {
    var box = el("div", "xs-card");
    box.appendChild(el("h3", "xs-card-title", card.title || ""));
    var tabs = el("div", "xs-tabs");
    tabs.setAttribute("role", "tablist");
    tabs.setAttribute("aria-label", (card.title || "") + " 指南栏目");
    var sections = card.sections || {};
    Object.keys(sections).forEach(function (name) {
      var payload = guidePayload(card.service_id, name);
      titles[payload] = sections[name];
      var tab = el("button", "xs-tab", sections[name]);
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(name === card.section));
      if (name !== card.section) {
        tab.addEventListener("click", function () { send(payload, sections[name]); });
      }
      tabs.appendChild(tab);
    });
    box.appendChild(tabs);
    var body = el("div", "xs-card-body");
    body.setAttribute("role", "tabpanel");
    box.appendChild(body);
    var more = el("a", "xs-card-more", "查看完整指南");
    more.href = origin + "/guides/" + encodeURIComponent(card.service_id);
    more.target = "_blank";
    more.rel = "noopener noreferrer";
    box.appendChild(more);
    bubble.appendChild(box);
    return body;
  }

  // A finished smart declaration: reference number, checklist (to tick off), what is exempt, the
  // pre-filled application with where each value came from, the next step and the print page.
  function renderDeclaration(bubble, d) {
    var SOURCE = { user: "您填写", prefill: "电子证照", derived: "自动计算" };
    var box = el("div", "xs-card xs-decl");
    box.appendChild(el("h3", "xs-card-title", (d.title || "") + " · 申报已生成"));
    box.appendChild(el("p", "xs-decl-ref", "申报编号：" + d.ref));
    var needed = (d.checklist || []).filter(function (m) { return !m.exempt; });
    var exempt = (d.checklist || []).filter(function (m) { return m.exempt; });
    box.appendChild(el("h4", null, "需要准备的材料（" + needed.length + " 项）"));
    var list = el("ul", "xs-checklist");
    needed.forEach(function (m) {
      var li = checkItem(m.name);
      li.appendChild(el("div", "xs-decl-why", m.why));
      list.appendChild(li);
    });
    box.appendChild(list);
    if (exempt.length) {
      box.appendChild(el("h4", null, "免交（窗口在线核验）"));
      var ex = el("ul", "xs-list");
      exempt.forEach(function (m) { ex.appendChild(el("li", "xs-decl-exempt", m.name)); });
      box.appendChild(ex);
    }
    var fields = (d.application || []).filter(function (f) { return !f.service; });
    var services = (d.application || []).filter(function (f) { return f.service; });
    var filled = fields.filter(function (f) { return f.source === "prefill" || f.source === "derived"; });
    box.appendChild(el("h4", null, "《" + (d.application_form || "申请表") + "》已填写 " + fields.length
      + " 项（" + filled.length + " 项来自电子证照或自动计算）"));
    var table = el("dl", "xs-decl-fields");
    fields.forEach(function (f) {
      table.appendChild(el("dt", null, f.label));
      table.appendChild(el("dd", null, (f.value || "（未填）") + (f.source ? "  ·" + SOURCE[f.source] : "")));
    });
    box.appendChild(table);
    if (services.length) {
      box.appendChild(el("h4", null, "同步办理事项"));
      var chosen = el("dl", "xs-decl-fields");
      services.forEach(function (f) {
        chosen.appendChild(el("dt", null, f.label));
        chosen.appendChild(el("dd", null, f.value || "（未选）"));
      });
      box.appendChild(chosen);
    }
    if (d.submit) box.appendChild(el("p", "xs-decl-next", "下一步：" + d.submit.channel + "。" + d.submit.next_step));
    var print = el("a", "xs-card-more", "打印材料清单");
    print.href = origin + "/declarations/" + encodeURIComponent(d.ref);
    print.target = "_blank";
    print.rel = "noopener";
    box.appendChild(print);
    bubble.appendChild(box);
  }

  function renderRating(bubble, rating) {
    var box = el("div", "xs-rating");
    box.appendChild(el("p", null, "请对本次服务进行评价（好差评）："));
    var labels = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"];
    var options = rating.options && rating.options.length ? rating.options : [1, 2, 3, 4, 5];
    var buttons = options.map(function (opt, i) {
      var score = typeof opt === "number" ? opt : (opt && opt.score) || i + 1;
      var text = typeof opt === "string" ? opt : (opt && opt.label) || labels[score - 1] || score + " 分";
      return { title: text, payload: "/rate" + JSON.stringify({ score: score }) };
    });
    box.appendChild(buttonRow(buttons, "xs-buttons xs-rating-buttons"));
    bubble.appendChild(box);
  }

  function renderStep(bubble, step) {
    var box = el("div", "xs-step");
    if (step.declaration) box.appendChild(el("div", "xs-step-name", step.declaration));
    if (step.question) box.appendChild(el("p", "xs-step-question", step.question));
    var options = (step.options || []).map(function (o) {
      return typeof o === "string" ? { title: o, payload: o } : o;
    });
    if (options.length) box.appendChild(buttonRow(options));
    bubble.appendChild(box);
  }

  function showHandoff(h) {
    if (!h || h.status === "none") { banner.hidden = true; banner.textContent = ""; return; }
    if (h.status === "queued") {
      var eta = h.eta_s ? "，预计等待约 " + Math.max(1, Math.round(h.eta_s / 60)) + " 分钟" : "";
      // position is 1-based: 1 means the next conversation an agent takes is this one.
      var ahead = Math.max(0, (Number(h.position) || 1) - 1);
      banner.textContent = (ahead ? "正在为您转接人工客服，前面还有 " + ahead + " 位" : "正在为您转接人工客服，您是下一位")
        + eta + "。";
    } else if (h.status === "agent") {
      banner.textContent = "人工客服" + (h.agent ? " " + h.agent + " " : "") + "正在为您服务";
    }
    banner.hidden = false;
  }

  function botBubble(entry) {
    var custom = entry.custom || {};
    var li = el("li", "xs-msg xs-" + (entry.role === "agent" ? "agent" : entry.role === "system" ? "system" : "bot"));
    var who = entry.role === "agent" ? "人工客服" + (entry.author ? " " + entry.author : "")
      : entry.role === "system" ? "系统消息" : opts.title;
    li.appendChild(el("span", "xs-who", who + "："));
    var bubble = el("div", "xs-bubble");
    li.appendChild(bubble);
    var card = custom.card && custom.card.type === "guide" ? custom.card : null;
    var body = card ? renderCard(bubble, card) : bubble;
    if (custom.declaration_card) renderDeclaration(bubble, custom.declaration_card);  // the card says it all
    else if (entry.text) renderText(body, entry.text, card && card.section === "materials");
    // A rating prompt carries its options in custom.rating; its buttons would show them twice.
    if (entry.buttons && entry.buttons.length && !custom.rating) {
      if (card) {
        entry.buttons.forEach(function (b) { titles[b.payload] = b.title; });  // the tabs show sections
        var others = entry.buttons.filter(function (b) { return String(b.payload).indexOf("/ask_guide") !== 0; });
        if (others.length) bubble.appendChild(buttonRow(others));  // e.g. 智能申报 under a guide answer
      } else if (!custom.declaration_card) {
        bubble.appendChild(buttonRow(entry.buttons));
      }
    }
    if (custom.step) renderStep(bubble, custom.step);
    if (custom.rating) renderRating(bubble, custom.rating);
    if (custom.handoff) showHandoff(custom.handoff);
    if (!bubble.childNodes.length) return null;
    return li;
  }

  function render(entry) {
    var seq = Number(entry.seq) || 0;
    if (!seq || shown[seq]) return;
    shown[seq] = true;
    if (seq > maxSeq) maxSeq = seq;
    var node = null;
    if (entry.role === "user") {
      var text = String(entry.text || "");
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].text === text && !pending[i].seq && seq > pending[i].after) {  // ours, now stored
          acknowledged(pending[i], seq);
          return;
        }
      }
      var shownText = displayTextOfUser(text);
      if (shownText === null) return;
      node = userBubble(shownText);
    } else {
      node = botBubble(entry);
    }
    if (node) { placeBySeq(node, seq); scrollDown(); }
  }

  function acknowledged(p, seq) {
    p.seq = seq;
    shown[seq] = true;
    if (seq > maxSeq) maxSeq = seq;
    p.node.classList.remove("xs-pending");
    p.node.removeAttribute("aria-busy");
    log.removeChild(p.node);
    placeBySeq(p.node, seq);
    pending = pending.filter(function (q) { return q !== p; });
    savePending();
  }

  function signal(custom) {
    if (custom.typing) {
      var t = custom.typing;
      typing.hidden = !t.on;
      typing.textContent = t.on ? (t.who === "agent" ? "人工客服" + (t.name ? " " + t.name : "") : opts.title) + " 正在输入…" : "";
    }
    if (custom.handoff) showHandoff(custom.handoff);
  }

  // ---- sending ------------------------------------------------------------------------------
  function send(text, title) {
    text = String(text || "").trim();
    if (!text) return;
    var shownText = title || displayTextOfUser(text);
    var node = userBubble(shownText || "");
    if (!shownText) node.hidden = true;  // an intent payload such as the greeting
    node.classList.add("xs-pending");
    node.setAttribute("aria-busy", "true");
    log.appendChild(node);
    scrollDown();
    var p = { id: randomId(), text: text, title: title || null, node: node, seq: 0, after: maxSeq };
    pending.push(p);
    savePending();
    if (socket && socket.connected && confirmed) emitPending(p);
  }

  function emitPending(p) {
    if (p.inFlight) return;
    p.inFlight = true;
    socket.timeout(60000).emit("user_uttered", {
      message: p.text, session_id: sessionId, client_id: p.id, customData: { language: "zh" }
    }, function (err, ack) {
      p.inFlight = false;
      if (err || !ack) return;  // no answer (connection lost): resent after the reconnect
      if (ack.ok && ack.seq) {
        if (pending.indexOf(p) >= 0) acknowledged(p, ack.seq);
      } else if (!ack.ok) {
        p.node.classList.add("xs-failed");
        p.node.appendChild(el("div", "xs-error", (ack.error && ack.error.message) || "发送失败"));
        pending = pending.filter(function (q) { return q !== p; });
        savePending();
      }
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });

  // ---- connection ---------------------------------------------------------------------------
  function setStatus(text, ok) {
    status.textContent = text;
    root.classList.toggle("xs-offline", !ok);
  }

  function catchUp(done) {
    socket.timeout(15000).emit("xs_history", { after: maxSeq }, function (err, res) {
      if (!err && res && res.ok) res.messages.forEach(render);
      done();
    });
  }

  function connect() {
    socket = window.io(origin, { path: "/socket.io/", reconnectionDelayMax: 5000 });
    socket.on("connect", function () {
      confirmed = false;
      socket.emit("session_request", { session_id: sessionId, conversation_token: conversationToken });
    });
    socket.on("xs_session", function (s) {  // a new conversation: keep its token with its history
      if (!s || typeof s.conversation_token !== "string") return;
      conversationToken = s.conversation_token;
      store(KEY_TOKEN, conversationToken);
    });
    socket.on("session_confirm", function (id) {
      var fresh = id !== sessionId;
      if (fresh && sessionId) {  // the server did not accept our id: start a clean log
        log.textContent = ""; shown = {}; maxSeq = 0;
      }
      sessionId = typeof id === "string" ? id : id && id.session_id;
      store(KEY_SESSION, sessionId);
      confirmed = true;
      setStatus("在线", true);
      catchUp(function () {
        pending.slice().forEach(function (p) { if (!p.seq) emitPending(p); });
        if (maxSeq === 0 && !pending.length && opts.greet) send("/greet", null);
      });
    });
    socket.on("xs_message", render);
    socket.on("xs_signal", signal);
    socket.on("disconnect", function () {
      confirmed = false;
      // Whatever was in flight is resent after the reconnect; the gateway answers a client id once.
      pending.forEach(function (p) { p.inFlight = false; });
      setStatus("连接中断，正在重连…", false);
    });
    socket.on("connect_error", function () { setStatus("连接失败，正在重试…", false); });
  }

  function restorePending() {
    if (!sessionId) return;
    var raw = load(pendingKey());
    if (!raw) return;
    try {
      JSON.parse(raw).forEach(function (q) {
        var shownText = q.title || displayTextOfUser(q.text);
        var node = userBubble(shownText || "");
        if (!shownText) node.hidden = true;
        node.classList.add("xs-pending");
        log.appendChild(node);
        pending.push({ id: q.id, text: q.text, title: q.title, node: node, seq: 0, after: q.after || 0 });
      });
    } catch (e) { store(pendingKey(), null); }
  }

  function loadSocketIo(done) {
    if (window.io) { done(); return; }
    var s = document.createElement("script");
    s.src = assetBase + "vendor/socket.io.min.js";
    s.onload = done;
    s.onerror = function () { setStatus("无法加载通信组件", false); };
    document.head.appendChild(s);
  }

  function start() {
    mount();
    restorePending();
    loadSocketIo(connect);
  }

  window.XiaoShen = {
    mounted: true,
    send: send,
    open: function () { setOpen(true); },
    // For tests and diagnostics: drop the connection / reconnect / read the session.
    _debug: {
      disconnect: function () { socket.disconnect(); setStatus("已断开", false); },
      reconnect: function () { socket.connect(); },
      dropTransport: function () { socket.io.engine.close(); },
      session: function () { return sessionId; },
      maxSeq: function () { return maxSeq; }
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
