/* The live board updates itself in place (issue 13): every data-refresh seconds it
   fetches the page again and swaps #board-live for the new one, without a full-page
   reload; what changed in the counts is said politely (#board-announce, aria-live).
   The Pause button stops the updates; the choice is remembered in this browser
   (localStorage). Without script the page is still whole: reload it to update. */
(function () {
  "use strict";
  var KEY = "slpdesk.board.paused";
  var live = document.getElementById("board-live");
  var button = document.getElementById("board-pause");
  var state = document.getElementById("board-state");
  var announce = document.getElementById("board-announce");
  if (!live || !button || !state || !announce) return;
  var seconds = parseInt(live.getAttribute("data-refresh"), 10) || 60;
  var busy = false;

  function remembered() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }
  function remember(paused) {
    try {
      if (paused) window.localStorage.setItem(KEY, "1");
      else window.localStorage.removeItem(KEY);
    } catch (e) { /* storage refused: the choice lasts for this page only */ }
  }
  var paused = remembered();

  function show() {
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = button.getAttribute(paused ? "data-resume" : "data-pause");
    state.textContent = state.getAttribute(paused ? "data-paused" : "data-running");
    live.setAttribute("data-paused", paused ? "true" : "false");
  }

  function update() {
    if (busy) return;
    busy = true;
    fetch(window.location.href, {credentials: "same-origin", cache: "no-store",
                                 headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (paused) return;  // paused while the answer was on its way
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("board-live");
        if (!fresh) throw new Error("no board in the answer");
        var before = live.getAttribute("data-summary");
        var after = fresh.getAttribute("data-summary");
        // Keep a keyboard user's place: the link that had focus gets it back.
        var focused = live.contains(document.activeElement) ?
          document.activeElement.getAttribute("href") : null;
        live.innerHTML = fresh.innerHTML;
        if (focused) {
          var again = Array.prototype.find.call(live.querySelectorAll("a[href]"),
            function (a) { return a.getAttribute("href") === focused; });
          if (again) again.focus();
        }
        live.setAttribute("data-generated", fresh.getAttribute("data-generated"));
        live.setAttribute("data-summary", after);
        if (after !== before) announce.textContent = after;
        state.textContent = state.getAttribute("data-running");
      })
      .catch(function () {
        state.textContent = state.getAttribute("data-failed");
      })
      .then(function () { busy = false; });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    remember(paused);
    show();
    if (!paused) update();
  });
  button.hidden = false;
  show();
  var ticks = 0;  // the timer's beats, paused or not (the browser tests wait on them)
  window.setInterval(function () {
    ticks += 1;
    button.setAttribute("data-ticks", String(ticks));
    if (paused || document.hidden) return;
    update();
  }, seconds * 1000);
}());
