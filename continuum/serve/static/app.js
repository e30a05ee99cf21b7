// Continuum inspector: the page over `continuum serve`'s JSON API (/api/...).
//
// One ES module, no build step and no third-party code: machines that run simulations are
// often offline, and the server's content security policy allows only this file
// (script-src 'self', style-src 'self'), so nothing here writes inline styles or HTML from
// data: every node is built with createElement and textContent.
//
// Views (hash routing): #/runs, #/runs/RUN_ID, #/runs/RUN_ID/fields/NAME, #/signals, #/sql.
// Element ids used by the browser tests are fixed by the issue 16 contract.

"use strict";

// ---------------------------------------------------------------------------------------
// Colour map: viridis (perceptually uniform, readable in grey and by colour-blind readers),
// 256 RGB entries as hex, from the published viridis table (CC0).
const VIRIDIS_HEX =
  "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769" +
  "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a" +
  "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85" +
  "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b" +
  "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d" +
  "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e" +
  "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e" +
  "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d" +
  "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88" +
  "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81" +
  "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74" +
  "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863" +
  "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d" +
  "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32" +
  "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a" +
  "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725";

/** The colour map as packed little-endian RGBA words (what a Uint32Array view of ImageData wants). */
const LUT = (() => {
  const lut = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const r = parseInt(VIRIDIS_HEX.substr(i * 6, 2), 16);
    const g = parseInt(VIRIDIS_HEX.substr(i * 6 + 2, 2), 16);
    const b = parseInt(VIRIDIS_HEX.substr(i * 6 + 4, 2), 16);
    lut[i] = (255 << 24) | (b << 16) | (g << 8) | r;
  }
  return lut;
})();
const NO_VALUE_RGBA = (255 << 24) | (0x33 << 16) | (0x33 << 8) | 0x33; // NaN: dark grey

/** Distinct line colours for up to hundreds of overlaid runs (golden-angle hues). */
function seriesColour(i) {
  return `hsl(${(i * 137.508) % 360}, 70%, ${i % 2 ? 38 : 48}%)`;
}

// ---------------------------------------------------------------------------------------
// DOM helpers: build nodes, never parse HTML from data.

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") {
      for (const [event, fn] of Object.entries(v)) el.addEventListener(event, fn);
    } else if (k === "class") {
      el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    } else if (k === "text") {
      el.textContent = String(v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

function fmtNum(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return x.toLocaleString("en-US").replace(/,/g, "\u2009");
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(digits - 1);
  return x.toPrecision(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return "now";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// ---------------------------------------------------------------------------------------
// The API: JSON in, JSON out; errors are one line ({"error": "..."}) shown in the banner.

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) message = body.error;
  } catch (_) {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, message);
}

async function api(path, { signal } = {}) {
  const response = await fetch(path, { credentials: "same-origin", signal });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** A mutation: the token travels in the SameSite=Strict cookie; the header marks the page. */
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Continuum-Requested-With": "page" },
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

function runPath(runId, rest = "") {
  return `/api/runs/${encodeURIComponent(runId)}${rest}`;
}

function showError(err) {
  if (err && err.name === "AbortError") return;
  const banner = $("#error");
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    message += " — open the URL that `continuum serve` printed (it carries the token).";
  }
  banner.textContent = message;
  banner.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (banner.hidden = true), 8000);
}

// ---------------------------------------------------------------------------------------
// Shared state: the runs selected for overlays (kept for this tab), live status from SSE.

const selection = new Set(JSON.parse(sessionStorage.getItem("continuum.selection") || "[]"));

function setSelected(runId, on) {
  if (on) selection.add(runId);
  else selection.delete(runId);
  sessionStorage.setItem("continuum.selection", JSON.stringify([...selection]));
  renderSelection();
}

function renderSelection() {
  const el = $("#selection");
  clear(el);
  if (!selection.size) return;
  const ids = [...selection].join(",");
  append(el, [
    `${selection.size} selected `,
    h("a", { href: `#/signals?runs=${encodeURIComponent(ids)}`, text: "overlay signals" }),
    " ",
    h("button", {
      type: "button",
      class: "link",
      text: "clear",
      on: {
        click: () => {
          selection.clear();
          setSelected("", false);
          document.querySelectorAll("input.select-run").forEach((box) => (box.checked = false));
        },
      },
    }),
  ]);
}

/** Live status of running runs: run_id -> the latest status reply (tick, ticks_per_s, ...). */
const live = new Map();
const liveListeners = new Set();
let events = null;

function startEvents() {
  if (events || typeof EventSource === "undefined") return;
  events = new EventSource("/api/events");
  const stateEl = $("#events-state");
  events.addEventListener("open", () => {
    stateEl.textContent = "● live";
    stateEl.className = "on";
  });
  events.addEventListener("error", () => {
    stateEl.textContent = "○ reconnecting";
    stateEl.className = "off";
  });
  events.addEventListener("live", (e) => {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    const seen = new Set();
    for (const r of data.runs || []) {
      live.set(r.run_id, { ...r, received: performance.now() });
      seen.add(r.run_id);
    }
    for (const id of [...live.keys()]) if (!seen.has(id)) live.delete(id);
    for (const fn of liveListeners) fn({ kind: "live" });
  });
  events.addEventListener("run", (e) => {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    if (data && data.status && data.status !== "running") live.delete(data.run_id);
    for (const fn of liveListeners) fn({ kind: "run", run: data });
  });
}

/** Heartbeat age of a live status reply, in seconds, now. */
function heartbeatAge(status) {
  if (status.heartbeat_at) {
    const t = Date.parse(status.heartbeat_at);
    if (!Number.isNaN(t)) return Math.max(0, (Date.now() - t) / 1000);
  }
  if (status.heartbeat_age_s !== undefined) return status.heartbeat_age_s;
  return null;
}

// ---------------------------------------------------------------------------------------
// Charts on canvas: axes with round ticks, one line per series.

function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
  // Integer steps: adding a tiny step to a large value would never move it.
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks = [];
  for (let k = first; k <= last && ticks.length < 50; k++) ticks.push(+(k * step).toPrecision(12));
  return ticks;
}

/** Size a canvas's backing store to its CSS box times the device pixel ratio. */
function fitCanvas(canvas, cssHeight) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.parentElement.clientWidth || 600;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height: cssHeight };
}

/**
 * Draw series [{label, colour, xs, ys}] as lines; NaN/null breaks a line.
 * opts: {height, xLabel, yLabel, marker (an x drawn as a vertical line)}.
 */
