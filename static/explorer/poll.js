// Pages that show work the warehouse worker is still doing (a query run, a restore) poll its
// status while it is pending, then reload to show the result. Mark the element with
// data-status (the JSON status URL), data-state (its state now) and, optionally, data-pending
// (the states that mean "not done yet", space-separated; default "queued running").
(function () {
  "use strict";
  document.querySelectorAll("[data-status][data-state]").forEach(function (el) {
    var pending = (el.dataset.pending || "queued running").split(" ");
    if (pending.indexOf(el.dataset.state) < 0) return;
    var poll = function () {
      fetch(el.dataset.status, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (pending.indexOf(s.state) >= 0) { setTimeout(poll, 250); }
          else { window.location.reload(); }
        })
        .catch(function () { setTimeout(poll, 1000); });
    };
    setTimeout(poll, 150);
  });
})();
