// Countdowns, without blocking the page: a button that may be pressed again only after a wait
// (data-wait="60": 获取验证码 after a code was sent), and a deadline shown as the time left
// (data-until="<unix seconds>": the pay deadline). Without script the server's own limits and the
// printed deadline still hold.
(function () {
  var pad = function (n) { return (n < 10 ? '0' : '') + n; };
  document.querySelectorAll('button[data-wait]').forEach(function (button) {
    var left = parseInt(button.getAttribute('data-wait'), 10) || 0;
    var label = button.textContent;
    var template = button.getAttribute('data-wait-label') || '{n}';
    var tick = function () {
      if (left <= 0) { button.disabled = false; button.textContent = label; return; }
      button.disabled = true;
      button.textContent = template.replace('{n}', left);
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  });
  document.querySelectorAll('[data-until]').forEach(function (el) {
    var until = parseInt(el.getAttribute('data-until'), 10) || 0;
    var template = el.getAttribute('data-left') || '{t}';
    var expired = el.getAttribute('data-expired') || '';
    var tick = function () {
      var secs = until - Math.floor(Date.now() / 1000);
      if (secs <= 0) { el.textContent = expired; return; }
      el.textContent = template.replace('{t}', Math.floor(secs / 60) + ':' + pad(secs % 60));
      setTimeout(tick, 1000);
    };
    tick();
  });
})();
