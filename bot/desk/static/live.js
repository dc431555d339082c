// Live updates of the web desk (server-sent events from /desk/events), for signed-in staff.
//
// What a page offers, by data attributes (no inline script: the CSP forbids it):
// - a queue list: <table data-live="queue" [data-row-url="/desk/tickets/{id}/row"]
//   [data-limit="50"] [data-open-only]> with rows <tr data-ticket-id data-deadline="ISO">; a new
//   ticket's row is fetched and placed by deadline, or counted in "N нових — оновити";
// - a ticket's thread: <section data-live="thread" data-ticket-id="ID"><ol><li data-message-id>
//   items; new ones come from GET /desk/tickets/ID/thread?after=LAST_MESSAGE_ID (<li> items);
// - card fields anywhere inside an element with data-ticket-id: [data-field="status"],
//   [data-field="assignee"];
// - the soft lock: <p id="presence" data-ticket-id="ID"> shows "<name> відповідає…" for 20 s
//   after a colleague's last ping; typing in a textarea inside [data-live="answer"] (within the
//   ticket's data-ticket-id) pings POST /desk/tickets/ID/typing every few seconds.
// Changes are announced politely through #live-announce (role="status").
"use strict";

(function () {
  var PRESENCE_MS = 20000;
  var PING_MS = 5000;
  var OPEN = { "new": true, "in_progress": true, "answered": true };

  function start() {
    var root = document.getElementById("live");
    if (!root || !window.EventSource) { return; }
    var texts = root.dataset;
    var lang = document.documentElement.lang || "uk";
    var mine = (texts.departments || "").split(" ");
    var lastId = "";
    var failures = 0;
    var source = null;
    var unplaced = {};
    var presenceTimer = null;

    function fill(template, values) {
      return (template || "").replace(/\{(\w+)\}/g, function (all, name) {
        return values[name] === undefined || values[name] === null ? "" : String(values[name]);
      });
    }

    function announce(text) {
      var region = document.getElementById("live-announce");
      if (!region || !text) { return; }
      region.textContent = "";
      window.setTimeout(function () { region.textContent = text; }, 50);
    }

    function notice(text) {
      var box = document.getElementById("live-notice");
      if (!box) { return; }
      box.textContent = text || "";
      box.hidden = !text;
    }

    function worksIn(queue) { return mine[0] === "*" || mine.indexOf(queue) >= 0; }

    function statusText(data) {
      return (data.status_text && (data.status_text[lang] || data.status_text.uk)) || data.status;
    }

    function scopes(ticketId) {
      return document.querySelectorAll('[data-ticket-id="' + ticketId + '"]');
    }

    function refreshFields(data) {
      scopes(data.ticket).forEach(function (scope) {
        scope.querySelectorAll('[data-field="status"]').forEach(function (field) {
          field.textContent = statusText(data);
        });
        scope.querySelectorAll('[data-field="assignee"]').forEach(function (field) {
          field.textContent = data.assignee || "—";
        });
      });
    }

    // -- the queue list -----------------------------------------------------------------------

    function queueTable() { return document.querySelector('table[data-live="queue"]'); }

    function showUnplaced(table) {
      var count = Object.keys(unplaced).length;
      var button = document.getElementById("live-more");
      if (!button || !count) { return; }
      button.textContent = fill(texts.tMore, { count: count });
      if (button.parentNode !== table.parentNode) {
        table.parentNode.insertBefore(button, table);
      }
      button.hidden = false;
    }

    function placeRow(table, html, data) {
      var holder = document.createElement("tbody");
      holder.innerHTML = html.trim();
      var row = holder.querySelector("tr[data-ticket-id]");
      var body = table.tBodies[0];
      if (!row || !body || body.querySelector('tr[data-ticket-id="' + data.ticket + '"]')) { return false; }
      var deadline = row.dataset.deadline || "";
      var rows = body.querySelectorAll("tr[data-ticket-id]");
      var before = null;
      for (var i = 0; i < rows.length; i++) {
        var other = rows[i].dataset.deadline || "";
        if (deadline && (!other || new Date(other) > new Date(deadline))) { before = rows[i]; break; }
      }
      var limit = parseInt(table.dataset.limit || "0", 10);
      if (!before && limit && rows.length >= limit) { return false; }
      row.classList.add("live-fresh");
      body.insertBefore(row, before);
      var empty = document.querySelector("[data-live-empty]");
      if (empty) { empty.hidden = true; }
      return true;
    }

    function newTicket(data) {
      var table = queueTable();
      if (!table || !worksIn(data.queue)) { return; }
      announce(fill(texts.tNewTicket, { number: data.number }));
      var template = table.dataset.rowUrl;
      if (!template) { unplaced[data.ticket] = true; showUnplaced(table); return; }
      fetch(template.replace("{id}", data.ticket), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (!html || !placeRow(table, html, data)) {
            unplaced[data.ticket] = true;
            showUnplaced(table);
          }
        });
    }

    function changedRow(data) {
      var table = queueTable();
      if (!table) { return false; }
      var row = table.querySelector('tr[data-ticket-id="' + data.ticket + '"]');
      if (!row) { return false; }
      if (table.hasAttribute("data-open-only") && (!OPEN[data.status] || !worksIn(data.queue))) {
        row.parentNode.removeChild(row);
      } else {
        row.classList.add("live-fresh");
      }
      return true;
    }

    // -- a ticket's page ----------------------------------------------------------------------

    function threadOf(ticketId) {
      return document.querySelector('[data-live="thread"][data-ticket-id="' + ticketId + '"]');
    }

    function appendThread(section) {
      var list = section.querySelector("ol");
      if (!list || section.dataset.loading) { return; }
      var items = list.querySelectorAll("li[data-message-id]");
      var after = items.length ? items[items.length - 1].dataset.messageId : "0";
      section.dataset.loading = "1";
      fetch("/desk/tickets/" + section.dataset.ticketId + "/thread?after=" + after,
        { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          var holder = document.createElement("ol");
          holder.innerHTML = html;
          Array.prototype.slice.call(holder.querySelectorAll("li[data-message-id]"))
            .forEach(function (item) {
              if (!list.querySelector('li[data-message-id="' + item.dataset.messageId + '"]')) {
                list.appendChild(item);
              }
            });
        })
        .finally(function () { delete section.dataset.loading; });
    }

    function showPresence(data) {
      var line = document.querySelector('#presence[data-ticket-id="' + data.ticket + '"]');
      if (!line) { return; }
      var text = fill(texts.tTyping, { name: data.actor || "" });
      if (line.textContent !== text) { line.textContent = text; }
      window.clearTimeout(presenceTimer);
      presenceTimer = window.setTimeout(function () { line.textContent = ""; }, PRESENCE_MS);
    }

    function watchTyping() {
      var lastPing = 0;
      document.addEventListener("input", function (event) {
        var box = event.target;
        if (!box || box.tagName !== "TEXTAREA" || !box.closest('[data-live="answer"]')) { return; }
        var scope = box.closest("[data-ticket-id]");
        var now = Date.now();
        if (!scope || now - lastPing < PING_MS) { return; }
        lastPing = now;
        fetch("/desk/tickets/" + scope.dataset.ticketId + "/typing", {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": texts.csrf || "" }
        });
      });
    }

    // -- the stream ---------------------------------------------------------------------------

    function handle(kind, message) {
      if (message.lastEventId) { lastId = message.lastEventId; }
      var data = JSON.parse(message.data || "{}");
      if (kind === "presence") { showPresence(data); return; }
      refreshFields(data);
      if (kind === "ticket") { newTicket(data); return; }
      var section = threadOf(data.ticket);
      if (kind === "message" && section) { appendThread(section); }
      var shown = changedRow(data) || section;
      if (!shown) { return; }
      if (kind === "message" && data.what === "resident") {
        announce(fill(texts.tMessage, { number: data.number }));
      } else if (kind === "event") {
        var values = { number: data.number, status: statusText(data), name: data.actor };
        announce(fill(data.actor ? texts.tChangedBy : texts.tChanged, values));
      }
    }

    function connect() {
      var url = root.dataset.events + (lastId ? "?last=" + encodeURIComponent(lastId) : "");
      source = new EventSource(url);
      source.onopen = function () { failures = 0; notice(""); };
      ["ticket", "message", "event", "presence"].forEach(function (kind) {
        source.addEventListener(kind, function (message) { handle(kind, message); });
      });
      source.addEventListener("reload", function () {
        source.close();
        notice(texts.tReload);
        announce(texts.tReload);
      });
      source.addEventListener("signed_out", function () {
        source.close();
        window.location.assign("/desk/login");
      });
      source.onerror = function () {
        // The browser retries a dropped stream by itself (with Last-Event-ID); a refused one
        // (signed out, server down) is closed: retry with a growing pause.
        if (source.readyState !== EventSource.CLOSED) { return; }
        failures += 1;
        if (failures > 1) { notice(texts.tOffline); }
        var pause = Math.min(60000, 1000 * Math.pow(2, failures)) * (0.5 + Math.random() / 2);
        // Refused because the session ended? Then the login form, not retries.
        fetch("/desk/", { credentials: "same-origin", redirect: "manual" })
          .then(function (response) {
            if (response.type === "opaqueredirect") {
              window.location.assign("/desk/login");
            } else {
              window.setTimeout(connect, pause);
            }
          }, function () { window.setTimeout(connect, pause); });
      };
    }

    document.getElementById("live-more").addEventListener("click", function () {
      window.location.reload();
    });
    watchTyping();
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
