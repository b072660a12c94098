// Draws the overview's charts (Chart.js, served from the pinned npm package) from the JSON
// island next to each canvas. Amounts arrive as exact decimal strings: they become numbers only
// as coordinates; tooltips and the tables show the strings themselves.
(function () {
  "use strict";
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
  var COLORS = ["#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#57606a"];

  function coordinate(text) {
    return text === null || text === undefined ? null : Number(text);
  }

  function draw(canvas) {
    var island = document.getElementById(canvas.dataset.chart);
    if (!island || typeof window.Chart === "undefined") return null;
    var spec = JSON.parse(island.textContent);
    var old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    var stacked = spec.datasets.some(function (d) { return Boolean(d.stack); });
    var datasets = spec.datasets.map(function (d, n) {
      var color = COLORS[n % COLORS.length];
      var set = {
        type: d.type || "bar",
        label: d.label,
        data: d.values.map(coordinate),
        exact: d.values,
        backgroundColor: color,
        borderColor: color,
        maxBarThickness: 56,
      };
      if (d.stack) set.stack = d.stack;
      if (set.type === "line") {
        // A limit per category: a bold dash at its level, no line between categories.
        set.showLine = false;
        set.pointStyle = "line";
        set.pointRadius = 18;
        set.pointHoverRadius = 20;
        set.borderWidth = 3;
        set.order = -1;
      }
      return set;
    });
    return new window.Chart(canvas, {
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, title: { display: true, text: spec.currency } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var exact = ctx.dataset.exact[ctx.dataIndex];
                return ctx.dataset.label + ": " + spec.currency + " " + (exact === null ? "-" : exact);
              },
            },
          },
        },
      },
    });
  }

  function drawAll(root) {
    if (typeof window.Chart !== "undefined") {
      window.Chart.defaults.font.family = FONT;
      window.Chart.defaults.color = "#1f2328";
    }
    var drawn = 0;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (draw(canvas)) drawn += 1;
    });
    document.body.dataset.chartsDrawn = String(drawn);
    return drawn;
  }

  function forget(root) {
    if (typeof window.Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  window.scfDashboard = { drawAll: drawAll, forget: forget };
  drawAll(document);
})();
