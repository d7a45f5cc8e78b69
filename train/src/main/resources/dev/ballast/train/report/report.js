// Draws the Ballast report from the JSON in #report-data with Apache ECharts (inlined above this script).
// Every chart container gets data-drawn (ink pixels counted on its canvas once ECharts says it finished) and
// data-points (finite points given to its series); <body> gets data-charts-total and data-charts-drawn, so a
// headless browser can check that every chart was drawn.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var app = document.getElementById('app');
  var total = 0, drawn = 0, charts = [];
  var palette = ['#5470c6', '#d14a4a', '#3a9a5b', '#c98a16', '#8e5bc6', '#2b9bb3', '#e07b39', '#6e7074', '#b5396e', '#4d8f2f'];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function finite(v) { return typeof v === 'number' && isFinite(v); }
  function pos(v) { return finite(v) && v > 0 ? v : null; }
  function fmt(v) {
    if (!finite(v)) return String(v);
    var a = Math.abs(v);
    return (a !== 0 && (a < 0.01 || a >= 1e5)) ? v.toExponential(2) : String(+v.toPrecision(3));
  }
  function countPoints(option) {
    var n = 0;
    (option.series || []).forEach(function (s) {
      (s.data || []).forEach(function (d) {
        var v = Array.isArray(d) ? d[d.length - 1] : (d && d.value !== undefined ? d.value : d);
        if (Array.isArray(v)) v = v[v.length - 1];
        if (finite(v)) n++;
      });
    });
    return n;
  }
  function ink(dom) {
    var c = dom.querySelector('canvas');
    if (!c) return 0;
    var ctx = c.getContext('2d'), img = ctx.getImageData(0, 0, c.width, c.height).data, n = 0;
    for (var i = 0; i < img.length; i += 16) if (img[i + 3] > 0 && (img[i] < 235 || img[i + 1] < 235 || img[i + 2] < 235)) n++;
    return n;
  }
  function chart(parent, id, option, wide) {
    var dom = el('div', 'chart' + (wide ? ' wide' : ''));
    dom.setAttribute('data-chart', id);
    parent.appendChild(dom);
    total++;
    option.animation = false;
    option.backgroundColor = '#fff';
    option.color = option.color || palette;
    option.textStyle = { fontSize: 11 };
    var points = countPoints(option);
    charts.push(function () {
      var c = echarts.init(dom, null, { renderer: 'canvas' });
      c.on('finished', function () {
        if (dom.hasAttribute('data-drawn')) return;
        dom.setAttribute('data-points', String(points));
        dom.setAttribute('data-drawn', String(ink(dom)));
        drawn++;
        document.body.setAttribute('data-charts-drawn', String(drawn));
      });
      c.setOption(option);
      window.addEventListener('resize', function () { c.resize(); });
    });
  }
  function title(text, sub) { return { text: text, subtext: sub || '', left: 8, top: 2, textStyle: { fontSize: 13 }, subtextStyle: { fontSize: 11 } }; }
  function xAxis(name) { return { type: 'value', name: name || 'step', nameLocation: 'middle', nameGap: 22, scale: true }; }
  function logAxis(name) { return { type: 'log', name: name, nameTextStyle: { align: 'left' }, logBase: 10, axisLabel: { formatter: fmt } }; }
  function grid() { return { left: 58, right: 24, top: 62, bottom: 40 }; }
  function pairs(steps, key) {
    return steps.filter(function (s) { return pos(s[key]) !== null; }).map(function (s) { return [s.step, s[key]]; });
  }
  function evalPairs(steps, metric) {
    return steps.filter(function (s) { return s.eval && finite(s.eval[metric]); }).map(function (s) { return [s.step, s.eval[metric]]; });
  }
  function metricOf(run) {
    for (var i = run.steps.length - 1; i >= 0; i--) {
      var ks = Object.keys(run.steps[i].eval || {}).filter(function (k) { return k !== 'loss'; });
      if (ks.length) return ks[0];
    }
    return null;
  }
  function divergeLine(run) {
    return run.divergedAt > 0 ? { silent: true, symbol: 'none', lineStyle: { color: '#d14a4a', type: 'dashed' },
      label: { formatter: 'NaN at ' + run.divergedAt, color: '#d14a4a' }, data: [{ xAxis: run.divergedAt }] } : undefined;
  }

  function lossChart(parent, run) {
    var series = [{ name: 'train loss', type: 'line', showSymbol: false, data: pairs(run.steps, 'loss'), markLine: divergeLine(run) }];
    var test = evalPairs(run.steps, 'loss').filter(function (p) { return p[1] > 0; });
    if (test.length) series.push({ name: 'test loss', type: 'line', symbolSize: 5, data: test });
    chart(parent, run.name + '/loss', { title: title('Loss', run.title), tooltip: { trigger: 'axis' }, legend: { top: 4, right: 8 },
      grid: grid(), xAxis: xAxis(), yAxis: logAxis('loss'), series: series });
  }
  function normChart(parent, run) {
    var series = [{ name: 'global grad norm', type: 'line', showSymbol: false, data: pairs(run.steps, 'grad_norm'), markLine: divergeLine(run) }];
    if (run.clip > 0) {
      series[0].markLine = { silent: true, symbol: 'none', lineStyle: { color: '#3a9a5b', type: 'dashed', width: 2 },
        label: { formatter: 'clip ' + fmt(run.clip), position: 'insideEndTop' }, data: [{ yAxis: run.clip }].concat(run.divergedAt > 0 ? [{ xAxis: run.divergedAt }] : []) };
    }
    chart(parent, run.name + '/grad-norm', { title: title('Global gradient norm (before clipping)', run.clip > 0 ? 'dashed: clip threshold ' + fmt(run.clip) : 'no clipping'),
      tooltip: { trigger: 'axis' }, grid: grid(), xAxis: xAxis(), yAxis: logAxis('L2 norm'), series: series });
  }
  function heatmap(parent, run) {
    var cells = [], lo = Infinity, hi = -Infinity, steps = [];
    run.steps.forEach(function (s) {
      if (!s.layers || !s.layers.length) return;
      var col = steps.length;
      steps.push(s.step);
      s.layers.forEach(function (v, li) {
        if (finite(v) && v > 0) {
          var l = Math.log10(v);
          lo = Math.min(lo, l); hi = Math.max(hi, l);
          cells.push([col, li, l]);
        }
      });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-6) hi = lo + 1;
    var names = run.layers.map(function (n) { return n.replace(/\.weight$/, ''); });
    chart(parent, run.name + '/heatmap', {
      title: title('Gradient norm per layer (log10)', 'rows: layers, input at the bottom; columns: logged steps'),
      tooltip: { formatter: function (p) { return names[p.value[1]] + ' @ step ' + steps[p.value[0]] + ': ' + fmt(Math.pow(10, p.value[2])); } },
      grid: { left: 90, right: 70, top: 62, bottom: 40 },
      xAxis: { type: 'category', data: steps, name: 'step', nameLocation: 'middle', nameGap: 22 },
      yAxis: { type: 'category', data: names, axisLabel: { fontSize: 9, interval: Math.max(0, Math.floor(names.length / 12)) } },
      visualMap: { min: +lo.toFixed(2), max: +hi.toFixed(2), calculable: true, orient: 'vertical', right: 4, top: 60, itemHeight: 140,
        inRange: { color: ['#313695', '#4575b4', '#74add1', '#abd9e9', '#fee090', '#fdae61', '#f46d43', '#d73027', '#a50026'] } },
      series: [{ type: 'heatmap', data: cells, progressive: 0 }]
    }, true);
  }
  function scaleChart(parent, run) {
    var scaled = run.steps.some(function (s) { return finite(s.loss_scale); });
    var line = scaled ? pairs(run.steps, 'loss_scale') : run.steps.map(function (s) { return [s.step, 1]; });
    var skipped = run.steps.filter(function (s) { return s.skipped; }).map(function (s) { return [s.step, scaled && pos(s.loss_scale) ? s.loss_scale : 1]; });
    chart(parent, run.name + '/loss-scale', {
      title: title('Loss scale and skipped steps', scaled ? skipped.length + ' skipped logged steps (red)' : 'no loss scaling (scale 1); ' + skipped.length + ' skipped logged steps'),
      tooltip: { trigger: 'axis' }, legend: { top: 4, right: 8 }, grid: grid(), xAxis: xAxis(),
      yAxis: scaled ? logAxis('scale') : { type: 'value', name: 'scale', min: 0, max: 2 },
      series: [{ name: 'loss scale', type: 'line', step: 'end', showSymbol: false, data: line },
               { name: 'skipped', type: 'scatter', symbol: 'triangle', symbolSize: 9, itemStyle: { color: '#d14a4a' }, data: skipped }]
    });
  }
  function overlay(parent, id, name, runs, getter, log) {
    var series = runs.map(function (r) { return { name: r.title, type: 'line', showSymbol: false, connectNulls: false, data: getter(r) }; })
      .filter(function (s) { return s.data.length; });
    if (!series.length) return;
    chart(parent, id, { title: title(name), tooltip: { trigger: 'axis' },
      legend: { type: 'scroll', top: 28, left: 8, right: 8, textStyle: { fontSize: 10 } },
      grid: { left: 58, right: 24, top: 76, bottom: 40 }, xAxis: xAxis(), yAxis: log ? logAxis('') : { type: 'value', scale: true }, series: series }, true);
  }
  function findings(parent, list) {
    var ul = el('ul', 'findings');
    list.forEach(function (f) {
      var li = el('li');
      li.appendChild(el('span', 'kind ' + f.kind, f.kind));
      li.appendChild(document.createTextNode(f.seen + (f.cures.length ? '. Cures: ' + f.cures.join(', ') + '.' : '.')));
      ul.appendChild(li);
    });
    parent.appendChild(ul);
  }
  function table(parent, headers, rows) {
    if (!headers.length) return;
    var t = el('table', 'results'), tr = el('tr');
    headers.forEach(function (h) { tr.appendChild(el('th', null, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (c) { row.appendChild(el('td', null, c)); });
      t.appendChild(row);
    });
    parent.appendChild(t);
  }

  var header = el('header');
  header.appendChild(el('h1', null, data.title));
  header.appendChild(el('p', null, data.subtitle));
  document.body.insertBefore(header, app);
  data.sections.forEach(function (sec, si) {
    var s = el('section', 'story');
    s.appendChild(el('h2', null, sec.title));
    sec.paragraphs.forEach(function (p) { s.appendChild(el('p', null, p)); });
    table(s, sec.headers, sec.rows);
    if (sec.runs.length > 1) {
      var g = el('div', 'grid');
      s.appendChild(g);
      overlay(g, 's' + si + '/loss', 'Training loss, all runs', sec.runs, function (r) { return pairs(r.steps, 'loss'); }, true);
      overlay(g, 's' + si + '/norm', 'Global gradient norm, all runs', sec.runs, function (r) { return pairs(r.steps, 'grad_norm'); }, true);
      var m = metricOf(sec.runs[0]);
      if (m) overlay(g, 's' + si + '/metric', 'Test ' + m + ', all runs', sec.runs, function (r) { return evalPairs(r.steps, m); }, false);
    }
    sec.runs.forEach(function (run) {
      var d = el('div', 'run');
      d.appendChild(el('h3', null, run.title));
      findings(d, run.findings);
      var g = el('div', 'grid');
      d.appendChild(g);
      lossChart(g, run);
      normChart(g, run);
      heatmap(g, run);
      scaleChart(g, run);
      s.appendChild(d);
    });
    app.appendChild(s);
  });
  app.appendChild(el('p', 'note', 'Charts drawn by Apache ECharts ' + (echarts.version || '') + ', inlined in this file; no network needed. Raw metrics: metrics.jsonl and metrics.csv beside each run.'));
  document.body.setAttribute('data-charts-total', String(total));
  document.body.setAttribute('data-charts-drawn', '0');
  charts.forEach(function (draw) { draw(); });
})();
