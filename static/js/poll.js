// Asks the server where the order stands and moves on once it is no longer pending; never trusts
// the browser. With data-poll (the QR page) it asks every 3 s; any page with it asks again when
// shown again: restored by the back button after paying, or returned to from a payment app.
(function () {
  var el = document.querySelector("[data-order-status]");
  if (!el) return;
  var url = el.getAttribute("data-order-status");
  var next = el.getAttribute("data-next");
  var poll = el.hasAttribute("data-poll");
  function check() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.status !== "pending") { window.location.replace(next); } else if (poll) { setTimeout(check, 3000); }
      })
      .catch(function () { if (poll) setTimeout(check, 5000); });
  }
  if (poll) setTimeout(check, 3000);
  window.addEventListener("pageshow", function (e) { if (e.persisted) check(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) check(); });
})();
