// Live pages: listens to /live (server-sent events) and, when a new block is indexed, fetches
// this page again and swaps the parts marked data-live (forms and what the user typed stay).
(function () {
  "use strict";
  if (!window.EventSource || !document.body.dataset.block) return;
  var shown = Number(document.body.dataset.block);
  var wanted = shown;
  var busy = false;
  var source = null;
  var status = document.getElementById("live-status");

  function say(text, fresh) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("fresh", Boolean(fresh));
  }

  function swap(doc) {
    document.querySelectorAll("[data-live]").forEach(function (old) {
      var fresh = old.id ? doc.getElementById(old.id) : null;
      if (!fresh) return;
      if (window.scfDashboard) window.scfDashboard.forget(old);
      old.replaceWith(document.importNode(fresh, true));
    });
  }

  function refresh() {
    if (busy || wanted <= shown) return;
    if (document.hidden) return; // caught up when the tab is shown again (visibilitychange)
    busy = true;
    var target = wanted;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "scf-live" } })
      .then(function (response) {
        if (response.redirected && new URL(response.url).pathname === "/login") {
          say("session ended: reload to log in again");
          if (source) source.close();
          wanted = shown;
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        swap(doc);
        var block = Number(doc.body.dataset.block || target);
        shown = Math.max(shown, block, target);
        document.body.dataset.block = String(shown);
        say("indexed block " + shown, true);
        if (window.scfDashboard) window.scfDashboard.drawAll(document);
      })
      .catch(function () {
        say("indexed block " + shown + " (live updates paused)");
        wanted = shown;
      })
      .then(function () {
        busy = false;
        if (wanted > shown) refresh();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });

  source = new EventSource("/live");
  source.addEventListener("block", function (event) {
    var block = JSON.parse(event.data).block;
    if (typeof block === "number" && block > wanted) {
      wanted = block;
      refresh();
    }
  });
  source.addEventListener("open", function () { say("indexed block " + shown); });
  source.addEventListener("error", function () {
    say("indexed block " + shown + (source.readyState === EventSource.CLOSED ? " (live updates off)" : " (reconnecting)"));
  });
})();
