// The seminar editor's presenter rows without a round trip: 行を追加, ↑, ↓ and 行を削除 change the
// rows in place. Without JavaScript the same buttons post the form and the server does it.
(function () {
  "use strict";
  function renumber(tbody) {
    var rows = tbody.querySelectorAll("tr.presenter-row");
    rows.forEach(function (row, i) {
      row.dataset.row = String(i);
      row.querySelectorAll("[id^='presenters-'], [name^='presenters-'], label[for^='presenters-']").forEach(function (el) {
        ["id", "name", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/^presenters-\d+-/, "presenters-" + i + "-")); }
        });
      });
      row.querySelectorAll("label.visually-hidden").forEach(function (label) {
        label.textContent = label.textContent.replace(/^\d+/, String(i + 1));
      });
      row.querySelectorAll("button[name='row']").forEach(function (button) {
        var verb = button.value.split("-")[0];
        button.value = verb + "-" + i;
        var label = button.getAttribute("aria-label");
        if (label) { button.setAttribute("aria-label", label.replace(/^\d+/, String(i + 1))); }
        if (verb === "up") { button.disabled = i === 0; }
        if (verb === "down") { button.disabled = i === rows.length - 1; }
      });
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("fieldset.presenter-rows button[name='row']");
    if (!button) { return; }
    var fieldset = button.closest("fieldset.presenter-rows");
    var tbody = fieldset.querySelector("tbody");
    var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr.presenter-row"));
    var parts = button.value.split("-");
    var verb = parts[0], index = Number(parts[1]);
    event.preventDefault();
    if (verb === "add") {
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) {
        input.value = input.name.endsWith("-honorific") ? "様" : "";
      });
      copy.querySelectorAll("p.error").forEach(function (p) { p.remove(); });
      tbody.appendChild(copy);
      renumber(tbody);
      copy.querySelector("input").focus();
      return;
    }
    var row = rows[index];
    if (!row) { return; }
    if (verb === "remove") {
      if (rows.length === 1) { row.querySelectorAll("input").forEach(function (i) { i.value = i.name.endsWith("-honorific") ? "様" : ""; }); }
      else { row.remove(); }
    } else if (verb === "up" && index > 0) {
      tbody.insertBefore(row, rows[index - 1]);
    } else if (verb === "down" && index < rows.length - 1) {
      tbody.insertBefore(rows[index + 1], row);
    }
    renumber(tbody);
    var again = tbody.querySelectorAll("tr.presenter-row")[Math.min(index, tbody.children.length - 1)];
    if (again && verb !== "remove") {
      var same = tbody.querySelector("button[name='row'][value='" + verb + "-" + (verb === "up" ? index - 1 : index + 1) + "']");
      if (same && !same.disabled) { same.focus(); }
    }
  });
})();
