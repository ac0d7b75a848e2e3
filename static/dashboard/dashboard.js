// The dashboard's charts, drawn with the vendored Chart.js from the figures the page embeds
// (json_script "dashboard-figures": the worker's snapshot of the range; "dashboard-tiers": the
// stats page's newest figures). No request of its own: the page already holds every number.
(function () {
  "use strict";

  function embedded(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var COLOURS = ["#2f5fb3", "#17803d", "#b45309", "#b91c1c", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f",
                 "#a16207", "#475569"];

  function colour(i) { return COLOURS[i % COLOURS.length]; }

  // Bucket starts are ISO moments in UTC: hours read as "MM-DD HH:00", days and weeks as dates.
  function label(iso, bucket) {
    return bucket === "hour" || bucket === "6 hours" ? iso.slice(5, 13).replace("T", " ") + ":00" : iso.slice(0, 10);
  }

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false,
                                    interaction: {mode: "index", intersect: false}}, config.options || {});
    return new Chart(canvas, config);
  }

  function perQueue(figures, field, scale) {
    return figures.queues.map(function (queue, i) {
      var values = figures.series[queue][field].map(function (v) { return v === null ? null : v * (scale || 1); });
      return {label: queue, data: values, borderColor: colour(i), backgroundColor: colour(i), spanGaps: true,
              pointRadius: figures.buckets.length > 60 ? 0 : 2, borderWidth: 1.5};
    });
  }

  var figures = embedded("dashboard-figures");
  if (figures) {
    var labels = figures.buckets.map(function (iso) { return label(iso, figures.bucket); });
    chart("chart-throughput", {
      type: "bar", data: {labels: labels, datasets: perQueue(figures, "jobs")},
      options: {scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true, title: {display: true, text: "jobs per " + figures.bucket}}}}
    });
    chart("chart-failure-rate", {
      type: "line", data: {labels: labels, datasets: perQueue(figures, "failure_rate", 100)},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: "% failed, timed out or dead"}}}}
    });
    chart("chart-durations", {
      type: "bar",
      data: {labels: figures.per_queue.map(function (q) { return q.queue; }), datasets: [
        {label: "p50", data: figures.per_queue.map(function (q) { return q.p50_ms; }), backgroundColor: "#2f5fb3"},
        {label: "p95", data: figures.per_queue.map(function (q) { return q.p95_ms; }), backgroundColor: "#b45309"}
      ]},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: "ms, start to end"}}}}
    });
    chart("chart-p95", {
      type: "line", data: {labels: labels, datasets: perQueue(figures, "p95_ms")},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: "p95 ms"}}}}
    });
  }

  var tiers = embedded("dashboard-tiers");
  if (tiers) {
    var names = Object.keys(tiers);
    chart("chart-tiers", {
      type: "bar",
      data: {labels: names, datasets: [
        {label: "stored", data: names.map(function (t) { return tiers[t].stored_bytes; }), backgroundColor: "#17803d"},
        {label: "as JSON", data: names.map(function (t) { return tiers[t].raw_json_bytes; }), backgroundColor: "#b91c1c"}
      ]},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: "bytes"}}}}
    });
  }
}());
