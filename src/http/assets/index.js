(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var sort = document.getElementById("sort");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody tr"));
  var names = rows.map(function (row) { return row.getAttribute("data-name"); });
  function applyFilter() {
    var query = filter.value.trim().toLowerCase();
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = query === "" || names[i].indexOf(query) !== -1;
      if (rows[i].hidden === hit) rows[i].hidden = !hit;
      if (hit) count++;
    }
    shown.textContent = count + " of " + rows.length + " feeds";
  }
  function applySort() {
    var recent = sort.value === "recent";
    var byName = function (a, b) { return a.getAttribute("data-i") - b.getAttribute("data-i"); };
    var byRecency = function (a, b) { return b.getAttribute("data-t") - a.getAttribute("data-t") || byName(a, b); };
    var sections = document.querySelectorAll("section");
    for (var i = 0; i < sections.length; i++) {
      // Sorted across the section's chunks, which keep their sizes.
      var bodies = Array.prototype.slice.call(sections[i].querySelectorAll(".chunk tbody"));
      var sizes = bodies.map(function (body) { return body.rows.length; });
      var list = [];
      bodies.forEach(function (body) { list.push.apply(list, Array.prototype.slice.call(body.rows)); });
      list.sort(recent ? byRecency : byName);
      var next = 0;
      bodies.forEach(function (body, b) {
        var fragment = document.createDocumentFragment();
        for (var k = 0; k < sizes[b]; k++) fragment.appendChild(list[next++]);
        body.appendChild(fragment);
      });
    }
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text;
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  filter.addEventListener("input", applyFilter);
  sort.addEventListener("change", applySort);
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-url]");
    if (!button) return;
    var url = new URL(button.getAttribute("data-url"), document.baseURI).href;
    copy(url).then(function () { button.textContent = "Copied"; }, function () { button.textContent = url; });
  });
  filter.disabled = false;
  sort.disabled = false;
  applyFilter();
  document.documentElement.setAttribute("data-ready", "");
})();
