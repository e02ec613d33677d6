// Optional enhancements; every page works without this file.
// Marks the page as scripted, for styles that only make sense with JavaScript (and for the
// browser tests, which check that a page really ran without it).
document.documentElement.className += " js";
// Cooperative form: reload the commune list when the province changes.
(function () {
  var province = document.getElementById("province_code");
  var commune = document.getElementById("commune_code");
  var refresh = document.getElementById("refresh-communes");
  if (!province || !commune) return;
  if (refresh) refresh.hidden = true;
  province.addEventListener("change", function () {
    fetch("/api/v1/provinces/" + encodeURIComponent(province.value) + "/communes")
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) {
        commune.innerHTML = "";
        list.forEach(function (c) {
          var o = document.createElement("option");
          o.value = c.code; o.textContent = c.name;
          commune.appendChild(o);
        });
      });
  });
})();
// Payment page: asks every few seconds whether the bank has confirmed the transfer and reloads
// once it has, rather than reloading on a timer (which throws a screen reader back to the top
// of the page). Without JavaScript the page's <noscript> refresh reloads it every 15 seconds.
(function () {
  var status = document.querySelector("[data-poll]");
  if (!status || !window.fetch) return;
  var url = status.getAttribute("data-poll");
  function check() {
    fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.payment && body.payment.status !== "pending") location.reload();
        else setTimeout(check, 3000);
      })
      .catch(function () { setTimeout(check, 6000); });
  }
  setTimeout(check, 3000);
})();
