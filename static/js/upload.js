// Upload forms with a progress bar: the form posts through XMLHttpRequest so the bar can follow
// the bytes; without this script the same form posts normally.
(function () {
  document.querySelectorAll('form[data-upload-progress]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      var file = form.querySelector('input[type=file]');
      if (!file || !file.files.length || !window.FormData) return;
      event.preventDefault();
      var bar = form.querySelector('progress');
      var button = form.querySelector('button[type=submit]');
      if (bar) { bar.hidden = false; bar.value = 0; }
      if (button) button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.upload.onprogress = function (e) {
        if (bar && e.lengthComputable) bar.value = Math.round(e.loaded * 100 / e.total);
      };
      xhr.onload = function () {
        if (xhr.status < 400) { window.location.assign(xhr.responseURL || window.location.href); return; }
        document.open(); document.write(xhr.responseText); document.close();
      };
      xhr.onerror = function () { if (button) button.disabled = false; if (bar) bar.hidden = true; };
      xhr.send(new FormData(form));
    });
  });
})();
