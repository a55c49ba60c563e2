// The Overtone dashboard's page: plain JavaScript over the JSON endpoints under /api.
// Routes (in the URL's hash): #/ experiments, #/exp/NAME one experiment, #/exp/NAME/trial/ID.
"use strict";

const PAGE_SIZE = 100;
const main = document.getElementById("main");
let timer = null;      // the polling of the current page
let generation = 0;    // bumped on every navigation: late answers of an old page are dropped

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}
const enc = encodeURIComponent;

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0)
      ? value.toExponential(4) : String(Number(value.toPrecision(6)));
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }
function statusBadge(s) { return `<span class="status s-${esc(s)}">${esc(s)}</span>`; }
function counts(status) {
  return Object.entries(status || {}).filter(([, n]) => n)
    .map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ");
}
function setLive(on) { document.getElementById("live").hidden = !on; }
function crumbs(parts) {
  document.getElementById("crumbs").innerHTML = parts.map(([href, text]) =>
    href ? `/ <a href="${href}">${esc(text)}</a>` : `/ ${esc(text)}`).join(" ");
}
function poll(fn, seconds) {
  clearInterval(timer);
  timer = setInterval(fn, Math.max(250, seconds * 1000));
}
// plotly.min.js (4 MB) is loaded only once a page has drawn its table: parsing it takes the
// browser a second or more, which the table must not wait for.
let plotlyReady = null;
function loadPlotly() {
  plotlyReady = plotlyReady || new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "static/plotly.min.js";
    script.onload = resolve;
    script.onerror = () => reject(new Error("plotly.min.js did not load"));
    document.head.appendChild(script);
  });
  return plotlyReady;
}
async function plot(div, traces, layout) {
  await loadPlotly();
  if (!div.isConnected) return;
  const base = { margin: { l: 50, r: 20, t: 40, b: 45 }, legend: { orientation: "h", y: 1.02, yanchor: "bottom" } };
  Plotly.react(div, traces, Object.assign(base, layout || {}), { displaylogo: false, responsive: true });
}

// Each plot is drawn when it is on screen and its data changed: a plot scrolled out of view
// (parallel coordinates of 10,000 trials, say) costs nothing until it is looked at.
const drawers = {};
const dirty = new Set();
const onScreen = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) { onScreen.add(entry.target.id); drawDirty(); }
    else onScreen.delete(entry.target.id);
  }
});
const drawnAt = {};
// Above this many trials, the plots of every trial are drawn when asked (a button): parsing
// plotly.js and drawing 10,000 points can take the browser seconds, the table must not wait.
const BIG = 2000;
function offerDraw(id) {
  const div = document.getElementById(id);
  if (!div || div.querySelector("button.draw")) return;
  div.innerHTML = `<button class="draw">Draw all ${exp.rows.size} trials</button>`;
  div.querySelector("button.draw").onclick = () => {
    exp.wanted.add(id);
    div.innerHTML = "";
    markDirty(id);
  };
}
let retry = null;
function markDirty(...ids) { ids.forEach((id) => dirty.add(id)); drawDirty(); }
// A plot of every trial is redrawn at most every 3 s when there are thousands of them:
// a running experiment changes rows every second, and a redraw of 10,000 points is not free.
function minGap(id) { return id !== "curves" && exp.rows && exp.rows.size > 2000 ? 3000 : 0; }
function drawDirty() {
  const now = Date.now();
  for (const id of [...dirty]) {
    if (!onScreen.has(id) || !drawers[id]) continue;
    if (id !== "curves" && exp.rows && exp.rows.size > BIG && !exp.wanted.has(id)) {
      offerDraw(id);
      continue;
    }
    const wait = (drawnAt[id] || 0) + minGap(id) - now;
    if (wait > 0) {
      clearTimeout(retry);
      retry = setTimeout(drawDirty, wait);
      continue;
    }
    dirty.delete(id);
    drawnAt[id] = now;
    setTimeout(drawers[id], 0);  // after the table has painted
  }
}

