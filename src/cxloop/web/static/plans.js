// Draws an action's measured change (before vs after, with interval bars) from the JSON the page embeds.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("change-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data || !data.x || !data.x.length) { return; }
  var plus = data.y.map(function (y, i) { return data.high[i] - y; });
  var minus = data.y.map(function (y, i) { return y - data.low[i]; });
  Plotly.newPlot("change", [{
    x: data.x, y: data.y, type: "scatter", mode: "markers", marker: {size: 12, color: "#1d2430"},
    error_y: {type: "data", symmetric: false, array: plus, arrayminus: minus, color: "#5a6372"},
    name: data.label + " (" + data.confidence + " interval)"
  }], {margin: {t: 10, r: 10, b: 60, l: 60}, xaxis: {title: {text: data.xtitle || "Period"}, automargin: true},
        yaxis: {title: {text: data.label}, automargin: true}},
  {displayModeBar: false, responsive: true});
});