function lineChart(canvas, series, opts = {}) {
  const { ctx, width, height } = fitCanvas(canvas, opts.height || 260);
  const pad = { l: 64, r: 12, t: 10, b: 36 };
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const sr of series) {
    const { xs, ys } = sr;
    for (let i = 0; i < xs.length; i++) {
      const y = ys[i];
      if (y === null || !Number.isFinite(y)) continue;
      if (xs[i] < x0) x0 = xs[i];
      if (xs[i] > x1) x1 = xs[i];
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#555";
  if (!Number.isFinite(x0)) {
    ctx.fillText("no values", pad.l, height / 2);
    return;
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= Math.abs(y0) * 0.01 || 1;
    y1 += Math.abs(y1) * 0.01 || 1;
  }
  const pw = width - pad.l - pad.r;
  const ph = height - pad.t - pad.b;
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y) => pad.t + (1 - (y - y0) / (y1 - y0)) * ph;
  ctx.strokeStyle = "#e2e2e2";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const yTicks = niceTicks(y0, y1, 5);
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 0;
  // Values that barely move (1 ± 1e-9): label the offset from a round base, named on the axis.
  const mid = (y0 + y1) / 2;
  const base = yStep && yStep < Math.abs(mid) * 1e-4 ? yTicks[Math.floor(yTicks.length / 2)] : 0;
  const digits = yStep ? Math.max(0, Math.min(12, -Math.floor(Math.log10(yStep) + 1e-9) + (/^25/.test(String(yStep).replace(/[0.]/g, "")) ? 1 : 0))) : 0;
  for (const t of yTicks) {
    ctx.beginPath();
    ctx.moveTo(pad.l, Y(t));
    ctx.lineTo(width - pad.r, Y(t));
    ctx.stroke();
    const v = t - base;
    const label = base ? `${v >= 0 ? "+" : ""}${v.toExponential(1)}` : Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(Math.min(digits, 6));
    ctx.fillText(label, pad.l - 6, Y(t));
  }
  if (base) {
    ctx.textAlign = "left";
    ctx.fillText(`offset from ${base}`, pad.l + 4, pad.t + 8);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(pw / 90)))) {
    ctx.beginPath();
    ctx.moveTo(X(t), pad.t);
    ctx.lineTo(X(t), pad.t + ph);
    ctx.stroke();
    ctx.fillText(fmtNum(t, 6), X(t), pad.t + ph + 5);
  }
  ctx.fillText(opts.xLabel || "tick", pad.l + pw / 2, height - 14);
  if (opts.yLabel) {
    ctx.save();
    ctx.translate(12, pad.t + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(opts.yLabel, 0, 0);
    ctx.restore();
  }
  ctx.strokeStyle = "#888";
  ctx.strokeRect(pad.l, pad.t, pw, ph);
  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.l, pad.t, pw, ph);
  ctx.clip();
  ctx.lineWidth = series.length > 20 ? 1 : 1.6;
  for (const sr of series) {
    ctx.strokeStyle = sr.colour;
    ctx.beginPath();
    let pen = false;
    const { xs, ys } = sr;
    for (let i = 0; i < xs.length; i++) {
      const y = ys[i];
      if (y === null || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(X(xs[i]), Y(y));
      else ctx.moveTo(X(xs[i]), Y(y));
      pen = true;
    }
    if (xs.length === 1) ctx.arc(X(xs[0]), Y(ys[0]), 2, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (opts.marker !== undefined && opts.marker !== null) {
    ctx.strokeStyle = "#d33";
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(X(opts.marker), pad.t);
    ctx.lineTo(X(opts.marker), pad.t + ph);
    ctx.stroke();
  }
  ctx.restore();
}

function legend(series) {
  return h(
    "ul",
    { class: "legend" },
    series.map((sr) =>
      h("li", null, h("span", { class: "swatch", "data-colour": sr.colour }), h("a", { href: `#/runs/${sr.label}`, text: sr.label })),
    ),
  );
}

/** Swatches take their colour from data-colour via CSSOM (allowed under style-src 'self'). */
function paintSwatches(root) {
  root.querySelectorAll("[data-colour]").forEach((el) => (el.style.background = el.dataset.colour));
}

// ---------------------------------------------------------------------------------------
// Runs: the whole catalog, a page at a time (keyset cursor), filters as in `catalog search`.

const STATUSES = ["running", "completed", "stopped", "failed", "crashed"];
const PAGE_SIZE = 100;

/** Filter inputs: [id, query key, label, placeholder, multi (space separated, repeated)]. */
const FILTERS = [
  ["run-filter-world", "world", "World", "terra", false],
  ["run-filter-status", "status", "Status", "", false],
  ["run-filter-seed", "seed", "Seed", "7", false],
  ["run-filter-scenario", "scenario", "Scenario", "tiny", false],
  ["run-filter-param", "param", "Params", "k=4 dt>=1e5", true],
  ["run-filter-tag", "tag", "Tags", "team=a", true],
  ["run-filter-covers", "covers", "Covers tick", "500", false],
  ["run-filter-after", "started_after", "Started after", "2026-01-01", false],
  ["run-filter-before", "started_before", "Started before", "2026-12-31T12:00", false],
];

const COLUMNS = [
  ["", null],
  ["Run", "run_id"],
  ["World", null],
  ["Scenario", null],
  ["Seed", null],
  ["Status", null],
  ["Ticks", "last_tick"],
  ["Live", null],
  ["Started", "started_at"],
  ["Ended", null],
  ["Tags", null],
];

function runsView(root, query) {
  const form = h("form", { id: "run-filters", class: "filters", autocomplete: "off" });
  for (const [id, key, label, placeholder, multi] of FILTERS) {
    let input;
    if (key === "status") {
      input = h("select", { id, name: key }, h("option", { value: "", text: "any" }), STATUSES.map((st) => h("option", { value: st, text: st })));
    } else {
      input = h("input", { id, name: key, type: "text", placeholder, size: multi ? 14 : 10 });
    }
    const value = multi ? query.getAll(key).join(" ") : query.get(key) || "";
    input.value = value;
    form.append(h("label", null, h("span", { text: label }), input));
  }
  form.append(h("button", { type: "submit", text: "Search" }), h("button", { type: "reset", text: "Clear" }));

  let sort = query.get("sort") || "-started_at";
  const table = h("table", { id: "runs-table", class: "grid" });
  const headRow = h("tr");
  for (const [label, key] of COLUMNS) {
    const th = h("th", { scope: "col" });
    if (key) {
      th.append(h("button", { type: "button", class: "sort", "data-sort": key, text: label, on: { click: () => toggleSort(key) } }));
    } else if (label === "") {
      th.append(h("span", { class: "sr", text: "select" }));
    } else {
      th.textContent = label;
    }
    headRow.append(th);
  }
  const tbody = h("tbody");
  table.append(h("thead", null, headRow), tbody);
  const count = h("span", { id: "runs-count" });
  const more = h("button", { id: "runs-more", type: "button", text: "More", hidden: true });
  const sentinel = h("div", { class: "sentinel" });
  root.append(h("h1", { text: "Runs" }), form, h("div", { class: "table-wrap" }, table), h("p", { class: "footer" }, count, " ", more), sentinel);

  let next = null;
  let loaded = 0;
  let total = null;
  let generation = 0;
  let loading = false;
  let controller = null;

  function params() {
    const p = new URLSearchParams();
    for (const [id, key, , , multi] of FILTERS) {
      const value = $(`#${id}`, form).value.trim();
      if (!value) continue;
      if (multi) value.split(/\s+/).forEach((v) => p.append(key, v));
      else p.set(key, value);
    }
    if (sort !== "-started_at") p.set("sort", sort);
    return p;
  }

  function markSort() {
    headRow.querySelectorAll("button.sort").forEach((b) => {
      const key = b.dataset.sort;
      const th = b.parentElement;
      th.removeAttribute("aria-sort");
      b.classList.remove("asc", "desc");
      if (sort === key) {
        th.setAttribute("aria-sort", "ascending");
        b.classList.add("asc");
      } else if (sort === `-${key}`) {
        th.setAttribute("aria-sort", "descending");
        b.classList.add("desc");
      }
    });
  }

  function toggleSort(key) {
    sort = sort === `-${key}` ? key : `-${key}`;
    reload();
  }

  function reload() {
    const p = params();
    const qs = p.toString();
    history.replaceState(null, "", `#/runs${qs ? `?${qs}` : ""}`);
    markSort();
    generation++;
    if (controller) controller.abort();
    clear(tbody);
    next = null;
    loaded = 0;
    total = null;
    loading = false;
    loadPage(true);
  }

  async function loadPage(first) {
    if (loading || (!first && !next)) return;
    loading = true;
    const mine = generation;
    const p = params();
    p.set("limit", String(PAGE_SIZE));
    if (!first) p.set("after", next);
    controller = new AbortController();
    count.textContent = loaded ? `${loaded} runs shown, loading…` : "loading…";
    try {
      const page = await api(`/api/runs?${p}`, { signal: controller.signal });
      if (mine !== generation) return;
      const rows = page.runs || [];
      const frag = document.createDocumentFragment();
      for (const run of rows) frag.append(runRow(run));
      tbody.append(frag);
      loaded += rows.length;
      next = page.next || null;
      if (page.total !== undefined && page.total !== null) total = page.total;
      more.hidden = !next;
      count.textContent = `${loaded} of ${total ?? (next ? "more" : loaded)} runs`;
      table.dataset.loaded = String(loaded);
      table.dataset.query = params().toString(); // what the rows answer (tests wait on it)
    } catch (err) {
      if (mine === generation) {
        count.textContent = "";
        showError(err);
      }
    } finally {
      if (mine === generation) loading = false;
    }
  }

  let debounce = null;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    reload();
  });
  form.addEventListener("reset", () => setTimeout(reload, 0));
  form.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(reload, 300);
  });
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") {
      clearTimeout(debounce);
      reload();
    }
  });
  more.addEventListener("click", () => loadPage(false));
  // More rows when the end of the table scrolls into view: the DOM only ever holds what was seen.
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && next && !loading) loadPage(false);
  });
  observer.observe(sentinel);

  const onLive = (event) => {
    if (event.kind === "run" && event.run && event.run.run_id) {
      const row = tbody.querySelector(`tr[data-run-id="${CSS.escape(event.run.run_id)}"]`);
      if (row && event.run.status) setStatus($(".status", row), event.run.status);
    }
    updateLiveCells(tbody);
  };
  liveListeners.add(onLive);

  markSort();
  loadPage(true);
  return () => {
    liveListeners.delete(onLive);
    observer.disconnect();
    if (controller) controller.abort();
    generation++;
  };
}

