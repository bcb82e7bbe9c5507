// The pay page shown again (restored by the back button after paying, or returned to from a
// payment app) asks the server where the order stands and moves on when it is paid or closed.
(function () {
  var el = document.querySelector("[data-order-status]");
  if (!el) return;
  var check = function () {
    fetch(el.getAttribute("data-order-status"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s && s.status !== "pending") window.location.replace(el.getAttribute("data-next")); })
      .catch(function () {});
  };
  window.addEventListener("pageshow", function (e) { if (e.persisted) check(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) check(); });
})();
