// Optional enhancements; every page works without this file.
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
