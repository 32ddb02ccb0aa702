// Draws the NPS trend of the home page from the JSON the server embeds (no inline script needed), with the
// lines to read it against: the target, the parent's and the company's aggregates (named by level).
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("trend-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data.x.length) { return; }
  var styles = {
    target: {color: "#1d4ed8", dash: "dash", width: 2},
    parent: {color: "#b45309", dash: "dot", width: 2},
    company: {color: "#6b7280", dash: "dashdot", width: 2}
  };
  var traces = [
    {x: data.x, y: data.high, mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"},
    {x: data.x, y: data.low, mode: "lines", line: {width: 0}, fill: "tonexty",
     fillcolor: "rgba(29,36,48,0.15)", name: data.confidence + " interval"},
    {x: data.x, y: data.y, mode: "lines+markers", name: "NPS", line: {color: "#1d2430"}}
  ];
  (data.lines || []).forEach(function (line) {
    traces.push({x: data.x, y: line.y, mode: "lines", name: line.label, connectgaps: false,
                 line: styles[line.name] || {color: "#6b7280", dash: "dot"}});
  });
  Plotly.newPlot("trend", traces, {margin: {t: 10, r: 10, b: 50, l: 60}, legend: {orientation: "h", y: -0.35},
                                  xaxis: {title: {text: data.xtitle || "Month"}, automargin: true},
                                  yaxis: {title: {text: data.ytitle || "NPS"}, automargin: true}},
                 {displayModeBar: false, responsive: true});
});
