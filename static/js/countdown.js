// Countdowns, without blocking the page: a button that may be pressed again only after a wait
// (data-wait="60": 获取验证码 after a code was sent), and a deadline shown as the time left
// (data-until="<unix seconds>": the pay deadline, the next live session; data-day names days). Without script the server's own limits and the
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
    var day = el.getAttribute('data-day') || 'd';
    var tick = function () {
      var secs = until - Math.floor(Date.now() / 1000);
      if (secs <= 0) { el.textContent = expired; return; }
      var d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60), s = secs % 60;
      var left = secs < 3600 ? m + ':' + pad(s) : (d > 0 ? d + day + ' ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s);
      el.textContent = template.replace('{t}', left);
      setTimeout(tick, 1000);
    };
    tick();
  });
})();
