/* The console's small script (issue 13): the queue's poll for new or changed cases,
   ticking every case of a page, keyboard shortcuts with their help, and the case
   page's poll of who else is on the case. No build step, no library; the pages work
   without it. */
(function () {
  "use strict";
  var list = document.getElementById("queue-list");
  var presence = document.getElementById("presence");
  var help = document.getElementById("shortcuts-help");
  var KEY = "slpdesk.queue";  // the queue's case numbers, for j/k on a case page

  function every(seconds, run) {
    // Runs while the tab is shown (a hidden tab asks nothing), and at once when the
    // tab is shown again.
    setInterval(function () { if (!document.hidden) { run(); } }, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { run(); }
    });
  }

  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // ------------------------------------------------------------------ queue
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-case]")); }

  function remember() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify(rows().map(function (r) {
        return r.querySelector("a").pathname; })));
    } catch (e) { /* storage off: j/k on a case page do nothing */ }
  }

  function tickAll() {
    var all = document.getElementById("select-all");
    if (!all) { return; }
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=case][form=bulk]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  if (list) {
    var notice = document.getElementById("queue-notice");
    var query = function () {
      var params = new URLSearchParams(location.search);
      params.set("since", list.dataset.since);
      return list.dataset.changes + "?" + params.toString();
    };
    every(Number(list.dataset.poll) || 20, function () {
      fetch(query(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.count) { return; }
          notice.querySelector("span").textContent = data.text;
          notice.hidden = false;
        }).catch(function () {});
    });
    notice.querySelector("button").addEventListener("click", function () {
      // The list and the tabs' counts from the same page, swapped in place.
      fetch(location.href, {credentials: "same-origin"}).then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("queue-list");
          var tabs = doc.querySelector("nav.tabs"), oldTabs = document.querySelector("nav.tabs");
          if (!fresh) { return; }
          list.innerHTML = fresh.innerHTML;
          list.dataset.since = fresh.dataset.since;
          if (tabs && oldTabs) { oldTabs.innerHTML = tabs.innerHTML; }
          notice.hidden = true;
          tickAll();
          remember();
          pick(0);
        });
    });
    tickAll();
    remember();
  }

  var current = -1;
  function pick(index) {
    var all = rows();
    all.forEach(function (r) { r.classList.remove("picked"); r.removeAttribute("aria-current"); });
    if (!all.length) { current = -1; return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    var row = all[current];
    row.classList.add("picked");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a");
    if (link) { link.focus(); }
  }

  function openPicked() {
    var row = rows()[current];
    var link = row && row.querySelector("a");
    if (link) { location.href = link.href; }
  }

  function step(by) {
    if (list) { pick(current < 0 ? 0 : current + by); return; }
    // On a case page: the next or previous case of the queue last seen.
    var paths;
    try { paths = JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { paths = []; }
    var at = paths.indexOf(location.pathname);
    if (at >= 0 && paths[at + by]) { location.href = paths[at + by]; }
  }

  function focusField(selector) {
    var field = document.querySelector(selector);
    if (field) { field.scrollIntoView({block: "center"}); field.focus(); }
  }

  function assignToMe() {
    var form = document.getElementById("assign-me");
    if (!form) { return; }
    if (list) {
      var row = rows()[current];
      var box = row && row.querySelector("input[name=case]");
      if (!box) { return; }
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "case"; input.value = box.value;
      form.appendChild(input);
    }
    form.submit();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "BUTTON"
      || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
    if (help && help.open) { return; }  // the dialog has its own keys (Escape closes it)
    var key = e.key;
    var done = true;
    if (key === "j") { step(1); }
    else if (key === "k") { step(-1); }
    else if ((key === "o" || (key === "Enter" && (e.target === document.body
        || e.target.closest("tr.picked")))) && list && current >= 0) { openPicked(); }
    else if (key === "r") { focusField("#write textarea"); }
    else if (key === "n") { focusField("#note textarea"); }
    else if (key === "a") { assignToMe(); }
    else if (key === "/") { focusField("#header-q"); }
    else if (key === "?" && help) { help.showModal(); }
    else { done = false; }
    if (done) { e.preventDefault(); }
  });

  // ------------------------------------------------------------- case page
  if (presence) {
    var changed = document.getElementById("case-changed");
    var typedAt = 0;
    document.querySelectorAll("#write textarea, #note textarea").forEach(function (field) {
      field.addEventListener("input", function () {
        var first = Date.now() - typedAt > 10000;
        typedAt = Date.now();
        if (first) { ping(); }  // say so at once, then with the poll
      });
    });
    var ping = function () {
      var body = new URLSearchParams();
      body.set("stamp", presence.dataset.stamp);
      if (Date.now() - typedAt < 10000) { body.set("typing", "1"); }
      fetch(presence.dataset.url, {method: "POST", credentials: "same-origin", body: body,
        headers: {"X-CSRFToken": csrf(), "Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          presence.textContent = data.text;
          presence.hidden = !data.text;
          changed.textContent = data.changed_text;
          changed.hidden = !data.changed_text;
        }).catch(function () {});
    };
    every(Number(presence.dataset.poll) || 10, ping);
  }
})();
