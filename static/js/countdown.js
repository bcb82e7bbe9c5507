// Countdowns, without blocking the page: a button that may be pressed again only after a wait
// (data-wait="60": 获取验证码 after a code was sent), and a deadline shown as the time left
// (data-until="<unix seconds>": the pay deadline, the next live session; data-day names days). Without script the server's own limits and the
// printed deadline still hold.
(function () {
  var pad = function (n) { return (n < 10 ? '0' : '') + n; };
  // 获取验证码 remembers, per phone and for this tab, when it last sent a code: the wait survives
  // the page coming back with a wrong code.
  var sentKey = function (button) {
    var phone = document.getElementById(button.getAttribute('data-resend-for') || '');
    return phone && phone.value ? 'kedian.code-sent.' + phone.value : null;
  };
  var store = window.sessionStorage;
  document.querySelectorAll('button[data-resend-for]').forEach(function (button) {
    var key = sentKey(button);
    if (!key || !store) return;
    var wait = parseInt(button.getAttribute('data-wait'), 10) || 0;
    var now = Math.floor(Date.now() / 1000);
    if (wait > 0) {
      try { store.setItem(key, String(now)); } catch (e) {}
    } else {
      var left = 60 - (now - (parseInt(store.getItem(key), 10) || 0));
      if (left > 0 && left <= 60) button.setAttribute('data-wait', String(left));
    }
  });
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
      if (secs <= 0) {
        el.textContent = expired;
        // A deadline that has passed closes what it was for (the pay button).
        var selector = el.getAttribute('data-disables');
        if (selector) document.querySelectorAll(selector).forEach(function (b) { b.disabled = true; });
        return;
      }
      var d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60), s = secs % 60;
      var left = secs < 3600 ? m + ':' + pad(s) : (d > 0 ? d + day + ' ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s);
      el.textContent = template.replace('{t}', left);
      setTimeout(tick, 1000);
    };
    tick();
  });
})();
