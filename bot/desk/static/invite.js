// The invitation page: the link's token is in the URL fragment (never sent to a server, so it
// is in no log). Copy it into the form, hide the field a person without script would paste it
// into, and take it out of the address bar and the history.
"use strict";

(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-invite]");
    var field = document.getElementById("token");
    var token = window.location.hash.replace(/^#/, "");
    if (!form || !field || !token) {
      return;
    }
    field.value = decodeURIComponent(token);
    var box = form.querySelector("[data-invite-token]");
    if (box) {
      box.hidden = true;
    }
    history.replaceState(null, "", window.location.pathname + window.location.search);
    var password = document.getElementById("password");
    if (password) {
      password.focus();
    }
  });
})();
