// Every page: a table (or a .scroll box) wider than its card scrolls inside it (cxloop.css); it is made reachable
// from the keyboard (tabindex) and named for screen readers after the heading above it. Pages work without
// this script: it only adds keyboard scrolling to what the stylesheet already lets a finger scroll.
(function () {
  function label(table) {
    var node = table.previousElementSibling;
    while (node && !/^H[1-6]$/.test(node.tagName)) node = node.previousElementSibling;
    return node ? node.textContent.trim() : "Table";
  }
  function mark() {
    document.querySelectorAll("main table, main .scroll").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth + 1) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("role", "region");
        table.setAttribute("aria-label", label(table) + " (scrolls sideways)");
      } else if (table.getAttribute("role") === "region") {
        table.removeAttribute("tabindex");
        table.removeAttribute("role");
        table.removeAttribute("aria-label");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", function () { window.setTimeout(mark, 50); });
})();
