// Draws the dashboard's charts from the JSON the server embeds in #chart-data (no inline script, so the
// Content-Security-Policy needs no 'unsafe-inline'). Kinds: "band" (line with its interval as a band) and
// "bars" (bars with interval whiskers). Hover shows n for every point.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("chart-data");
  if (!node || !window.Plotly) { return; }
  var charts = JSON.parse(node.textContent);
  var config = {displayModeBar: false, responsive: true};
  charts.forEach(function (c) {
    if (!c.x.length || !document.getElementById(c.target)) { return; }
    // every chart names its axes and their units (the server sends the titles)
    var layout = {margin: {t: 10, r: 10, b: 70, l: 60}, xaxis: {title: {text: c.xtitle || ""}, automargin: true},
                  yaxis: {title: {text: c.ytitle || ""}, automargin: true}};
    var text = c.n.map(function (n) { return "n = " + n; });
    if (c.kind === "band") {
      var traces = [
        {x: c.x, y: c.high, mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"},
        {x: c.x, y: c.low, mode: "lines", line: {width: 0}, fill: "tonexty",
         fillcolor: "rgba(29,36,48,0.15)", name: c.confidence + " interval", hoverinfo: "skip"},
        {x: c.x, y: c.y, text: text, mode: "lines+markers", name: c.name, line: {color: "#1d2430"},
         hovertemplate: "%{x}: %{y:.1f} (%{text})<extra></extra>"}
      ];
      // the target, the parent's and the company's lines (named by level), dashed
      var styles = {target: {color: "#1d4ed8", dash: "dash"}, parent: {color: "#b45309", dash: "dot"},
                    company: {color: "#6b7280", dash: "dashdot"}};
      (c.lines || []).forEach(function (line) {
        traces.push({x: c.x, y: line.y, mode: "lines", name: line.label,
                     line: styles[line.name] || {color: "#6b7280", dash: "dot"},
                     hovertemplate: "%{x}: %{y:.1f} (" + line.label + ")<extra></extra>"});
      });
      Plotly.newPlot(c.target, traces, layout, config);
    } else {
      Plotly.newPlot(c.target, [{
        type: "bar", x: c.x, y: c.y, text: text, name: c.name, marker: {color: "#44546a"},
        error_y: {type: "data", symmetric: false,
                  array: c.high.map(function (h, i) { return h - c.y[i]; }),
                  arrayminus: c.low.map(function (l, i) { return c.y[i] - l; })},
        hovertemplate: "%{x}: %{y:.1f} (%{text})<extra></extra>", textposition: "none"
      }], layout, config);
    }
  });
});
