// Scan page: the opt-in "share my position" button. The browser asks the person first; the
// position is rounded to about a kilometre here, so a precise one never leaves the phone, and
// sent with the form like the province. Without JavaScript the button stays hidden.
(function () {
  var button = document.getElementById("share-location");
  if (!button || !navigator.geolocation) return;
  var status = document.getElementById("share-location-status");
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var form = button.form;
        [["lat", position.coords.latitude], ["lon", position.coords.longitude]].forEach(
          function (pair) {
            var input = document.createElement("input");
            input.type = "hidden";
            input.name = pair[0];
            input.value = pair[1].toFixed(2);
            form.appendChild(input);
          }
        );
        form.submit();
      },
      function () {
        button.disabled = false;
        if (status) status.textContent = button.getAttribute("data-refused");
      },
      { enableHighAccuracy: false, maximumAge: 600000, timeout: 20000 }
    );
  });
})();
