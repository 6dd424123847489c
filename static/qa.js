// Live Q&A: refresh the question list every few seconds IN PLACE; the page works without this.
//
// The server sends the shared list (the same for every attendee; 304 while unchanged: the
// browser revalidates with its ETag). Existing items are updated where they stand (vote count,
// state, moderation buttons), new ones are inserted, the focused item is never moved or
// replaced, and new questions are announced once in a polite live region that is never
// replaced. What is the viewer's own (voted, mine) comes with the page and each vote's answer.
(function () {
  "use strict";
  if (!window.fetch || !window.DOMParser) { return; }
  var PERIOD = 4000;  // below the promised 5 s, with room for the request itself
  var announcer = document.getElementById("questions-announce");

  function announce(count) {
    if (!announcer || count < 1) { return; }
    var text = count === 1 ? announcer.getAttribute("data-one")
      : announcer.getAttribute("data-many").replace("{n}", String(count));
    // Cleared first so the same sentence twice in a row is still announced.
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function poll(url, apply) {
    var last = null;
    var busy = false;
    function refresh() {
      if (document.hidden || busy) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-cache", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          busy = false;
          if (html === null || html === last) { return; }  // unchanged (a 304 arrives as the cached body)
          last = html;
          apply(new DOMParser().parseFromString(html, "text/html"));
        })
        .catch(function () { busy = false; /* keep the list as it is; try again later */ });
    }
    window.setInterval(refresh, PERIOD);
    document.addEventListener("visibilitychange", refresh);
  }

  function byId(list) {
    var map = {};
    Array.prototype.forEach.call(list.querySelectorAll("li[data-question-id]"), function (li) {
      map[li.getAttribute("data-question-id")] = li;
    });
    return map;
  }

  function contains(node) {
    return node.contains(document.activeElement) && document.activeElement !== document.body;
  }

  // ------------------------------------------------------------------ the presenter screen
  var presenter = document.getElementById("presenter-questions");
  if (presenter) {
    var shown = byId(presenter);
    poll(presenter.getAttribute("data-refresh-url"), function (doc) {
      var fresh = doc.querySelector("ol");
      if (!fresh) { return; }
      var added = 0;
      Object.keys(byId(fresh)).forEach(function (id) { if (!shown[id]) { added += 1; shown[id] = true; } });
      presenter.replaceChildren(document.importNode(fresh, true));  // nothing to focus on this screen
      announce(added);
    });
    return;
  }

  // ------------------------------------------------------------------ the attendees' and moderators' list
  var box = document.getElementById("questions");
  var list = document.getElementById("question-list");
  if (!box || !list) { return; }
  var own = JSON.parse(box.getAttribute("data-own") || "{}");
  var mine = {};
  var voted = {};
  (own.mine || []).forEach(function (id) { mine[String(id)] = true; });
  (own.voted || []).forEach(function (id) { voted[String(id)] = true; });
  var csrf = box.getAttribute("data-csrf");
  var seen = byId(list);  // every question this page has shown: each is announced at most once

  function markVoted(li, count) {
    var button = li.querySelector(".vote-form button");
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.setAttribute("aria-pressed", "true");
      button.setAttribute("aria-label", box.getAttribute("data-voted-label"));
      button.textContent = box.getAttribute("data-voted-label");
    }
    if (count !== undefined) { setCount(li, count); }
  }

  // Votes are only ever added: a count never goes down (a list a moment old, from another
  // process, may not have the vote this page just cast).
  function setCount(li, count) {
    if (Number(count) < Number(li.getAttribute("data-votes") || 0)) { return; }
    li.setAttribute("data-votes", String(count));
    var shownCount = li.querySelector(".count");
    if (shownCount && shownCount.textContent !== String(count)) { shownCount.textContent = String(count); }
  }

  // The shared list has no CSRF token and nothing of the viewer's own: add them.
  function personalize(li) {
    Array.prototype.forEach.call(li.querySelectorAll("form"), function (form) {
      if (!form.querySelector('input[name="csrf_token"]')) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "csrf_token";
        input.value = csrf;
        form.prepend(input);
      }
    });
    var id = li.getAttribute("data-question-id");
    if (mine[id]) {
      var vote = li.querySelector(".vote-form");
      if (vote) { vote.remove(); }
      li.classList.add("mine");
    } else if (voted[id]) {
      markVoted(li);
    }
    return li;
  }

  function sameForms(a, b) {
    var strip = function (node) { return node ? node.innerHTML.replace(/<input[^>]*csrf_token[^>]*>/g, "").trim() : ""; };
    return strip(a) === strip(b);
  }

  function update(li, fresh) {
    var keep = li.classList.contains("mine");
    li.className = fresh.className + (keep ? " mine" : "");
    setCount(li, fresh.getAttribute("data-votes"));
    var status = li.querySelector(".status");
    var freshStatus = fresh.querySelector(".status");
    if (status && freshStatus && status.innerHTML !== freshStatus.innerHTML) { status.innerHTML = freshStatus.innerHTML; }
    // Buttons change only when nobody is on them: a keyboard user's focus stays where it is.
    var moderation = li.querySelector(".moderation");
    var freshModeration = fresh.querySelector(".moderation");
    if (moderation && freshModeration && !contains(moderation) && !sameForms(moderation, freshModeration)) {
      moderation.replaceWith(personalize(document.importNode(freshModeration, true)));
    }
    var vote = li.querySelector(".vote-form");
    if (vote && !fresh.querySelector(".vote-form") && !contains(vote)) { vote.remove(); }  // e.g. hidden now
  }

  // Put the items in `order` without moving the focused one (moving it would drop its focus):
  // the others are placed around it. Nothing moves when the order is already right.
  function arrange(order) {
    var now = Array.prototype.slice.call(list.querySelectorAll("li[data-question-id]"));
    if (now.length === order.length && now.every(function (li, i) { return li === order[i]; })) { return; }
    var fixed = null;
    order.forEach(function (li) { if (contains(li)) { fixed = li; } });
    if (!fixed) {
      order.forEach(function (li) { list.appendChild(li); });
      return;
    }
    var at = order.indexOf(fixed);
    for (var i = 0; i < at; i += 1) { list.insertBefore(order[i], fixed); }
    var cursor = fixed;
    for (var j = at + 1; j < order.length; j += 1) {
      list.insertBefore(order[j], cursor.nextSibling);
      cursor = order[j];
    }
  }

  var refreshUrl = box.getAttribute("data-refresh-url");
  var wholeUrl = box.getAttribute("data-whole-url");

  // The poll's questions in order: [id, votes, classes, status] from its data when it sends
  // some questions as data only, else read from its items (the whole list).
  function entriesOf(doc, fresh) {
    var state = doc.getElementById("question-state");
    if (state) { return JSON.parse(state.getAttribute("data-entries")); }
    return Array.prototype.map.call(fresh.querySelectorAll("li[data-question-id]"), function (item) {
      return [Number(item.getAttribute("data-question-id")), Number(item.getAttribute("data-votes")), item.className, null];
    });
  }

  // A question sent as data: its classes, count and status change where it stands.
  function updateShort(li, entry, statuses) {
    var keep = li.classList.contains("mine");
    var className = entry[2] + (keep ? " mine" : "");
    if (li.className !== className) { li.className = className; }
    setCount(li, entry[1]);
    var status = li.querySelector(".status");
    var html = statuses[entry[3]] || "";
    if (status && status.innerHTML !== html) { status.innerHTML = html; }
  }

  function apply(doc) {
    var fresh = doc.getElementById("question-list");
    if (!fresh) { return; }
    var current = byId(list);
    var named = byId(fresh);  // the questions named in full
    var entries = entriesOf(doc, fresh);
    var statuses = {};
    Array.prototype.forEach.call(doc.querySelectorAll("#question-state [data-status]"), function (node) {
      var status = node.querySelector(".status");
      statuses[node.getAttribute("data-status")] = status ? status.innerHTML : "";
    });
    // One this page has never shown, sent only as data (the page was away for a while, or
    // it was approved late): the whole list once, then the short one again.
    var missing = entries.some(function (entry) { return !current[entry[0]] && !named[entry[0]]; });
    if (missing && wholeUrl) {
      fetch(wholeUrl, { credentials: "same-origin", cache: "no-cache", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { apply(new DOMParser().parseFromString(html, "text/html")); } })
        .catch(function () { /* the next poll tries again */ });
      return;
    }
    var order = [];
    var added = 0;
    entries.forEach(function (entry) {
      var id = String(entry[0]);
      var item = named[id];
      var li = current[id];
      if (li && item) {
        update(li, item);
      } else if (li) {
        updateShort(li, entry, statuses);
      } else if (item) {
        li = personalize(document.importNode(item, true));
        if (!seen[id] && !mine[id]) { added += 1; }
      } else {
        return;  // neither on the page nor named: only without the whole list to ask for
      }
      delete current[id];
      seen[id] = true;
      order.push(li);
    });
    // Gone from the shared list (hidden, or held back): the asker keeps their own; others lose it.
    Object.keys(current).forEach(function (id) {
      var li = current[id];
      if (mine[id]) { order.push(li); return; }
      if (contains(li)) { list.setAttribute("tabindex", "-1"); list.focus(); }
      li.remove();
    });
    var empty = list.querySelector("li.empty");
    if (empty && order.length) { empty.remove(); }
    if (!order.length && !empty) {
      var placeholder = fresh.querySelector("li.empty");
      if (placeholder) { list.appendChild(document.importNode(placeholder, true)); }
    }
    arrange(order);
    announce(added);
  }

  poll(refreshUrl, apply);

  // ＋1 without leaving the page (the form works without this): the count changes in place and
  // focus stays on the button.
  list.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("vote-form")) { return; }
    event.preventDefault();
    var li = form.closest("li[data-question-id]");
    var button = form.querySelector("button");
    if (button && button.getAttribute("aria-disabled") === "true") { return; }
    fetch(form.action, { method: "POST", credentials: "same-origin", body: new FormData(form),
                         headers: { "Accept": "application/json", "X-Requested-With": "fetch" } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (answer) {
        if (!answer.ok) { announcer.textContent = answer.data.error || ""; return; }
        voted[String(answer.data.question)] = true;
        markVoted(li, answer.data.votes);
      })
      .catch(function () { form.submit(); });
  });
})();
