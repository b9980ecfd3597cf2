// Signing in, shared by the staff pages (店小二工作台, 指南编辑工作台, 服务运行看板): the login form,
// the bearer token kept for this tab only (sessionStorage), who is signed in, signing out. Loaded
// before each page's app.js, which uses $, el and staffSession. Text is set with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// opts: key (sessionStorage key of the token), page (id of the element shown once signed in),
// allowed(me) (may this account use the page?), refused (the message when not), onStart(me),
// onEnd() (optional: what the page tears down on signing out). Signs in at once with a kept token.
function staffSession(opts) {
  const session = { token: sessionStorage.getItem(opts.key), me: null };
  session.auth = () => ({ Authorization: "Bearer " + session.token });

  session.end = () => {
    if (session.token) fetch("/api/auth/logout", { method: "POST", headers: session.auth() });
    sessionStorage.removeItem(opts.key);
    session.token = null;
    session.me = null;
    if (opts.onEnd) opts.onEnd();
    $(opts.page).hidden = true;
    $("login").hidden = false;
  };

  async function begin() {
    const resp = await fetch("/api/auth/me", { headers: session.auth() });
    if (!resp.ok) { session.end(); return; }
    const me = await resp.json();
    if (!opts.allowed(me)) {
      session.end();
      $("login-error").textContent = opts.refused;
      return;
    }
    session.me = me;
    $("login").hidden = true;
    $(opts.page).hidden = false;
    opts.onStart(me);
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const resp = await fetch("/api/auth/login", { method: "POST", body: form });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      $("login-error").textContent = (data.error && data.error.message) || "登录失败 / Sign-in failed.";
      return;
    }
    session.token = data.access_token;
    sessionStorage.setItem(opts.key, session.token);
    begin();
  });
  $("logout").addEventListener("click", session.end);
  if (session.token) begin();
  return session;
}
