// Waits for the server to see the payment, then opens the order. Never trusts the browser.
(function () {
  var el = document.querySelector("[data-order-status]");
  if (!el) return;
  var url = el.getAttribute("data-order-status");
  var next = el.getAttribute("data-next");
  function check() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.status !== "pending") { window.location.href = next; } else { setTimeout(check, 3000); }
      })
      .catch(function () { setTimeout(check, 5000); });
  }
  setTimeout(check, 3000);
})();
