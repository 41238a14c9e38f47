// seasongate dashboard: live updates over Server-Sent Events, no framework, no build step.
// Every audit entry arrives as an event whose id is its sequence number; when the connection
// drops, the browser reconnects by itself and sends Last-Event-ID, and the server replays
// what was missed from the store. On an event the page's <main> is fetched again and swapped.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  if (!main || !window.EventSource) { return; }
  var pending = null;
  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("main");
          if (fresh) { main.innerHTML = fresh.innerHTML; }
        })
        .catch(function () { /* the next event or tick tries again */ });
    }, 150);
  }
  var source = new EventSource("/events?after=" + encodeURIComponent(main.dataset.seq || "0"));
  source.addEventListener("open", function () { live.textContent = "● live"; live.className = "live up"; });
  source.addEventListener("error", function () { live.textContent = "reconnecting…"; live.className = "live"; });
  source.addEventListener("audit", function (e) {
    live.textContent = "● live · #" + e.lastEventId;
    refresh();
  });
  source.addEventListener("activity", refresh);
  // Verdicts change with the clock too (a blackout ends at midnight): look again every 30 s.
  setInterval(refresh, 30000);
})();