// -- experiments ---------------------------------------------------------------------------
async function showExperiments() {
  crumbs([]);
  const mine = generation;
  const render = async () => {
    let data;
    try { data = await api("api/experiments"); } catch (e) {
      main.innerHTML = `<p class="error">${esc(e.message)}</p>`; return;
    }
    if (mine !== generation) return;
    setLive(data.experiments.some((x) => x.running));
    const rows = data.experiments.map((x) => x.error
      ? `<tr data-name="${esc(x.name)}"><td>${esc(x.name)}</td><td colspan="6" class="error">${esc(x.error)}</td></tr>`
      : `<tr data-name="${esc(x.name)}"><td><a href="#/exp/${enc(x.name)}">${esc(x.name)}</a></td>
         <td class="num">${x.trials}</td><td>${esc(counts(x.status))}</td>
         <td>${x.metric ? esc(x.metric) + " = " + esc(fmt(x.best)) : ""}</td>
         <td>${esc(when(x.started))}</td><td>${esc(when(x.last_update))}</td>
         <td>${x.running ? statusBadge("RUNNING") : "finished"}</td></tr>`).join("");
    main.innerHTML = `<h1>Experiments</h1><p class="muted">${esc(data.root)}</p>
      <section><table id="experiments"><thead><tr><th>Name</th><th>Trials</th><th>Status</th>
      <th>Best</th><th>Started</th><th>Updated</th><th>State</th></tr></thead>
      <tbody>${rows || '<tr><td colspan="7" class="muted">No experiments here yet.</td></tr>'}</tbody></table></section>`;
  };
  await render();
  poll(render, 2);
}

// -- one experiment ------------------------------------------------------------------------
const exp = {};  // the state of the experiment page

async function showExperiment(name) {
  crumbs([["#/exp/" + enc(name), name]]);
  const mine = generation;
  let meta;
  try { meta = await api(`api/experiments/${enc(name)}`); } catch (e) {
    main.innerHTML = `<p class="error">${esc(e.message)}</p>`; return;
  }
  if (mine !== generation) return;
  Object.assign(exp, {
    name, meta, metric: meta.metric || meta.metrics[0] || "", mode: meta.mode || "min",
    rows: new Map(), columns: [], rev: 0, sort: null, desc: false, page: 0, filter: "",
    selected: new Set(), manual: false, curvesKey: "", wanted: new Set(), scatterParam: meta.config_keys[0] || "",
  });
  const option = (v, cur) => `<option value="${esc(v)}"${v === cur ? " selected" : ""}>${esc(v)}</option>`;
  main.innerHTML = `
    <h1>${esc(name)} <span id="state"></span></h1>
    <p class="muted" id="summary"></p>
    <div class="controls">
      <label>Metric <select id="metric">${meta.metrics.map((m) => option(m, exp.metric)).join("")}</select></label>
      <label>Mode <select id="mode">${option("min", exp.mode)}${option("max", exp.mode)}</select></label>
      <input type="search" id="filter" placeholder="filter: status=ERROR  lr>0.01  or any text">
      <span id="count" class="muted"></span>
    </div>
    <section><h2>Trials</h2><div class="tablewrap"><table id="trials"><thead></thead><tbody></tbody></table></div>
      <div class="pager"><button id="prev">‹</button><span id="pageinfo"></span><button id="next">›</button>
      <span class="muted">Tick trials to plot them; by default the best five are.</span></div></section>
    <div class="grid">
      <section><h2>Learning curves</h2><div id="curves" class="plot"></div></section>
      <section><h2>Parameter against metric</h2>
        <label>Parameter <select id="scatter-param">${meta.config_keys.map((k) => option(k, exp.scatterParam)).join("")}</select></label>
        <div id="scatter" class="plot"></div></section>
      <section><h2>Parallel coordinates</h2><div id="parcoords" class="plot"></div></section>
      <section><h2>Hyperparameter importance</h2>
        <button id="importance-btn">Compute</button> <span id="importance-note" class="muted"></span>
        <div id="importance" class="plot"></div></section>
    </div>
    <section><h2>Scheduler</h2><div id="scheduler-note" class="muted"></div><div id="scheduler" class="plot"></div>
      <div id="scheduler-table" class="tablewrap"></div></section>`;
  document.getElementById("metric").onchange = (e) => { exp.metric = e.target.value; reload(); };
  document.getElementById("mode").onchange = (e) => { exp.mode = e.target.value; reload(); };
  document.getElementById("filter").oninput = (e) => { exp.filter = e.target.value; exp.page = 0; renderTable(); };
  document.getElementById("prev").onclick = () => { exp.page = Math.max(0, exp.page - 1); renderTable(); };
  document.getElementById("next").onclick = () => { exp.page += 1; renderTable(); };
  document.getElementById("scatter-param").onchange = (e) => { exp.scatterParam = e.target.value; markDirty("scatter"); };
  document.getElementById("importance-btn").onclick = drawImportance;
  document.querySelector("#trials thead").addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    const key = th.dataset.sort;
    if (exp.sort === key) exp.desc = !exp.desc; else { exp.sort = key; exp.desc = false; }
    renderTable();
  });
  document.querySelector("#trials").addEventListener("change", (e) => {
    const id = e.target.dataset.select;
    if (id === undefined) return;
    exp.manual = true;
    if (e.target.checked) exp.selected.add(id); else exp.selected.delete(id);
    renderTable(); drawPlots();
  });
  Object.assign(drawers, { curves: () => drawCurves(false), scatter: drawScatter, parcoords: drawParcoords });
  onScreen.clear(); dirty.clear();
  for (const id of ["curves", "scatter", "parcoords"]) observer.observe(document.getElementById(id));
  await reload();
  poll(update, meta.refresh_s || 1);
}

