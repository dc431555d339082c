// The web desk's script: progressive enhancement only (every form works without it).
// Loaded from our own origin (the Content-Security-Policy allows no inline script).
"use strict";

(function () {
  // "Select all shown": a checkbox [data-pick-all="<form id>"] ticks or clears every row's box
  // of that form (rows the live page adds included). Without the script it stays hidden and
  // each row is ticked on its own.
  function pickAll(all) {
    var selector = 'input[type="checkbox"][form="' + all.getAttribute("data-pick-all") + '"]';
    function boxes() {
      return Array.prototype.filter.call(document.querySelectorAll(selector), function (box) {
        return box !== all;
      });
    }
    function sync() {
      var list = boxes();
      var ticked = list.filter(function (box) { return box.checked; }).length;
      all.checked = list.length > 0 && ticked === list.length;
      all.indeterminate = ticked > 0 && ticked < list.length;
    }
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    });
    document.addEventListener("change", function (event) {
      if (event.target !== all && event.target.matches && event.target.matches(selector)) sync();
    });
    sync();
  }

  // Screens add their behaviour through data attributes; see each template.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-pick-all]").forEach(pickAll);
    document.dispatchEvent(new CustomEvent("desk:ready"));
  });
})();
