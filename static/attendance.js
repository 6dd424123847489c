// 出席 list: each tick is saved at once (the form posted in the background, the counts taken
// from the page that comes back). Without this script the 出席を保存 button saves them all.
(function () {
  "use strict";
  var form = document.getElementById("attendance-form");
  if (!form || !window.fetch || !window.FormData || !window.DOMParser) { return; }
  var saved = document.getElementById("attendance-saved");
  var counts = document.getElementById("attendance-counts");
  form.addEventListener("change", function (event) {
    if (!event.target || event.target.name !== "attended") { return; }
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { form.submit(); return; }  // refused: let the server say why
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("attendance-counts");
        var error = page.querySelector(".flash-error");
        if (fresh && counts) { counts.textContent = fresh.textContent; }
        if (saved) {
          saved.textContent = "";
          window.setTimeout(function () {
            saved.textContent = error ? error.textContent.trim() : saved.getAttribute("data-saved");
          }, 50);
        }
      })
      .catch(function () { form.submit(); });
  });
}());
