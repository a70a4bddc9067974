// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">.
// The data is inert JSON (no inline script), so the pages run under a strict Content-Security-Policy.
(function () {
  'use strict';
  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute('data-chart'));
    if (!source || typeof Chart === 'undefined') return;
    var spec = JSON.parse(source.textContent);
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: 'bottom' } }
    };
    if (spec.type === 'bar' || spec.type === 'line') {
      options.scales = { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true, title: { display: true, text: 'sats' } } };
    }
    new Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets: spec.datasets }, options: options });
    canvas.setAttribute('data-rendered', 'true');
  }
  function init() {
    var canvases = document.querySelectorAll('canvas[data-chart]');
    for (var i = 0; i < canvases.length; i++) draw(canvases[i]);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
