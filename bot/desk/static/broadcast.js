// News and polls: the live count of recipients while targets are ticked, and the live
// progress of a broadcast being sent. Progressive enhancement: the form posts without it (the
// count is shown after saving) and the progress page has a refresh link.
"use strict";

(function () {
  var TARGETS = ["topic", "district", "channel", "urgent"];

  function recount(form) {
    var params = new URLSearchParams();
    form.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      if (box.checked && TARGETS.indexOf(box.name) >= 0) {
        params.append(box.name, box.value);
      }
    });
    var shown = form.querySelector("[data-count]");
    if (!shown) {
      return;
    }
    fetch(form.dataset.countUrl + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && typeof data.count === "number") {
          shown.textContent = String(data.count);
        }
      })
      .catch(function () {});
  }

  function follow(section) {
    var url = section.dataset.progressUrl;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data) {
            return;
          }
          section.querySelectorAll("[data-field]").forEach(function (field) {
            var value = data[field.dataset.field];
            if (typeof value === "number") {
              field.textContent = String(value);
            }
          });
          if (data.finished) {
            window.location.reload();
          } else {
            window.setTimeout(tick, 2000);
          }
        })
        .catch(function () {
          window.setTimeout(tick, 5000);
        });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-count-url]").forEach(function (form) {
      form.addEventListener("change", function (event) {
        if (TARGETS.indexOf(event.target.name) >= 0) {
          recount(form);
        }
      });
    });
    document.querySelectorAll("[data-progress-url]").forEach(function (section) {
      if (section.dataset.status === "sending") {
        follow(section);
      }
    });
  });
})();
