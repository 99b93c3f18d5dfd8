// The previous ECG beside this one: both tracings scroll together (same time on screen, same scale).
(function () {
  "use strict";
  function init() {
    var boxes = document.querySelectorAll("#serial-pair .tracing-box");
    if (boxes.length !== 2) return;
    var busy = false;
    function follow(from, to) {
      from.addEventListener("scroll", function () {
        if (busy) return;
        busy = true;
        to.scrollLeft = from.scrollLeft;
        to.scrollTop = from.scrollTop;
        window.requestAnimationFrame(function () { busy = false; });
      });
    }
    follow(boxes[0], boxes[1]);
    follow(boxes[1], boxes[0]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
