// Draws the themes page's trend (share of comments per theme by month) from the JSON the server embeds.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("theme-trend-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data.themes.length) { return; }
  // Okabe-Ito: eight colours told apart with any colour vision; past eight (shown on request) lines dash.
  var colours = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
  var traces = data.themes.map(function (theme, i) {
    var s = data.series[theme];
    return {x: s.x, y: s.y.map(function (v) { return v === null ? null : 100 * v; }), mode: "lines",
            name: data.labels[theme] || theme,
            line: {color: colours[i % colours.length], dash: i < colours.length ? "solid" : "dash"}};
  });
  Plotly.newPlot("theme-trend", traces,
    {margin: {t: 10, r: 10, b: 50, l: 60}, xaxis: {title: {text: "Month"}, automargin: true},
     yaxis: {title: {text: "Share of comments (%)"}, automargin: true}},
    {displayModeBar: false, responsive: true});
});