function setStatus(el, status) {
  el.textContent = status;
  el.className = `status badge st-${status}`;
}

function runRow(run) {
  const box = h("input", { type: "checkbox", class: "select-run", title: "select for overlays", "aria-label": `select ${run.run_id}` });
  box.checked = selection.has(run.run_id);
  box.addEventListener("change", () => setSelected(run.run_id, box.checked));
  const tags = (run.tags || []).map((t) => h("span", { class: "tag", text: typeof t === "string" ? t : `${t.key ?? t[0]}=${t.value ?? t[1]}` }));
  const row = h(
    "tr",
    { "data-run-id": run.run_id, "data-status": run.status },
    h("td", null, box),
    h("td", { class: "mono" }, h("a", { href: `#/runs/${encodeURIComponent(run.run_id)}`, text: run.run_id })),
    h("td", { text: run.world }),
    h("td", { text: run.scenario ?? "—" }),
    h("td", { class: "num", text: run.seed }),
    h("td", null, h("span", { class: `status badge st-${run.status}`, text: run.status })),
    h("td", { class: "num", text: `${fmtNum(run.start_tick)}–${fmtNum(run.last_tick)}` }),
    h("td", { class: "live" }, h("span", { class: "live-tick" }), h("span", { class: "live-rate" }), h("span", { class: "live-age" })),
    h("td", { text: fmtTime(run.started_at), title: run.started_at }),
    h("td", { text: fmtTime(run.ended_at), title: run.ended_at || "" }),
    h("td", null, tags),
  );
  if (run.live) fillLive(row, { tick: run.live.tick, ticks_per_s: run.live.ticks_per_s, heartbeat_age_s: run.live.heartbeat_age_s });
  const status = live.get(run.run_id);
  if (status) fillLive(row, status);
  return row;
}

function fillLive(row, status) {
  $(".live-tick", row).textContent = fmtNum(status.tick);
  $(".live-rate", row).textContent = status.ticks_per_s !== undefined ? `${fmtNum(status.ticks_per_s, 3)}/s` : "";
  $(".live-age", row).textContent = fmtAge(heartbeatAge(status));
  row.classList.add("is-live");
}

function updateLiveCells(tbody) {
  for (const row of tbody.querySelectorAll("tr[data-run-id]")) {
    const status = live.get(row.dataset.runId);
    if (status) fillLive(row, status);
    else if (row.classList.contains("is-live")) {
      row.classList.remove("is-live");
      $(".live-age", row).textContent = "";
      $(".live-rate", row).textContent = "";
    }
  }
}

// ---------------------------------------------------------------------------------------
// One run: metadata, params, tags, a tick axis (segments, checkpoints by state, lens windows
// and gaps), lineage, retention and the prune dry run, lens fields, and the live actions.

const CKPT_COLOURS = {
  committed: "#2a9d5c",
  pinned: "#6a3fb5",
  pending: "#e0a200",
  pruned: "#b0b0b0",
  deleting: "#d77a00",
  missing: "#d33",
  corrupt: "#900",
};

/** The API names a committed pinned checkpoint "pinned" (its row state is row_state). */
function checkpointState(c) {
  return c.pinned && c.state === "committed" ? "pinned" : c.state;
}

function isPinnable(c) {
  return c.state === "committed" || c.state === "pinned";
}

function runView(root, runId) {
  const liveTick = h("span", { id: "live-tick", class: "mono" });
  const liveRate = h("span", { id: "live-rate" });
  const actionResult = h("span", { id: "action-result", role: "status" });
  const actions = {};
  for (const cmd of ["checkpoint", "flush", "stop"]) {
    actions[cmd] = h("button", { id: `action-${cmd}`, type: "button", text: cmd[0].toUpperCase() + cmd.slice(1), disabled: true });
    actions[cmd].addEventListener("click", () => act(cmd));
  }
  actions.stop.classList.add("danger");
  const selectBox = h("input", { type: "checkbox", class: "select-run" });
  selectBox.checked = selection.has(runId);
  selectBox.addEventListener("change", () => setSelected(runId, selectBox.checked));
  const statusBadge = h("span", { class: "status badge" });
  const body = h("div", { class: "run-body" });
  const view = h(
    "section",
    { id: "run-view", "data-run-id": runId },
    h("h1", null, h("span", { class: "mono", text: runId }), " ", statusBadge),
    h(
      "div",
      { class: "toolbar" },
      h("span", { class: "livebox" }, "tick ", liveTick, " ", liveRate),
      actions.checkpoint,
      actions.flush,
      actions.stop,
      h("label", null, selectBox, " select for overlays"),
      actionResult,
    ),
    body,
  );
  root.append(view);

  let detail = null;
  let closed = false;
  let refreshTimer = null;
  let lastFetch = 0;

  async function load() {
    lastFetch = performance.now();
    try {
      const d = await api(runPath(runId));
      if (closed) return;
      detail = d;
      render(d);
    } catch (err) {
      if (!closed) {
        if (!detail) body.append(h("p", { class: "empty", text: err.message }));
        showError(err);
      }
    }
  }

  function isLive() {
    if (live.has(runId)) return true;
    if (!detail) return false;
    return detail.live === true || (detail.live && typeof detail.live === "object") || detail.status === "running";
  }

  function renderLive() {
    const status = live.get(runId) || (detail && (detail.live_status || (typeof detail.live === "object" ? detail.live : null)));
    // The detail's status wins once read: a run that ended is not steerable even while the
    // live stream still lists it (the stream drops it only at its next event).
    const on = isLive() && (detail ? detail.status === "running" : live.has(runId));
    if (status && status.tick !== undefined) {
      liveTick.textContent = String(status.tick);
      liveTick.dataset.tick = String(status.tick);
      const age = fmtAge(heartbeatAge(status));
      liveRate.textContent = status.ticks_per_s !== undefined ? `(${fmtNum(status.ticks_per_s, 3)} ticks/s, heartbeat ${age === "now" ? "just now" : `${age} ago`})` : "";
      if (detail && detail.last_tick > status.tick) {
        liveTick.textContent = String(detail.last_tick); // the detail was read after the event
        liveTick.dataset.tick = String(detail.last_tick);
      }
    } else if (detail) {
      liveTick.textContent = String(detail.last_tick);
      liveTick.dataset.tick = String(detail.last_tick);
      liveRate.textContent = on ? "" : "(not live)";
    }
    for (const b of Object.values(actions)) b.disabled = !on;
  }

  async function act(cmd) {
    actions[cmd].disabled = true;
    actionResult.textContent = `${cmd}…`;
    try {
      const reply = await post(runPath(runId, `/ctl/${cmd}`));
      const bits = [cmd, reply.ok === false ? `failed: ${reply.error}` : "ok"];
      if (reply.tick !== undefined) bits.push(`at tick ${reply.tick}`);
      if (reply.pending) bits.push("(pending: taken at the next tick boundary)");
      if (reply.stopping) bits.push("(stopping)");
      actionResult.textContent = bits.join(" ");
      actionResult.dataset.command = cmd;
      if (reply.tick !== undefined) actionResult.dataset.tick = String(reply.tick);
      // The write is asynchronous: look again while the row goes pending -> committed.
      for (const ms of [300, 1000, 2000, 4000]) setTimeout(() => !closed && load(), ms);
    } catch (err) {
      actionResult.textContent = `${cmd}: ${err.message}`;
      showError(err);
    } finally {
      renderLive();
    }
  }

  function render(d) {
    setStatus(statusBadge, d.status);
    view.dataset.status = d.status;
    renderLive();
    const scroll = window.scrollY;
    clear(body);
    body.append(
      h("div", { class: "cols" }, metadataSection(d), paramsSection(d)),
      timelineSection(d),
      checkpointsSection(d, runId, load),
      h("div", { class: "cols" }, lineageSection(d, runId), retentionSection(d, runId, load)),
      lensSection(d, runId),
      signalsSection(runId),
    );
    window.scrollTo(0, scroll);
  }

  const onLive = (event) => {
    renderLive();
    if (event.kind === "run" && event.run && event.run.run_id === runId) load();
  };
  liveListeners.add(onLive);
  // A live run's checkpoints and windows change: refresh its detail every 2 s while it runs.
  refreshTimer = setInterval(() => {
    if (isLive() && performance.now() - lastFetch > 1900) load();
  }, 1000);
  load();
  return () => {
    closed = true;
    clearInterval(refreshTimer);
    liveListeners.delete(onLive);
  };
}