async function reload() {
  exp.rows = new Map(); exp.rev = 0; exp.curvesKey = "";
  await update(true);
  drawScheduler();
}

async function update(force) {
  const mine = generation;
  let data;
  const q = `metric=${enc(exp.metric)}&mode=${enc(exp.mode)}&since=${exp.rev}`;
  try { data = await api(`api/experiments/${enc(exp.name)}/trials?${q}`); } catch (e) {
    document.getElementById("summary").innerHTML = `<span class="error">${esc(e.message)}</span>`; return;
  }
  if (mine !== generation) return;
  exp.columns = data.columns;
  const before = [...exp.selected].join(",");
  const changed = new Set(data.rows.map((values) => values[0]));  // trial_id comes first
  for (const values of data.rows) {
    const row = {};
    data.columns.forEach((c, i) => { row[c] = values[i]; });
    exp.rows.set(row.trial_id, row);
  }
  exp.rev = data.rev;
  exp.running = data.running;
  setLive(data.running);
  document.getElementById("state").innerHTML = data.running ? statusBadge("RUNNING") : "";
  document.getElementById("summary").textContent =
    `${data.total} trials: ${counts(data.status)} · metric ${exp.metric || "(none)"} (${exp.mode})`;
  if (data.rows.length || force) {
    if (!exp.manual) pickBest();
    renderTable();
    const selected = [...exp.selected];
    drawPlots(force || selected.join(",") !== before || selected.some((id) => changed.has(id)));
  }
}

function score(row) { return typeof row.best === "number" ? row.best : null; }

function pickBest() {
  const scored = [...exp.rows.values()].filter((r) => score(r) !== null);
  scored.sort((a, b) => exp.mode === "max" ? score(b) - score(a) : score(a) - score(b));
  exp.selected = new Set(scored.slice(0, 5).map((r) => r.trial_id));
}

const OPS = { "!=": (a, b) => a != b, ">=": (a, b) => a >= b, "<=": (a, b) => a <= b,
  "=": (a, b) => a == b, ">": (a, b) => a > b, "<": (a, b) => a < b };

function matcher(text) {
  const tests = text.trim().split(/\s+/).filter(Boolean).map((token) => {
    const m = token.match(/^([^!<>=]+)(!=|>=|<=|=|>|<)(.*)$/);
    if (!m) {
      const needle = token.toLowerCase();
      return (row) => [row.trial_name, row.trial_id, row.status].some((v) => String(v).toLowerCase().includes(needle));
    }
    const [, key, op, raw] = m;
    const wanted = raw !== "" && !isNaN(Number(raw)) ? Number(raw) : raw;
    return (row) => {
      let v = key in row ? row[key] : row["config/" + key];
      if (key === "last" || key === "best" || key === exp.metric) v = row[key === exp.metric ? "last" : key];
      if (v === undefined || v === null) return false;
      if (typeof wanted === "string" && typeof v !== "string") v = fmt(v);
      return OPS[op](v, wanted);
    };
  });
  return (row) => tests.every((t) => t(row));
}

function visibleRows() {
  let rows = [...exp.rows.values()];
  if (exp.filter.trim()) rows = rows.filter(matcher(exp.filter));
  if (exp.sort) {
    const k = exp.sort, sign = exp.desc ? -1 : 1;
    rows.sort((a, b) => {
      const x = a[k], y = b[k];
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
      if (y === null || y === undefined) return -1;
      if (typeof x === "number" && typeof y === "number") return sign * (x - y);
      return sign * String(x).localeCompare(String(y), undefined, { numeric: true });
    });
  }
  return rows;
}

