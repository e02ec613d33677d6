// Search suggestions while typing, in the search boxes' shared <datalist>. Optional: the
// search form works without this file.
(function () {
  var list = document.getElementById("search-suggestions");
  if (!list || !window.fetch) return;
  var timer = null, last = "", pending = null;
  function fill(names) {
    list.textContent = "";
    names.forEach(function (name) {
      var o = document.createElement("option");
      o.value = name;
      list.appendChild(o);
    });
  }
  function ask(text) {
    if (text === last) return;
    last = text;
    if (pending && pending.abort) pending.abort();
    pending = window.AbortController ? new AbortController() : null;
    fetch("/api/v1/search/suggestions?q=" + encodeURIComponent(text),
          pending ? { signal: pending.signal } : {})
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (body) { fill(body.suggestions || []); })
      .catch(function () {});
  }
  document.querySelectorAll('input[list="search-suggestions"]').forEach(function (input) {
    input.addEventListener("input", function () {
      var text = input.value.trim();
      clearTimeout(timer);
      if (text.length < 2) { fill([]); last = ""; return; }
      timer = setTimeout(function () { ask(input.value); }, 150);
    });
  });
})();