function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", { text: title }), children);
}

function dl(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h("dt", { text: k }), h("dd", null, v instanceof Node ? v : String(v ?? "—"))]),
  );
}

function metadataSection(d) {
  const parent = d.lineage && d.lineage.parent;
  return section(
    "Run",
    dl([
      ["world", d.world],
      ["scenario", d.scenario ?? "—"],
      ["seed", d.seed],
      ["ticks", `${fmtNum(d.start_tick)} – ${fmtNum(d.last_tick)}`],
      ["started", fmtTime(d.started_at)],
      ["ended", fmtTime(d.ended_at)],
      ["IR hash", h("span", { class: "mono", title: d.ir_hash, text: (d.ir_hash || "").slice(0, 16) })],
      ["branched from", parent ? h("a", { href: `#/runs/${encodeURIComponent(parent.run_id)}`, text: `${parent.run_id} @ ${parent.tick}` }) : "—"],
    ]),
  );
}

function paramsSection(d) {
  const params = d.params || {};
  const entries = Array.isArray(params) ? params.map((p) => [p.key, p.value]) : Object.entries(params);
  const tags = (d.tags || []).map((t) => h("span", { class: "tag", text: typeof t === "string" ? t : `${t.key}=${t.value}` }));
  return section(
    "Params and tags",
    entries.length
      ? h("table", { id: "params", class: "grid compact" }, h("tbody", null, entries.map(([k, v]) => h("tr", null, h("th", { text: k }), h("td", { class: "mono", text: JSON.stringify(v) })))))
      : h("p", { class: "empty", text: "no params" }),
    h("p", { id: "tags" }, tags.length ? tags : h("span", { class: "empty", text: "no tags" })),
  );
}

/** The tick axis: segments, checkpoints by state, lens windows and gaps on one SVG. */
function timelineSection(d) {
  const segments = d.segments || [];
  const ckpts = d.checkpoints || [];
  const lens = d.lens || {};
  const windows = lens.windows || [];
  const gaps = lens.gaps || [];
  let lo = d.start_tick ?? 0;
  let hi = d.last_tick ?? lo;
  for (const seg of segments) {
    lo = Math.min(lo, seg.start_tick);
    hi = Math.max(hi, seg.end_tick ?? seg.start_tick);
  }
  for (const c of ckpts) hi = Math.max(hi, c.tick);
  if (hi <= lo) hi = lo + 1;
  const W = 1000;
  const L = 90;
  const R = 20;
  const X = (t) => L + ((t - lo) / (hi - lo)) * (W - L - R);
  const rows = [];
  const lane = (y, label) => rows.push(s("text", { x: 4, y: y + 10, class: "lane", text: label }));
  lane(8, "segments");
  segments.forEach((seg, i) => {
    const x0 = X(seg.start_tick);
    const x1 = X(seg.end_tick ?? d.last_tick ?? seg.start_tick);
    rows.push(
      s("rect", { x: x0, y: 6, width: Math.max(2, x1 - x0), height: 14, class: `seg st-${seg.status}` }, s("title", { text: `segment ${i + 1}: ${seg.start_tick}–${seg.end_tick ?? "…"} ${seg.status}` })),
    );
  });
  lane(32, "checkpoints");
  for (const c of ckpts) {
    const st = checkpointState(c);
    rows.push(
      s("circle", { cx: X(c.tick), cy: 38, r: 5, fill: CKPT_COLOURS[st] || "#777", class: `ck ck-${st}`, "data-tick": c.tick }, s("title", { text: `tick ${c.tick}: ${st}` })),
    );
  }
  lane(56, "lens");
  for (const w of windows) {
    const x0 = X(w.start_tick);
    const x1 = X(w.end_tick);
    rows.push(s("rect", { x: x0, y: 56, width: Math.max(2, x1 - x0), height: 10, class: "win" }, s("title", { text: `window ${w.start_tick}–${w.end_tick}` })));
  }
  for (const g of gaps) {
    const x0 = X(g.start_tick);
    const x1 = X(g.end_tick);
    rows.push(s("rect", { x: x0, y: 54, width: Math.max(3, x1 - x0), height: 14, class: "gap" }, s("title", { text: `gap ${g.start_tick}–${g.end_tick}: ${g.reason || ""}` })));
  }
  const axis = [s("line", { x1: L, x2: W - R, y1: 80, y2: 80, class: "axis" })];
  for (const t of niceTicks(lo, hi, 8)) {
    if (t < lo || t > hi) continue;
    axis.push(s("line", { x1: X(t), x2: X(t), y1: 80, y2: 85, class: "axis" }), s("text", { x: X(t), y: 97, class: "tick", text: fmtNum(t) }));
  }
  const legendItems = Object.entries(CKPT_COLOURS).map(([st, colour]) => h("span", { class: "key" }, h("span", { class: "dot", "data-colour": colour }), st));
  const el = section(
    "Timeline",
    s("svg", { id: "timeline", viewBox: `0 0 ${W} 104`, role: "img", "aria-label": "segments, checkpoints and lens windows on the tick axis" }, rows, axis),
    h("p", { class: "legend-line" }, legendItems, h("span", { class: "key" }, h("span", { class: "dot gapdot" }), "lens gap")),
  );
  paintSwatches(el);
  return el;
}

