// medbook: sidebar toggle on small screens (no dependencies, works offline).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector(".sidebar-toggle");
  var sidebar = document.getElementById("sidebar");
  if (!button || !sidebar) { return; }
  button.addEventListener("click", function () {
    var open = sidebar.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
});
