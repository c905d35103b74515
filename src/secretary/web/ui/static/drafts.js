// The approval queue (issue 7): "Approve & send" sends exactly the text in the box, so once
// the text is edited the button says so, and leaving the page with typed, unsent text asks
// first. A static file: the CSP forbids inline script.
(function () {
  "use strict";
  var dirty = new Set();

  function label(form, edited) {
    var button = form.querySelector("[data-approve]");
    if (!button) return;
    if (!button.dataset.original) button.dataset.original = button.textContent;
    button.textContent = edited ? "Save edit & send" : button.dataset.original;
  }

  document.addEventListener("input", function (ev) {
    var box = ev.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.matches("[data-edit]")) return;
    var edited = box.value !== box.defaultValue;
    if (edited) dirty.add(box); else dirty.delete(box);
    if (box.form) label(box.form, edited);
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    form.querySelectorAll("[data-edit]").forEach(function (box) { dirty.delete(box); });
  });

  window.addEventListener("beforeunload", function (ev) {
    if (dirty.size > 0) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });
})();
