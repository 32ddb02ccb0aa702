// Draws the pilot report's charts (DiD means and event study per metric) from the JSON the server embeds.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("pilot-charts");
  if (!node || !window.Plotly) { return; }
  var charts = JSON.parse(node.textContent);
  var layout = function (xtitle, ytitle, shapes) {
    return {margin: {t: 10, r: 10, b: 50, l: 60}, xaxis: {title: {text: xtitle}, automargin: true},
            yaxis: {title: {text: ytitle}, automargin: true}, shapes: shapes,
            legend: {orientation: "h", y: 1.12}};
  };
  var options = {displayModeBar: false, responsive: true};
  Object.keys(charts).forEach(function (metric) {
    var c = charts[metric], k = c.scale;
    var scaled = function (rows, key) { return rows.map(function (r) { return r[key] === null ? null : r[key] * k; }); };
    var periods = c.means.map(function (r) { return r.period; });
    var start = {type: "line", xref: "x", yref: "paper", x0: c.start, x1: c.start, y0: 0, y1: 1,
                 line: {color: "#b42318", dash: "dash", width: 1}};
    Plotly.newPlot("did-" + metric, [
      {x: periods, y: scaled(c.means, "treated_mean"), mode: "lines+markers", name: "pilot units", line: {color: "#177245"}},
      {x: periods, y: scaled(c.means, "control_mean"), mode: "lines+markers", name: "controls", line: {color: "#1d2430"}}
    ], layout("Month", c.axis || c.label, [start]), options);
    var es = c.event_study;
    var ks = es.map(function (r) { return r.relative_period; });
    var eff = scaled(es, "effect");
    Plotly.newPlot("es-" + metric, [{
      x: ks, y: eff, mode: "markers", name: "effect", marker: {color: "#1d2430"},
      error_y: {type: "data", symmetric: false,
                array: es.map(function (r, i) { return r.ci_high === null ? 0 : r.ci_high * k - eff[i]; }),
                arrayminus: es.map(function (r, i) { return r.ci_low === null ? 0 : eff[i] - r.ci_low * k; })}
    }], layout("Months from the start", "Effect on " + (c.axis || c.label), [
      {type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: {color: "#5a6372", width: 1}},
      {type: "line", yref: "paper", x0: -0.5, x1: -0.5, y0: 0, y1: 1, line: {color: "#b42318", dash: "dash", width: 1}}
    ]), options);
  });
});
