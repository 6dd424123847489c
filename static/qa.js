// Refresh the question list every few seconds; the page works without this script.
(function () {
  "use strict";
  var box = document.getElementById("questions");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-refresh-url");
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () { /* keep the list as it is; try again later */ });
  }
  setInterval(refresh, 5000);
})();
