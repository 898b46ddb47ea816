// reelscope review page: live rows and keyboard shortcuts. The page works without this file;
// it only refreshes the list's rows in place and lets a reviewer move with the keyboard.
(function () {
  "use strict";
  var table = document.querySelector("table[data-rows-url]");
  if (!table) { return; }
  var body = table.querySelector("tbody");
  var live = document.getElementById("live");
  var current = null;  // media id of the selected row

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-media-id]")); }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-selected"); });
    if (!row) { return; }
    row.classList.add("current");
    row.setAttribute("aria-selected", "true");
    row.focus();
    current = row.getAttribute("data-media-id");
  }

  function move(step) {
    var all = rows();
    var at = all.findIndex(function (r) { return r.getAttribute("data-media-id") === current; });
    select(all[Math.min(all.length - 1, Math.max(0, at + step))]);
  }

  function selected() {
    return rows().find(function (r) { return r.getAttribute("data-media-id") === current; });
  }

  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var row = selected();
    if (e.key === "j" || e.key === "ArrowDown") { move(1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { move(-1); e.preventDefault(); }
    else if (row && (e.key === "Enter" || e.key === "o") && tag !== "a" && tag !== "button") { row.querySelector("a.open").click(); }
    else if (row && e.key === "a") { var b = row.querySelector("button.approve"); if (b) { b.click(); } }
    else if (row && e.key === "r") { var l = row.querySelector("a.reject-link"); if (l) { l.click(); } }
  });

  function refresh() {
    fetch(table.getAttribute("data-rows-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || html.trim() === body.innerHTML.trim()) { return; }
        var before = rows().length;
        body.innerHTML = html;
        var after = rows().length;
        if (live) { live.textContent = after > before ? (after - before) + " new" : "List updated"; }
        var row = selected();
        if (row) { row.classList.add("current"); row.setAttribute("aria-selected", "true"); }
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }

  window.setInterval(refresh, 3000);
}());