function checkpointsSection(d, runId, reload) {
  const ckpts = [...(d.checkpoints || [])].sort((a, b) => a.tick - b.tick);
  const wouldPrune = new Set((d.retention && d.retention.would_prune) || []);
  const rows = ckpts.map((c) => {
    const st = checkpointState(c);
    const pinBtn = h("button", { type: "button", class: "small pin", text: c.pinned ? "unpin" : "pin" });
    pinBtn.addEventListener("click", async () => {
      pinBtn.disabled = true;
      try {
        await post(runPath(runId, `/${c.pinned ? "unpin" : "pin"}?tick=${c.tick}`));
        reload();
      } catch (err) {
        showError(err);
        pinBtn.disabled = false;
      }
    });
    return h(
      "tr",
      { "data-tick": c.tick, "data-state": c.state, "data-pinned": c.pinned ? "true" : "false" },
      h("td", { class: "num", text: c.tick }),
      h("td", null, h("span", { class: `badge ck-${st}`, text: st })),
      h("td", { class: "num", text: fmtBytes(c.size) }),
      h("td", { class: "mono", text: c.path_name || c.path || "" }),
      h("td", { text: wouldPrune.has(c.tick) ? "a prune would remove it" : "" }),
      h("td", null, isPinnable(c) ? pinBtn : null),
    );
  });
  return section(
    `Checkpoints (${ckpts.length})`,
    h(
      "table",
      { id: "checkpoints", class: "grid compact" },
      h("thead", null, h("tr", null, ["Tick", "State", "Size", "File", "Retention", ""].map((t) => h("th", { text: t })))),
      h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: 6, class: "empty", text: "no checkpoints" }))),
    ),
  );
}

function lineageSection(d, runId) {
  const lin = d.lineage || {};
  const link = (id, tick, current) =>
    h("a", { href: `#/runs/${encodeURIComponent(id)}`, class: current ? "current" : null, "data-run-id": id, text: tick !== undefined && tick !== null ? `${id} (from tick ${tick})` : id });
  // The API lists ancestors nearest first, each with the tick its child branched at:
  // drawn root first as nested lists, then this run, then its branches.
  const chain = [...(lin.ancestors || [])];
  if (!chain.length && lin.parent) chain.push(lin.parent);
  const children = (lin.children || []).map((c) => h("li", null, link(c.run_id, c.tick)));
  let node = h("li", { class: "self" }, link(runId, null, true), children.length ? h("ul", null, children) : null);
  for (const a of chain) node = h("li", null, link(a.run_id), h("span", { class: "muted", text: a.tick !== undefined && a.tick !== null ? ` branched at tick ${a.tick}` : "" }), h("ul", null, node));
  return section("Lineage", h("ul", { id: "lineage", class: "tree" }, node));
}

function retentionSection(d, runId, reload) {
  const ret = d.retention || {};
  const policy = ret.policy;
  const would = ret.would_prune || [];
  const pruneBtn = h("button", { type: "button", id: "action-prune", class: "danger", text: `Prune now (${would.length})`, disabled: !would.length });
  let armed = false;
  pruneBtn.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      pruneBtn.textContent = `Confirm: delete ${would.length} checkpoint(s)`;
      setTimeout(() => {
        armed = false;
        pruneBtn.textContent = `Prune now (${would.length})`;
      }, 4000);
      return;
    }
    pruneBtn.disabled = true;
    try {
      await post(runPath(runId, "/prune"));
      reload();
    } catch (err) {
      showError(err);
    }
  });
  // The rules that are set (a policy lists every rule, unset ones as null), then where it comes from.
  const rules = policy ? Object.entries(policy).filter(([k, v]) => v !== null && !/^(created_at|updated_at)$/.test(k)) : [];
  const policyView = policy
    ? dl(rules.map(([k, v]) => [k.replace(/_/g, " "), typeof v === "object" ? JSON.stringify(v) : v]))
    : h("p", { class: "empty", text: "no retention policy applies" });
  return section(
    "Retention",
    policyView,
    h("p", { id: "would-prune" }, would.length ? `A prune now would remove ticks ${would.join(", ")}` : "A prune now would remove nothing."),
    pruneBtn,
  );
}

function lensSection(d, runId) {
  const lens = d.lens;
  if (!lens || !(lens.fields || []).length) return section("Lens", h("p", { class: "empty", text: "no field history captured" }));
  const fields = lens.fields.map((f) => {
    const name = typeof f === "string" ? f : f.name;
    return h("li", null, h("a", { href: `#/runs/${encodeURIComponent(runId)}/fields/${encodeURIComponent(name)}`, class: "field-link", "data-field": name, text: name }));
  });
  const windows = lens.windows || [];
  const gaps = lens.gaps || [];
  return section(
    "Lens",
    dl([
      ["directory", h("span", { class: "mono", text: lens.dir || "—" })],
      ["windows", `${windows.length}${windows.length ? ` (${windows[0].start_tick}–${windows[windows.length - 1].end_tick})` : ""}`],
      ["gaps", gaps.length ? gaps.map((g) => `${g.start_tick}–${g.end_tick}${g.reason ? ` (${g.reason})` : ""}`).join(", ") : "none"],
    ]),
    h("ul", { id: "fields", class: "inline" }, fields),
  );
}

const signalLists = new Map(); // run id -> Promise of its /signals answer (they never change)

function signalsSection(runId) {
  const list = h("ul", { class: "inline", id: "run-signals" });
  const el = section("Signals", list);
  if (!signalLists.has(runId)) {
    const asked = api(runPath(runId, "/signals"));
    signalLists.set(runId, asked);
    asked.then((r) => !(r.signals || []).length && signalLists.delete(runId), () => signalLists.delete(runId));
  }
  signalLists
    .get(runId)
    .then((r) => {
      const others = [...selection].filter((id) => id !== runId);
      const runs = [runId, ...others].join(",");
      for (const sig of r.signals || []) {
        list.append(h("li", null, h("a", { href: `#/signals?runs=${encodeURIComponent(runs)}&name=${encodeURIComponent(sig.name)}`, text: sig.name }), sig.units ? ` (${sig.units})` : ""));
      }
      if (!list.firstChild) list.append(h("li", { class: "empty", text: "no signals recorded" }));
    })
    .catch((err) => list.append(h("li", { class: "empty", text: err.message })));
  return el;
}

// ---------------------------------------------------------------------------------------
// A field: frames are float32 lat/lon grids (row 0 at the north pole, column 0 at 180°W),
// coloured here through the LUT. Playback keeps a few frames in flight ahead of the one shown.

/** The captured ticks of a field: a list, or {first, last, stride, count} expanded lazily. */
function tickIndex(ticks) {
  if (Array.isArray(ticks)) {
    return { count: ticks.length, at: (i) => ticks[i], find: (t) => nearestIndex(ticks, t) };
  }
  const { first, stride, count } = ticks;
  return {
    count,
    at: (i) => first + i * stride,
    find: (t) => Math.max(0, Math.min(count - 1, Math.round((t - first) / (stride || 1)))),
  };
}

function nearestIndex(sorted, t) {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const FRAME_CACHE_LIMIT = 64;
const PREFETCH_AHEAD = 8;
const MAX_IN_FLIGHT = 4;

/** Frames of one field of one run at one width, cached (LRU) with bounded concurrent fetches. */
class FrameStore {
  constructor(runId, name, width) {
    this.base = `${runPath(runId, `/fields/${encodeURIComponent(name)}/frame`)}?width=${width}`;
    this.entries = new Map(); // tick -> {promise, frame}
    this.inFlight = 0;
    this.waiting = [];
  }

  get(tick) {
    let entry = this.entries.get(tick);
    if (entry) {
      this.entries.delete(tick); // LRU: re-insert as newest
      this.entries.set(tick, entry);
      return entry;
    }
    entry = { frame: null, error: null, promise: null };
    entry.promise = this.slot().then(() => this.fetch(tick).then(
      (frame) => (entry.frame = frame),
      (err) => {
        entry.error = err;
        this.entries.delete(tick);
        throw err;
      },
    ));
    entry.promise.catch(() => {});
    this.entries.set(tick, entry);
    while (this.entries.size > FRAME_CACHE_LIMIT) this.entries.delete(this.entries.keys().next().value);
    return entry;
  }

  slot() {
    if (this.inFlight < MAX_IN_FLIGHT) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve)).then(() => this.inFlight++);
  }

  release() {
    this.inFlight--;
    const nextWaiter = this.waiting.shift();
    if (nextWaiter) nextWaiter();
  }

  async fetch(tick) {
    try {
      const response = await fetch(`${this.base}&tick=${tick}`, { credentials: "same-origin" });
      if (!response.ok) throw await failure(response);
      const buffer = await response.arrayBuffer();
      const hd = response.headers;
      const width = parseInt(hd.get("X-Width"), 10);
      const height = parseInt(hd.get("X-Height"), 10);
      const values = new Float32Array(buffer);
      if (!(width * height === values.length)) throw new Error(`frame of tick ${tick}: ${values.length} values for ${width}x${height}`);
      return {
        tick: parseInt(hd.get("X-Field-Tick") || String(tick), 10),
        width,
        height,
        min: parseFloat(hd.get("X-Field-Min")),
        max: parseFloat(hd.get("X-Field-Max")),
        units: decodeUnits(hd.get("X-Field-Units")),
        values,
      };
    } finally {
      this.release();
    }
  }
}

