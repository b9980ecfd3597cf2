// The print-friendly checklist: reads the conversation token the widget stored and asks the API.
(function () {
  "use strict";
  var sheet = document.getElementById("sheet");
  var ref = decodeURIComponent(location.pathname.split("/").pop() || "");
  var token = null;
  try { token = window.localStorage.getItem("xiaoshen.token"); } catch (e) { token = null; }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);  // never innerHTML
    if (cls) node.className = cls;
    return node;
  }
  function fail(message) {
    sheet.textContent = "";
    sheet.appendChild(el("p", message, "muted"));
  }
  var SOURCE = {user: "您填写", prefill: "电子证照预填", derived: "自动计算"};

  function render(d) {
    sheet.textContent = "";
    sheet.appendChild(el("h1", d.title + " · 材料清单"));
    var p = el("p", "申报编号：", "muted");
    p.appendChild(el("span", d.ref, "ref"));
    sheet.appendChild(p);
    var needed = d.checklist.filter(function (m) { return !m.exempt; });
    var exempt = d.checklist.filter(function (m) { return m.exempt; });
    sheet.appendChild(el("h2", "需要准备的材料（" + needed.length + " 项）"));
    var ol = el("ol");
    needed.forEach(function (m) {
      var li = el("li", m.name);
      li.appendChild(el("div", m.why, "why"));
      ol.appendChild(li);
    });
    sheet.appendChild(ol);
    if (exempt.length) {
      sheet.appendChild(el("h2", "免交（窗口在线核验）"));
      var ul = el("ul");
      exempt.forEach(function (m) { ul.appendChild(el("li", m.name + "（核验" + (m.online_record || "电子证照") + "）", "exempt")); });
      sheet.appendChild(ul);
    }
    sheet.appendChild(el("h2", "《" + d.application_form + "》预填内容"));
    var table = el("table");
    d.application.forEach(function (f) {
      var tr = el("tr");
      tr.appendChild(el("th", f.label));
      var td = el("td", f.value || "（未填）");
      if (f.source) td.appendChild(el("div", SOURCE[f.source] + (f.record ? "：" + f.record : ""), "src"));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    sheet.appendChild(table);
    if (d.submit) {
      sheet.appendChild(el("h2", "下一步"));
      sheet.appendChild(el("p", d.submit.channel));
      sheet.appendChild(el("p", d.submit.next_step));
      if (d.submit.time_limit) sheet.appendChild(el("p", d.submit.time_limit, "muted"));
    }
    var button = el("button", "打印清单");
    button.addEventListener("click", function () { window.print(); });
    sheet.appendChild(button);
  }

  if (!token) { fail("请在提交这份申报的浏览器中打开本页（需要对话凭证）。"); return; }
  fetch("/api/declarations/" + encodeURIComponent(ref), {headers: {"X-Conversation-Token": token}})
    .then(function (r) {
      if (r.status === 404) throw new Error("没有找到这个申报编号。");
      if (r.status === 403) throw new Error("这份申报不属于当前对话，无法查看。");
      if (!r.ok) throw new Error("暂时无法读取申报记录，请稍后再试。");
      return r.json();
    })
    .then(render)
    .catch(function (e) { fail(e.message); });
})();