function tableColumns() {
  const configs = exp.columns.filter((c) => c.startsWith("config/"));
  return [["trial_name", "Trial"], ["status", "Status"],
    ...configs.map((c) => [c, c.slice(7)]),
    ["iterations", "Iter"], ["runtime_s", "Time (s)"],
    ["last", "Last " + exp.metric], ["best", "Best " + exp.metric]];
}

function renderTable() {
  const table = document.getElementById("trials");
  if (!table) return;
  const columns = tableColumns();
  table.tHead.innerHTML = "<tr><th></th>" + columns.map(([key, label]) => {
    const cls = exp.sort === key ? (exp.desc ? "sorted-desc" : "sorted-asc") : "";
    return `<th data-sort="${esc(key)}" class="${cls}">${esc(label)}</th>`;
  }).join("") + "</tr>";
  const rows = visibleRows();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  exp.page = Math.min(exp.page, pages - 1);
  const shown = rows.slice(exp.page * PAGE_SIZE, (exp.page + 1) * PAGE_SIZE);
  table.tBodies[0].innerHTML = shown.map((row) => {
    const id = row.trial_id;
    const sel = exp.selected.has(id);
    const cells = columns.map(([key]) => {
      const v = row[key];
      if (key === "trial_name") {
        return `<td data-col="trial_name"><a href="#/exp/${enc(exp.name)}/trial/${enc(id)}">${esc(v)}</a></td>`;
      }
      if (key === "status") return `<td data-col="status">${statusBadge(v)}</td>`;
      return `<td data-col="${esc(key)}" class="${typeof v === "number" ? "num" : ""}">${esc(fmt(v))}</td>`;
    }).join("");
    return `<tr data-trial-id="${esc(id)}" class="${sel ? "selected" : ""}"><td><input type="checkbox"
      data-select="${esc(id)}"${sel ? " checked" : ""}></td>${cells}</tr>`;
  }).join("");
  document.getElementById("count").textContent = `${rows.length} of ${exp.rows.size} trials`;
  document.getElementById("pageinfo").textContent = `page ${exp.page + 1} of ${pages}`;
}

function drawPlots(changed) {
  if (changed) exp.curvesKey = "";
  markDirty("curves", "scatter", "parcoords");
}

async function drawCurves(changed) {
  const ids = [...exp.selected];
  const key = exp.metric + "|" + ids.join(",");
  if (!changed && key === exp.curvesKey) return;
  exp.curvesKey = key;
  const div = document.getElementById("curves");
  if (!ids.length || !exp.metric) { plot(div, [], {}); return; }
  const mine = generation;
  const data = await api(`api/experiments/${enc(exp.name)}/curves?metric=${enc(exp.metric)}&trials=${ids.map(enc).join(",")}`);
  if (mine !== generation || !document.getElementById("curves")) return;
  const traces = data.series.map((s) => ({
    type: "scatter", mode: "lines+markers", x: s.x, y: s.y, meta: s.trial_id,
    name: (exp.rows.get(s.trial_id) || {}).trial_name || s.trial_id,
  }));
  plot(div, traces, { xaxis: { title: { text: data.x } }, yaxis: { title: { text: exp.metric } } });
}

function drawScatter() {
  const div = document.getElementById("scatter");
  const param = "config/" + exp.scatterParam;
  const rows = [...exp.rows.values()].filter((r) => score(r) !== null && r[param] !== undefined);
  const others = rows.filter((r) => !exp.selected.has(r.trial_id));
  const traces = [{
    type: others.length > 2000 ? "scattergl" : "scatter", mode: "markers", name: "other trials",
    x: others.map((r) => r[param]),
    y: others.map(score), text: others.map((r) => r.trial_name), marker: { color: "#9ca3af" },
  }];
  for (const r of rows.filter((r) => exp.selected.has(r.trial_id))) {
    traces.push({ type: "scatter", mode: "markers", name: r.trial_name, meta: r.trial_id,
      x: [r[param]], y: [score(r)], marker: { size: 11 } });
  }
  plot(div, traces, { xaxis: { title: { text: exp.scatterParam } }, yaxis: { title: { text: "best " + exp.metric } } });
}

