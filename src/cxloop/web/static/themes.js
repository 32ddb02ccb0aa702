// Draws the themes page's trend (share of comments per theme by month) from the JSON the server embeds.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("theme-trend-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data.themes.length) { return; }
  var traces = data.themes.map(function (theme) {
    var s = data.series[theme];
    return {x: s.x, y: s.y.map(function (v) { return v === null ? null : 100 * v; }), mode: "lines", name: theme};
  });
  Plotly.newPlot("theme-trend", traces,
    {margin: {t: 10, r: 10, b: 40, l: 50}, yaxis: {title: {text: "% of comments"}}},
    {displayModeBar: false, responsive: true});
});
