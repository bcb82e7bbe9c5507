// Closing the site banner: remember it in a cookie (the server then leaves it out) and hide it.
(function () {
  var button = document.querySelector('[data-dismiss-banner]');
  if (!button) return;
  button.addEventListener('click', function () {
    var id = button.getAttribute('data-dismiss-banner');
    document.cookie = 'kd_banner=' + encodeURIComponent(id) + '; path=/; max-age=2592000; SameSite=Lax';
    var banner = document.getElementById('site-banner');
    if (banner) banner.remove();
  });
})();
