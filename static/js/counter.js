// "123 / 500" under a text box with a limit, so a long text is never cut without the writer seeing
// it: the count turns to a warning at the limit (the box takes no more).
(function () {
  document.querySelectorAll("textarea[data-count]").forEach(function (box) {
    var out = document.getElementById(box.getAttribute("data-count"));
    var max = parseInt(box.getAttribute("maxlength"), 10) || 0;
    if (!out || !max) return;
    var show = function () {
      var n = Array.from(box.value).length;
      out.textContent = n + " / " + max;
      out.classList.toggle("at-limit", n >= max);
    };
    out.hidden = false;
    box.addEventListener("input", show);
    show();
  });
})();