/** Paint a frame into an ImageData through the colour map; NaN (no value) is dark grey. */
function paintFrame(image, frame, lo, hi) {
  const px = new Uint32Array(image.data.buffer);
  const v = frame.values;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x !== x) {
      px[i] = NO_VALUE_RGBA;
      continue;
    }
    let k = ((x - lo) * scale) | 0;
    if (k < 0) k = 0;
    else if (k > 255) k = 255;
    px[i] = LUT[k];
  }
}

/** X-Field-Units is percent-encoded UTF-8 (header values are Latin-1). */
function decodeUnits(raw) {
  if (!raw) return "";
  try {
    return decodeURIComponent(raw);
  } catch (_) {
    return raw;
  }
}

function latLonAt(frame, x, y) {
  const lat = 90 - ((y + 0.5) / frame.height) * 180;
  const lon = -180 + ((x + 0.5) / frame.width) * 360;
  return { lat, lon };
}

function fmtLat(lat) {
  return `${Math.abs(lat).toFixed(2)}°${lat >= 0 ? "N" : "S"}`;
}
function fmtLon(lon) {
  return `${Math.abs(lon).toFixed(2)}°${lon >= 0 ? "E" : "W"}`;
}

/** Page-wide playback statistics, read by scripts/bench_serve_page.py. */
const stats = { draws: [], playing: false, signalsPaintMs: null, signalsPaintedAt: null, fieldFirstPaintMs: null };

