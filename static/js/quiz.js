// An attempt's form: every change is saved in the background (so a dropped connection loses at
// most the last few seconds), and at the deadline the form hands itself in. Without script the
// 保存 and 交卷 buttons do the same, and the server closes a late attempt with what it saved.
(function () {
  var form = document.getElementById('quiz-form');
  if (!form) return;
  var status = document.getElementById('autosave-status');
  var timer = null;
  var say = function (key) {
    if (!status) return;
    var d = new Date();
    var text = status.getAttribute(key) || '';
    status.textContent = text.replace('{t}', d.getHours() + ':' + (d.getMinutes() < 10 ? '0' : '') + d.getMinutes());
  };
  var save = function () {
    timer = null;
    var body = new URLSearchParams(new FormData(form));
    body.append('autosave', '1');
    fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin' }).then(function (r) {
      if (r.status === 204) { say('data-saved'); return; }
      if (r.status === 409) { window.location.reload(); return; }
      say('data-failed');
    }, function () { say('data-failed'); });
  };
  var later = function (wait) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, wait);
  };
  var counter = document.getElementById('answered');
  var count = function () {
    if (!counter) return;
    var n = 0;
    form.querySelectorAll('.quiz-item').forEach(function (item) {
      var picked = item.querySelector('input:checked');
      var typed = Array.prototype.some.call(item.querySelectorAll('input[type=text], textarea'), function (f) { return f.value.trim() !== ''; });
      if (picked || typed) n += 1;
    });
    counter.textContent = counter.getAttribute('data-label').replace('{n}', n);
  };
  form.addEventListener('input', count);
  form.addEventListener('change', function () { count(); later(200); });
  form.addEventListener('input', function (e) { if (e.target.tagName !== 'INPUT' || e.target.type === 'text') later(1500); });
  var deadline = parseInt(form.getAttribute('data-deadline'), 10);
  if (deadline) {
    var handIn = function () {
      var flag = document.createElement('input');
      flag.type = 'hidden'; flag.name = 'submit'; flag.value = '1';
      form.appendChild(flag);
      form.submit();
    };
    var wait = deadline * 1000 - Date.now();
    if (wait > 0) setTimeout(handIn, Math.min(wait, 2147483647));
  }
})();
