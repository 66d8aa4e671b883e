// Keyboard shortcuts: a key press clicks the button whose data-key matches it, so every
// shortcut submits the same form a mouse click would. Keys typed into a text field, or with a
// modifier held, are left alone.
"use strict";
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
    return;
  }
  var target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable)) {
    return;
  }
  var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (key === "ArrowLeft") { key = "1"; }
  if (key === "ArrowRight") { key = "2"; }
  var button = document.querySelector('button[data-key="' + CSS.escape(key) + '"]');
  if (button && !button.disabled) {
    event.preventDefault();
    button.disabled = true; // one submission per press
    var form = button.form;
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = button.name;
    hidden.value = button.value;
    if (button.name) { form.appendChild(hidden); }
    form.submit();
  }
});