function fieldView(root, runId, name, query) {
  const widthChoice = parseInt(query.get("width") || "512", 10);
  const canvas = h("canvas", { id: "field-canvas", width: widthChoice, height: widthChoice / 2, tabindex: 0, "aria-label": `${name} on a latitude/longitude map` });
  const crosshair = h("div", { class: "crosshair", hidden: true });
  const bar = h("canvas", { id: "colour-bar", width: 256, height: 1 });
  const barMin = h("span", { id: "colour-min" });
  const barMid = h("span", { id: "colour-mid" });
  const barMax = h("span", { id: "colour-max" });
  const unitsLabel = h("span", { id: "field-units" });
  const slider = h("input", { id: "tick-slider", type: "range", min: 0, max: 0, step: 1, value: 0, disabled: true, "aria-label": "tick" });
  const tickLabel = h("output", { id: "tick-label", for: "tick-slider" });
  const play = h("button", { id: "play", type: "button", text: "▶ Play", disabled: true });
  const fpsSel = h("select", { id: "play-fps", "aria-label": "frames per second" }, [5, 10, 20, 30, 60].map((f) => h("option", { value: f, text: `${f} fps`, selected: f === 20 })));
  const scaleSel = h(
    "select",
    { id: "scale-mode", "aria-label": "colour scale" },
    h("option", { value: "frame", text: "scale: each frame" }),
    h("option", { value: "hold", text: "scale: hold current" }),
  );
  const widthSel = h("select", { id: "frame-width", "aria-label": "map width" }, [256, 512, 1024, 2048].map((w) => h("option", { value: w, text: `${w} px`, selected: w === widthChoice })));
  const fpsOut = h("span", { id: "fps" });
  const hover = h("div", { id: "hover-value", role: "status", text: "Hover the map for a value; click for its history." });
  const historyCanvas = h("canvas", { class: "chart", id: "point-history-chart", hidden: true });
  const historyInfo = h("p", { id: "point-history-info", class: "empty", text: "Click a point on the map to see its history." });
  const historyLegend = h("div", { class: "legend-wrap" });
  const historySection = h("section", { id: "point-history", class: "card" }, h("h2", { text: "Point history" }), historyInfo, historyCanvas, historyLegend);
  const title = h("h1", null, h("a", { href: `#/runs/${encodeURIComponent(runId)}`, class: "mono", text: runId }), " / ", name);
  root.append(
    title,
    h("div", { class: "toolbar" }, play, slider, tickLabel, fpsSel, scaleSel, widthSel, fpsOut),
    h("div", { class: "map-row" }, h("div", { class: "map-wrap" }, canvas, crosshair), h("div", { class: "colour-scale" }, bar, h("div", { class: "bar-labels" }, barMin, barMid, barMax), unitsLabel)),
    hover,
    historySection,
  );

  const ctx = canvas.getContext("2d", { alpha: false });
  const t0 = performance.now();
  let ticks = null;
  let store = null;
  let image = null;
  let shown = null; // the frame on the canvas
  let wanted = 0; // slider index wanted on the canvas
  let range = null; // [lo, hi] of the colour scale
  let playing = false;
  let raf = 0;
  let lastDraw = 0;
  let closed = false;
  let units = "";
  let picked = null; // {lat, lon} of the last click
  let historyData = null;

  function drawBar() {
    const bctx = bar.getContext("2d");
    const img = bctx.createImageData(256, 1);
    const px = new Uint32Array(img.data.buffer);
    for (let i = 0; i < 256; i++) px[i] = LUT[i];
    bctx.putImageData(img, 0, 0);
  }

  function draw(frame) {
    if (!image || image.width !== frame.width || image.height !== frame.height) {
      canvas.width = frame.width;
      canvas.height = frame.height;
      image = ctx.createImageData(frame.width, frame.height);
    }
    if (scaleSel.value === "frame" || !range) range = [frame.min, frame.max];
    if (!Number.isFinite(range[0]) || !Number.isFinite(range[1])) range = [0, 1];
    paintFrame(image, frame, range[0], range[1]);
    ctx.putImageData(image, 0, 0);
    shown = frame;
    units = frame.units || units;
    barMin.textContent = fmtNum(range[0], 5);
    barMid.textContent = fmtNum((range[0] + range[1]) / 2, 5);
    barMax.textContent = fmtNum(range[1], 5);
    unitsLabel.textContent = units || "(no units)";
    canvas.dataset.tick = String(frame.tick);
    tickLabel.textContent = `tick ${frame.tick}`;
    const now = performance.now();
    if (stats.fieldFirstPaintMs === null) stats.fieldFirstPaintMs = now - t0;
    if (playing) {
      stats.draws.push(now);
      if (stats.draws.length > 5000) stats.draws.splice(0, stats.draws.length - 5000);
      const recent = stats.draws.filter((t) => t > now - 2000);
      if (recent.length > 1) fpsOut.textContent = `${((recent.length - 1) / ((recent[recent.length - 1] - recent[0]) / 1000)).toFixed(1)} fps drawn`;
    }
    lastDraw = now;
    if (picked && historyData) drawHistory();
  }

  function show(index) {
    wanted = index;
    const tick = ticks.at(index);
    tickLabel.textContent = `tick ${tick}`;
    const entry = store.get(tick);
    if (entry.frame) draw(entry.frame);
    else
      entry.promise.then(
        (frame) => !closed && wanted === index && draw(frame),
        (err) => !closed && wanted === index && showError(err),
      );
    const qs = new URLSearchParams(query);
    qs.set("tick", String(tick));
    window.history.replaceState(null, "", `#/runs/${encodeURIComponent(runId)}/fields/${encodeURIComponent(name)}?${qs}`);
  }

  function prefetch(from) {
    for (let k = 1; k <= PREFETCH_AHEAD; k++) store.get(ticks.at((from + k) % ticks.count));
  }

  function step() {
    if (!playing || closed) return;
    raf = requestAnimationFrame(step);
    const interval = 1000 / parseInt(fpsSel.value, 10);
    const now = performance.now();
    if (now - lastDraw < interval - 2) return;
    const nextIndex = (wanted + 1) % ticks.count;
    const entry = store.get(ticks.at(nextIndex));
    prefetch(nextIndex);
    if (!entry.frame) return; // not here yet: keep the current frame, try next animation frame
    wanted = nextIndex;
    slider.value = String(nextIndex);
    draw(entry.frame);
  }

  function setPlaying(on) {
    playing = on && ticks && ticks.count > 1;
    stats.playing = playing;
    play.textContent = playing ? "⏸ Pause" : "▶ Play";
    play.setAttribute("aria-pressed", playing ? "true" : "false");
    cancelAnimationFrame(raf);
    if (playing) {
      stats.draws = [];
      prefetch(wanted);
      raf = requestAnimationFrame(step);
    } else {
      show(wanted); // settle the URL on the tick shown
    }
  }

  play.addEventListener("click", () => setPlaying(!playing));
  slider.addEventListener("input", () => {
    if (playing) setPlaying(false);
    show(parseInt(slider.value, 10));
  });
  canvas.addEventListener("keydown", (e) => {
    if (!ticks) return;
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      const i = Math.max(0, Math.min(ticks.count - 1, wanted + (e.key === "ArrowRight" ? 1 : -1)));
      slider.value = String(i);
      show(i);
      e.preventDefault();
    } else if (e.key === " ") {
      setPlaying(!playing);
      e.preventDefault();
    }
  });
  scaleSel.addEventListener("change", () => shown && draw(shown));
  widthSel.addEventListener("change", () => {
    const qs = new URLSearchParams(query);
    qs.set("width", widthSel.value);
    if (ticks) qs.set("tick", String(ticks.at(wanted)));
    location.hash = `#/runs/${encodeURIComponent(runId)}/fields/${encodeURIComponent(name)}?${qs}`;
  });

  function gridAt(event) {
    if (!shown) return null;
    const rect = canvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX - rect.left) / rect.width) * shown.width);
    const y = Math.floor(((event.clientY - rect.top) / rect.height) * shown.height);
    if (x < 0 || y < 0 || x >= shown.width || y >= shown.height) return null;
    return { x, y, ...latLonAt(shown, x, y), value: shown.values[y * shown.width + x], rect };
  }

  canvas.addEventListener("mousemove", (event) => {
    const at = gridAt(event);
    if (!at) return;
    const value = Number.isNaN(at.value) ? "no value" : `${fmtNum(at.value, 6)} ${units}`;
    hover.textContent = `${fmtLat(at.lat)} ${fmtLon(at.lon)} · tick ${shown.tick}: ${value}`;
    hover.dataset.lat = at.lat.toFixed(4);
    hover.dataset.lon = at.lon.toFixed(4);
    hover.dataset.value = String(at.value);
    crosshair.hidden = false;
    crosshair.style.left = `${event.clientX - at.rect.left}px`;
    crosshair.style.top = `${event.clientY - at.rect.top}px`;
  });
  canvas.addEventListener("mouseleave", () => (crosshair.hidden = true));
  canvas.addEventListener("click", async (event) => {
    const at = gridAt(event);
    if (!at) return;
    picked = { lat: at.lat, lon: at.lon };
    historyInfo.textContent = `Loading the history at ${fmtLat(at.lat)} ${fmtLon(at.lon)}…`;
    const others = [...selection].filter((id) => id !== runId);
    const qs = new URLSearchParams({ lat: at.lat.toFixed(4), lon: at.lon.toFixed(4) });
    if (others.length) qs.set("runs", [runId, ...others].join(","));
    try {
      const r = await api(`${runPath(runId, `/fields/${encodeURIComponent(name)}/history`)}?${qs}`);
      if (closed) return;
      historyData = r;
      const where = `${fmtLat(r.lat ?? at.lat)} ${fmtLon(r.lon ?? at.lon)}${r.sample !== undefined && r.sample !== null ? ` (sample ${r.sample})` : ""}`;
      const n = (r.series || []).reduce((a, sr) => a + (sr.ticks ? sr.ticks.length : 0), 0);
      const failed = (r.series || []).filter((sr) => sr.error).map((sr) => `${sr.run_id}: ${sr.error}`);
      const drawn = (r.series || []).length - failed.length;
      historyInfo.textContent = `${name} at ${where}: ${drawn} run(s), ${n} values${others.length ? "" : " — tick more runs in the runs table to compare the same point"}${failed.length ? `; not drawn: ${failed.join("; ")}` : ""}`;
      historyInfo.className = "";
      historySection.dataset.points = String(n);
      historySection.dataset.sample = String(r.sample ?? "");
      drawHistory();
    } catch (err) {
      historyInfo.textContent = err.message;
      showError(err);
    }
  });

  function drawHistory() {
    const series = (historyData.series || []).filter((sr) => sr.ticks).map((sr, i) => ({ label: sr.run_id, colour: seriesColour(i), xs: sr.ticks, ys: sr.values }));
    historyCanvas.hidden = false;
    lineChart(historyCanvas, series, { height: 220, yLabel: historyData.units || units, marker: shown ? shown.tick : null });
    clear(historyLegend);
    if (series.length > 1) {
      historyLegend.append(legend(series));
      paintSwatches(historyLegend);
    }
  }

  async function start() {
    drawBar();
    try {
      const r = await api(runPath(runId, "/fields"));
      if (closed) return;
      const field = (r.fields || []).find((f) => f.name === name);
      if (!field) throw new Error(`run ${runId} has no captured field ${name}; its fields: ${(r.fields || []).map((f) => f.name).join(", ") || "none"}`);
      units = field.units || "";
      unitsLabel.textContent = units;
      const kind = field.kind === "vector" ? "vector, drawn as its magnitude" : field.kind || "scalar";
      title.append(h("span", { class: "muted", text: ` (${kind}${units ? `, ${units}` : ""})` }));
      ticks = tickIndex(field.ticks);
      if (!ticks.count) throw new Error(`field ${name} of run ${runId} has no captured frames`);
      store = new FrameStore(runId, name, widthChoice);
      slider.max = String(ticks.count - 1);
      slider.disabled = false;
      play.disabled = ticks.count < 2;
      const startTick = query.get("tick");
      const index = startTick !== null ? ticks.find(parseInt(startTick, 10)) : 0;
      slider.value = String(index);
      show(index);
    } catch (err) {
      showError(err);
      hover.textContent = err.message;
    }
  }
  start();
  return () => {
    closed = true;
    playing = false;
    stats.playing = false;
    cancelAnimationFrame(raf);
  };
}

// ---------------------------------------------------------------------------------------
// Signals overlaid across runs (the selection, or ?runs=ID,ID), one request for all series.

const MAX_OVERLAY = 100;

