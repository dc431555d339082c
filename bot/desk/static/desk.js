// The web desk's script: progressive enhancement only (every form works without it).
// Loaded from our own origin (the Content-Security-Policy allows no inline script).
"use strict";

(function () {
  // Screens add their behaviour through data attributes; see each template.
  document.addEventListener("DOMContentLoaded", function () {
    document.dispatchEvent(new CustomEvent("desk:ready"));
  });
})();