function drawParcoords() {
  const div = document.getElementById("parcoords");
  const rows = [...exp.rows.values()].filter((r) => score(r) !== null);
  if (!rows.length) { plot(div, [], {}); return; }
  const dims = exp.columns.filter((c) => c.startsWith("config/")).map((c) => {
    const values = rows.map((r) => r[c]);
    if (values.every((v) => typeof v === "number")) return { label: c.slice(7), values };
    const cats = [...new Set(values.map((v) => fmt(v)))];
    return { label: c.slice(7), values: values.map((v) => cats.indexOf(fmt(v))),
      tickvals: cats.map((_, i) => i), ticktext: cats };
  });
  dims.push({ label: exp.metric, values: rows.map(score) });
  plot(div, [{ type: "parcoords", dimensions: dims,
    line: { color: rows.map(score), colorscale: "Viridis", reversescale: exp.mode === "min", showscale: true } }],
    { margin: { l: 60, r: 60, t: 50, b: 20 } });
}

async function drawImportance() {
  const note = document.getElementById("importance-note");
  note.textContent = "computing…";
  try {
    const data = await api(`api/experiments/${enc(exp.name)}/importance?metric=${enc(exp.metric)}&mode=${enc(exp.mode)}`);
    note.textContent = `${data.note} (${data.trials} trials)`;
    const items = data.importance.slice().reverse();
    plot(document.getElementById("importance"), [{ type: "bar", orientation: "h",
      x: items.map((i) => i.importance), y: items.map((i) => i.param) }], { margin: { l: 120, r: 20, t: 10, b: 40 } });
  } catch (e) { note.innerHTML = `<span class="error">${esc(e.message)}</span>`; }
}

async function drawScheduler() {
  const mine = generation;
  let data;
  try {
    data = await api(`api/experiments/${enc(exp.name)}/scheduler?metric=${enc(exp.metric)}&mode=${enc(exp.mode)}`);
  } catch (e) { document.getElementById("scheduler-note").textContent = e.message; return; }
  if (mine !== generation) return;
  const note = document.getElementById("scheduler-note");
  const div = document.getElementById("scheduler");
  const table = document.getElementById("scheduler-table");
  const name = (id) => (exp.rows.get(id) || {}).trial_name || id;
  if (data.kind === "pbt") {
    note.textContent = `Population Based Training: ${data.exploits.length} exploits (from pbt_global.txt).`;
    const ids = [...exp.rows.keys()];
    const traces = ids.map((id) => {
      const r = exp.rows.get(id);
      return { type: "scatter", mode: "lines", name: r.trial_name, x: [0, r.iterations || 0],
        y: [ids.indexOf(id), ids.indexOf(id)], line: { width: 6 }, hoverinfo: "name" };
    });
    data.exploits.forEach((x) => traces.push({ type: "scatter", mode: "lines+markers", showlegend: false,
      x: [x.source_step, x.step], y: [ids.indexOf(x.source_id), ids.indexOf(x.trial_id)],
      line: { color: "#dc2626", dash: "dot" }, text: [name(x.source_id), name(x.trial_id)],
      hovertemplate: "%{text}<extra>exploit</extra>" }));
    plot(div, traces, { yaxis: { tickvals: ids.map((_, i) => i), ticktext: ids.map(name) },
      xaxis: { title: { text: "training_iteration" } }, showlegend: false });
    table.innerHTML = `<table id="exploits"><thead><tr><th>Step</th><th>Trial</th><th>Cloned</th><th>At step</th>
      <th>Perturbed</th></tr></thead><tbody>${data.exploits.map((x) => `<tr><td>${esc(x.step)}</td>
      <td>${esc(name(x.trial_id))}</td><td>${esc(name(x.source_id))}</td><td>${esc(x.source_step)}</td>
      <td>${Object.entries(x.changed).map(([k, v]) => `${esc(k)}: ${esc(fmt(v.from))} → ${esc(fmt(v.to))}`).join(", ")}</td>
      </tr>`).join("")}</tbody></table>`;
    return;
  }
  if (!data.rungs.length) {
    note.textContent = "No trial was stopped early: no rungs (FIFO scheduling, or nothing decided yet).";
    plot(div, [], {}); table.innerHTML = ""; return;
  }
  note.textContent = `Early stopping (ASHA/HyperBand): ${data.stopped_early} trials stopped before iteration ` +
    `${data.max_iteration}; rungs inferred from where they stopped.`;
  const colors = { promoted: "#16a34a", stopped: "#dc2626", running: "#2563eb", ended: "#6b7280" };
  const traces = Object.keys(colors).map((outcome) => {
    const pts = data.rungs.flatMap((r) => r.trials.filter((t) => t.outcome === outcome && t.value !== null)
      .map((t) => ({ x: r.milestone, y: t.value, text: name(t.trial_id) })));
    return { type: "scatter", mode: "markers", name: outcome, x: pts.map((p) => p.x), y: pts.map((p) => p.y),
      text: pts.map((p) => p.text), marker: { color: colors[outcome], size: 9 } };
  }).filter((t) => t.x.length);
  plot(div, traces, { xaxis: { title: { text: "rung (training_iteration)" }, type: "log" },
    yaxis: { title: { text: exp.metric } } });
  table.innerHTML = `<table id="rungs"><thead><tr><th>Rung</th><th>Reached</th><th>Promoted</th><th>Stopped</th>
    <th>Stopped trials</th></tr></thead><tbody>${data.rungs.map((r) => `<tr><td>${r.milestone}</td>
    <td>${r.reached}</td><td>${r.promoted}</td><td>${r.stopped}</td>
    <td>${r.trials.filter((t) => t.outcome === "stopped").map((t) => esc(name(t.trial_id))).join(", ")}</td>
    </tr>`).join("")}</tbody></table>`;
}