function signalsView(root, query) {
  const t0 = performance.now();
  const runsInput = h("input", { id: "signals-runs", type: "text", size: 60, placeholder: "run ids, comma separated (or tick runs in the runs table)" });
  const nameSel = h("select", { id: "signals-name", "aria-label": "signal" });
  const go = h("button", { id: "signals-draw", type: "submit", text: "Draw" });
  const info = h("p", { id: "signals-info", class: "muted" });
  const canvas = h("canvas", { id: "signals-chart", class: "chart" });
  const legendWrap = h("div", { class: "legend-wrap" });
  const form = h("form", { class: "filters" }, h("label", null, h("span", { text: "Runs" }), runsInput), h("label", null, h("span", { text: "Signal" }), nameSel), go);
  root.append(h("h1", { text: "Signals" }), form, info, h("section", { class: "card" }, canvas, legendWrap));

  let ids = (query.get("runs") || [...selection].join(",")).split(",").map((x) => x.trim()).filter(Boolean);
  runsInput.value = ids.join(",");
  let closed = false;
  let data = null;

  async function names(runId) {
    const r = await api(runPath(runId, "/signals"));
    clear(nameSel);
    for (const sig of r.signals || []) nameSel.append(h("option", { value: sig.name, text: sig.units ? `${sig.name} (${sig.units})` : sig.name, "data-units": sig.units || "" }));
    const wantedName = query.get("name");
    if (wantedName) nameSel.value = wantedName;
  }

  async function drawSignals(first) {
    if (!ids.length || !nameSel.value) return;
    const shown = ids.slice(0, MAX_OVERLAY);
    info.textContent = `loading ${shown.length} run(s)…`;
    const qs = new URLSearchParams({ runs: shown.join(","), name: nameSel.value, max_points: "1000" });
    try {
      data = await api(`/api/signals?${qs}`);
      if (closed) return;
      paint();
      const ms = performance.now() - t0;
      if (first) {
        stats.signalsPaintMs = ms; // since the view opened
        stats.signalsPaintedAt = performance.now(); // since navigation start (timeOrigin)
      }
      canvas.dataset.series = String((data.series || []).length);
      info.textContent = `${nameSel.value}: ${(data.series || []).length} run(s)${ids.length > MAX_OVERLAY ? ` (the first ${MAX_OVERLAY} of ${ids.length})` : ""}; drawn ${Math.round(ms)} ms after opening`;
    } catch (err) {
      info.textContent = err.message;
      showError(err);
    }
  }

  function paint() {
    const series = (data.series || []).map((sr, i) => ({ label: sr.run_id, colour: seriesColour(i), xs: sr.ticks, ys: sr.values }));
    const opt = nameSel.selectedOptions[0];
    lineChart(canvas, series, { height: 360, yLabel: opt ? opt.dataset.units : "" });
    clear(legendWrap);
    legendWrap.append(legend(series));
    paintSwatches(legendWrap);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ids = runsInput.value.split(",").map((x) => x.trim()).filter(Boolean);
    window.history.replaceState(null, "", `#/signals?${new URLSearchParams({ runs: ids.join(","), name: nameSel.value })}`);
    drawSignals(false);
  });
  nameSel.addEventListener("change", () => form.requestSubmit());
  const onResize = () => data && paint();
  window.addEventListener("resize", onResize);

  (async () => {
    if (!ids.length) {
      info.textContent = "No runs chosen: tick runs in the runs table, or type their ids.";
      try {
        const page = await api("/api/runs?limit=10");
        ids = (page.runs || []).map((r) => r.run_id);
        runsInput.value = ids.join(",");
      } catch (err) {
        showError(err);
        return;
      }
      if (!ids.length) return;
    }
    try {
      await names(ids[0]);
      if (!closed) await drawSignals(true);
    } catch (err) {
      showError(err);
    }
  })();
  return () => {
    closed = true;
    window.removeEventListener("resize", onResize);
  };
}

// ---------------------------------------------------------------------------------------
// SQL console: the same sandbox as `continuum lens sql`; results as a table, CSV download.

const SHOW_ROWS = 1000;

function sqlView(root) {
  const input = h("textarea", { id: "sql-input", rows: 8, spellcheck: "false", "aria-label": "SQL" });
  input.value = sessionStorage.getItem("continuum.sql") || "SELECT run_id, world, status, last_tick FROM runs ORDER BY started_at DESC LIMIT 20";
  const run = h("button", { id: "sql-run", type: "button", text: "Run (Ctrl+Enter)" });
  const csv = h("a", { id: "sql-csv", class: "button", download: "continuum-query.csv", text: "CSV" });
  const info = h("p", { id: "sql-info", class: "muted" });
  const results = h("div", { id: "sql-results", class: "table-wrap" });
  const examples = h("ul", { id: "sql-examples", class: "examples" });
  root.append(
    h("h1", { text: "SQL" }),
    h("div", { class: "sql-layout" }, h("div", null, input, h("div", { class: "toolbar" }, run, csv), info, results), h("aside", null, h("h2", { text: "Examples" }), examples)),
  );

  function updateCsv() {
    csv.href = `/api/sql.csv?${new URLSearchParams({ sql: input.value })}`;
  }
  updateCsv();
  input.addEventListener("input", () => {
    updateCsv();
    sessionStorage.setItem("continuum.sql", input.value);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      execute();
    }
  });
  run.addEventListener("click", execute);

  let closed = false;
  async function execute() {
    run.disabled = true;
    info.textContent = "running…";
    clear(results);
    try {
      const r = await post("/api/sql", { sql: input.value });
      if (closed) return;
      const rows = r.rows || [];
      info.textContent = `${rows.length} row(s)${r.truncated ? " (truncated: the first 10,000; download the CSV for all)" : ""} in ${Math.round(r.elapsed_ms)} ms`;
      results.append(resultTable(r.columns || [], rows));
      results.dataset.rows = String(rows.length);
    } catch (err) {
      info.textContent = err.message;
      results.append(h("p", { class: "sql-error", text: err.message }));
    } finally {
      run.disabled = false;
    }
  }

  api("/api/sql/examples")
    .then((list) => {
      for (const ex of Array.isArray(list) ? list : list.examples || []) {
        const b = h("button", { type: "button", class: "example", title: ex.sql, text: ex.title });
        b.addEventListener("click", () => {
          input.value = ex.sql;
          updateCsv();
          sessionStorage.setItem("continuum.sql", input.value);
          input.focus();
        });
        examples.append(h("li", null, b));
      }
    })
    .catch(showError);
  return () => (closed = true);
}

function resultTable(columns, rows) {
  const table = h("table", { class: "grid compact results" }, h("thead", null, h("tr", null, columns.map((c) => h("th", { text: c })))));
  const tbody = h("tbody");
  const addRows = (from, to) => {
    const frag = document.createDocumentFragment();
    for (let i = from; i < to; i++) {
      frag.append(h("tr", null, rows[i].map((v) => h("td", { class: typeof v === "number" ? "num" : null, text: v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : v }))));
    }
    tbody.append(frag);
  };
  addRows(0, Math.min(rows.length, SHOW_ROWS));
  table.append(tbody);
  if (rows.length <= SHOW_ROWS) return table;
  const rest = h("button", { type: "button", text: `Show all ${rows.length} rows` });
  rest.addEventListener("click", () => {
    addRows(SHOW_ROWS, rows.length);
    rest.remove();
  });
  return h("div", null, table, rest);
}

// ---------------------------------------------------------------------------------------
// Routing: #/runs, #/runs/ID, #/runs/ID/fields/NAME, #/signals, #/sql.

let teardown = null;

function route() {
  const raw = location.hash.replace(/^#/, "") || "/runs";
  const [path, qs] = raw.split("?");
  const query = new URLSearchParams(qs || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (teardown) teardown();
  teardown = null;
  const root = clear($("#view"));
  let nav = parts[0] || "runs";
  try {
    if (parts[0] === "runs" && parts.length === 1) teardown = runsView(root, query);
    else if (parts[0] === "runs" && parts.length === 2) teardown = runView(root, parts[1]);
    else if (parts[0] === "runs" && parts[2] === "fields" && parts.length >= 4) teardown = fieldView(root, parts[1], parts.slice(3).join("/"), query);
    else if (parts[0] === "signals") teardown = signalsView(root, query);
    else if (parts[0] === "sql") teardown = sqlView(root);
    else {
      nav = "";
      root.append(h("h1", { text: "Not found" }), h("p", null, `Nothing at #${raw}. `, h("a", { href: "#/runs", text: "All runs" })));
    }
  } catch (err) {
    showError(err);
  }
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
  document.body.dataset.view = nav;
}

async function health() {
  try {
    const r = await api("/api/health");
    $("#health").textContent = `v${r.version} · ${r.catalog}`;
  } catch (err) {
    showError(err);
  }
}

window.__continuum = { stats, live, selection };
window.addEventListener("hashchange", route);
renderSelection();
startEvents();
health();
route();
