// 复制链接: copies the link in the box beside the button, and says so. Where the clipboard is
// not offered (an older in-app browser), the link is selected for the learner to copy.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) return;
    var label = button.textContent;
    var done = function () {
      button.textContent = button.getAttribute("data-copied") || label;
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    button.addEventListener("click", function () {
      box.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(box.value).then(done, function () { box.select(); });
      } else {
        try { if (document.execCommand("copy")) done(); } catch (e) {}
      }
    });
  });
})();
