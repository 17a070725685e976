// Canned replies (issue 13): insert the chosen one into the case's reply box in
// place. Without this script the picker's GET shows the page with the box filled.
(function () {
  "use strict";
  var picker = document.getElementById("canned-picker");
  var composer = document.getElementById("write");
  if (!picker || !composer) { return; }
  picker.addEventListener("submit", function (event) {
    var id = picker.querySelector("select").value;
    var url = picker.dataset.render.replace(/\/0\/$/, "/" + encodeURIComponent(id) + "/");
    event.preventDefault();
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        var box = composer.querySelector("textarea");
        box.value = data.body;
        var wanted = composer.querySelector('button[data-action="' + (data.action || "reply") + '"]') ||
          composer.querySelector('button[data-action="reply"]');
        composer.querySelectorAll("button[data-action]").forEach(function (b) {
          b.classList.toggle("primary", b === wanted);
        });
        wanted.parentNode.insertBefore(wanted, wanted.parentNode.firstChild);
        var status = document.getElementById("canned-status");
        status.textContent = status.dataset.inserted;
        box.focus();
      })
      .catch(function () { picker.submit(); });  // fall back to the page
  });
}());
