// Tracing zoom and a two-click caliper (ms and mV) on the ECG paper SVG.
// Paper scale from the SVG's data-mm-per-s / data-mm-per-mv attributes (25 mm/s, 10 mm/mV by default).
(function () {
  "use strict";
  function init() {
    var box = document.getElementById("tracing");
    if (!box) return;
    var svg = box.querySelector("svg");
    if (!svg) return;
    var zoom = 1;
    var vb = svg.viewBox.baseVal;
    var baseW = vb && vb.width ? vb.width : svg.getBoundingClientRect().width;
    var baseH = vb && vb.height ? vb.height : svg.getBoundingClientRect().height;
    var level = document.getElementById("zoom-level");
    function apply() {
      svg.setAttribute("width", (baseW * zoom) + "mm");
      svg.setAttribute("height", (baseH * zoom) + "mm");
      if (level) level.textContent = Math.round(zoom * 100) + " %";
    }
    // Default: the whole recording fits the box's width (true size when it fits); buttons for both.
    function fit() {
      var px = baseW * 96 / 25.4;                 // CSS px of the paper at true size
      var room = box.clientWidth - 2;
      return room > 0 && px > room ? room / px : 1;
    }
    zoom = fit();
    apply();
    function on(id, f) { var b = document.getElementById(id); if (b) b.addEventListener("click", function () { f(); apply(); }); }
    on("zoom-in", function () { zoom = Math.min(zoom * 1.25, 8); });
    on("zoom-out", function () { zoom = Math.max(zoom / 1.25, 0.25); });
    on("zoom-fit", function () { zoom = fit(); });
    on("zoom-true", function () { zoom = 1; });
    var mmPerS = parseFloat(svg.getAttribute("data-mm-per-s") || "25");
    var mmPerMv = parseFloat(svg.getAttribute("data-mm-per-mv") || "10");
    var out = document.getElementById("caliper-out");
    var first = null, marks = [];
    function toUser(evt) {
      var pt = svg.createSVGPoint();
      pt.x = evt.clientX; pt.y = evt.clientY;
      return pt.matrixTransform(svg.getScreenCTM().inverse());
    }
    function mark(p) {
      var c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
      c.setAttribute("cx", p.x); c.setAttribute("cy", p.y); c.setAttribute("r", 0.8);
      c.setAttribute("class", "caliper-mark");
      svg.appendChild(c); marks.push(c);
    }
    svg.addEventListener("click", function (evt) {
      var p = toUser(evt);
      if (first === null) {
        marks.forEach(function (m) { m.remove(); }); marks = [];
        first = p; mark(p); out.textContent = "…";
      } else {
        mark(p);
        var ms = Math.abs(p.x - first.x) / mmPerS * 1000;
        var mv = (first.y - p.y) / mmPerMv;
        out.textContent = Math.round(ms) + " ms, " + mv.toFixed(2) + " mV";
        first = null;
      }
    });
  }
  // Drop files anywhere on the upload card: they go into the file input and are sent.
  function initDrop() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("files");
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (evt) { evt.preventDefault(); form.classList.add("dragging"); });
    });
    form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
    form.addEventListener("drop", function (evt) {
      evt.preventDefault();
      form.classList.remove("dragging");
      if (evt.dataTransfer && evt.dataTransfer.files.length) { input.files = evt.dataTransfer.files; form.submit(); }
    });
  }
  // A refused signature: bring its message (and the statements still to decide) into view.
  function showRefusal() {
    var err = document.getElementById("sign-error");
    if (err) { err.setAttribute("tabindex", "-1"); err.scrollIntoView({block: "start"}); err.focus({preventScroll: true}); }
  }
  function start() { init(); initDrop(); showRefusal(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
