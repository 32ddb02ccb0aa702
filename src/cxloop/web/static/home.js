// Draws the NPS trend of the home page from the JSON the server embeds (no inline script needed).
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("trend-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data.x.length) { return; }
  Plotly.newPlot("trend", [
    {x: data.x, y: data.high, mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"},
    {x: data.x, y: data.low, mode: "lines", line: {width: 0}, fill: "tonexty",
     fillcolor: "rgba(29,36,48,0.15)", name: data.confidence + " interval"},
    {x: data.x, y: data.y, mode: "lines+markers", name: "NPS", line: {color: "#1d2430"}}
  ], {margin: {t: 10, r: 10, b: 40, l: 40}}, {displayModeBar: false, responsive: true});
});
