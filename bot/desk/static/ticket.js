// The ticket page: choosing a template puts its text into the answer box (without script the
// server answers with the chosen template when the box is empty).
"use strict";

(function () {
  function init() {
    var picker = document.getElementById("answer-template");
    var box = document.getElementById("answer-text");
    if (!picker || !box) {
      return;
    }
    picker.addEventListener("change", function () {
      var option = picker.options[picker.selectedIndex];
      var text = option ? option.getAttribute("data-text") : "";
      if (text && !box.value.trim()) {
        box.value = text;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
