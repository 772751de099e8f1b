// Pan, zoom and node selection for the server-drawn network picture (no inline script: the
// Content-Security-Policy allows only scripts served from here).
(function () {
  "use strict";
  var svg = document.getElementById("network");
  if (!svg) { return; }
  var view = svg.querySelector("g.viewport");
  var vb = svg.viewBox.baseVal;
  var box = { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
  var full = { x: box.x, y: box.y, w: box.w, h: box.h };
  function apply() { svg.setAttribute("viewBox", box.x + " " + box.y + " " + box.w + " " + box.h); }
  function toSvg(evt) {
    var r = svg.getBoundingClientRect();
    return { x: box.x + (evt.clientX - r.left) / r.width * box.w,
             y: box.y + (evt.clientY - r.top) / r.height * box.h };
  }
  svg.addEventListener("wheel", function (evt) {
    evt.preventDefault();
    var p = toSvg(evt);
    var k = evt.deltaY < 0 ? 0.85 : 1 / 0.85;
    var w = Math.min(Math.max(box.w * k, full.w / 20), full.w * 4);
    k = w / box.w;
    box.x = p.x - (p.x - box.x) * k; box.y = p.y - (p.y - box.y) * k;
    box.w = w; box.h = box.h * k; apply();
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (evt) {
    if (evt.target.tagName === "circle") { return; }
    drag = { x: evt.clientX, y: evt.clientY, bx: box.x, by: box.y };
    svg.setPointerCapture(evt.pointerId);
  });
  svg.addEventListener("pointermove", function (evt) {
    if (!drag) { return; }
    var r = svg.getBoundingClientRect();
    box.x = drag.bx - (evt.clientX - drag.x) / r.width * box.w;
    box.y = drag.by - (evt.clientY - drag.y) / r.height * box.h; apply();
  });
  svg.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("dblclick", function () { box = { x: full.x, y: full.y, w: full.w, h: full.h }; apply(); });
  // Click selects a node and dims everything not linked to it; a second click opens it.
  var lines = svg.querySelectorAll("line[data-a]");
  var circles = svg.querySelectorAll("circle.node");
  var selected = null;
  function select(i) {
    selected = i;
    var near = {}; near[i] = true;
    lines.forEach(function (l) {
      var on = l.dataset.a === i || l.dataset.b === i;
      l.classList.toggle("dim", !on);
      if (on) { near[l.dataset.a] = true; near[l.dataset.b] = true; }
    });
    circles.forEach(function (c) {
      c.classList.toggle("dim", !near[c.dataset.i]);
      c.classList.toggle("sel", c.dataset.i === i);
    });
  }
  circles.forEach(function (c) {
    c.parentNode.addEventListener("click", function (evt) {
      if (selected !== c.dataset.i) { evt.preventDefault(); select(c.dataset.i); }
    });
  });
  svg.dataset.ready = String(circles.length);
})();