// -- one trial -----------------------------------------------------------------------------
async function showTrial(name, id) {
  crumbs([["#/exp/" + enc(name), name], [null, id]]);
  const mine = generation;
  const render = async () => {
    let t;
    try { t = await api(`api/experiments/${enc(name)}/trials/${enc(id)}`); } catch (e) {
      main.innerHTML = `<p class="error">${esc(e.message)}</p>`; return;
    }
    if (mine !== generation) return;
    setLive(t.status === "RUNNING");
    const base = `files/${enc(name)}/${enc(id)}/`;
    const config = Object.entries(t.config).map(([k, v]) =>
      `<tr><td>${esc(k)}</td><td>${esc(fmt(v))}</td></tr>`).join("");
    const checkpoints = t.checkpoints.map((c) => `<tr><td>${esc(c.name)}</td><td class="num">${c.files}</td>
      <td class="num">${c.bytes}</td><td>${esc(fmt(c.metrics))}</td>
      <td><a download href="checkpoints/${enc(name)}/${enc(id)}/${enc(c.name)}.zip">download .zip</a></td></tr>`).join("");
    const files = t.files.map((f) => `<li><a download href="${base}${enc(f.name)}">${esc(f.name)}</a>
      <span class="muted">${f.bytes} bytes${f.tensorboard ? " · TensorBoard" : ""}</span></li>`).join("");
    const tb = t.files.some((f) => f.tensorboard)
      ? `<p>TensorBoard: <code>tensorboard --logdir "${esc(t.path)}"</code></p>` : "";
    const shown = t.results.slice(-1000);
    main.innerHTML = `<h1>${esc(t.trial_name)} ${statusBadge(t.status)}</h1>
      <p class="muted">${esc(t.path)}${t.num_failures ? ` · ${t.num_failures} failures` : ""}</p>
      <div class="grid"><section><h2>Config</h2><table id="config">${config}</table></section>
      <section><h2>Files</h2><ul id="files">${files}</ul>${tb}</section></div>
      ${t.error ? `<section><h2>Error</h2><pre id="error">${esc(t.error)}</pre></section>` : ""}
      <section><h2>Checkpoints</h2>${checkpoints ? `<table id="checkpoints"><thead><tr><th>Name</th><th>Files</th>
        <th>Bytes</th><th>Metrics</th><th></th></tr></thead><tbody>${checkpoints}</tbody></table>`
        : '<p class="muted">None kept.</p>'}</section>
      <section><h2>Results (${t.results.length}${shown.length < t.results.length ? ", the last 1000 shown" : ""})</h2>
        <div class="tablewrap"><table id="results"><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>
        <tbody>${shown.map((r) => `<tr>${r.map((v) => `<td class="${typeof v === "number" ? "num" : ""}">${esc(fmt(v))}</td>`).join("")}</tr>`).join("")}
        </tbody></table></div></section>`;
  };
  await render();
  poll(render, 2);
}

// -- routing -------------------------------------------------------------------------------
function route() {
  generation += 1;
  observer.disconnect();
  clearInterval(timer);
  setLive(false);
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "exp" && parts[1] && parts[2] === "trial" && parts[3]) return showTrial(parts[1], parts[3]);
  if (parts[0] === "exp" && parts[1]) return showExperiment(parts[1]);
  return showExperiments();
}
window.addEventListener("hashchange", route);
route();
