// Strata's operator dashboard: plain JavaScript, no framework, nothing loaded from the network.
// Every data call sends the admin token (kept in this tab's sessionStorage) as a bearer token.
// Numbers shown also carry their raw value in a data-value attribute (the browser test compares them).
"use strict";
(function () {
  const TOKEN_KEY = "strata-admin-token";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const AUTO_REFRESH_MS = 30000;
  const $ = (id) => document.getElementById(id);
  let timer = null;
  let lastPlan = null;

  class AuthError extends Error {}

  // ---- the admin API ----
  async function api(method, path) {
    const token = sessionStorage.getItem(TOKEN_KEY) || "";
    const r = await fetch(path, { method, cache: "no-store", headers: { Authorization: "Bearer " + token } });
    if (r.status === 401) throw new AuthError("the gateway refused the admin token (401 Unauthorized)");
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const what = body ? `${body.error || ""}: ${body.message || ""}` : r.statusText;
      throw new Error(`${method} ${path} answered ${r.status} ${what}`);
    }
    return body;
  }

  // ---- formatting ----
  function fmtBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0, v = Number(n) || 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + " " + units[i];
  }
  const fmtUsd = (x) => "$" + (Number(x) || 0).toFixed(Math.abs(x) >= 100 ? 2 : 6);
  const fmtInt = (n) => (Number(n) || 0).toLocaleString("en-US");
  const list = (a) => (Array.isArray(a) ? a.join(",") : String(a ?? "-"));

  function setValue(id, raw, text) {
    const el = $(id);
    el.textContent = text;
    el.dataset.value = String(raw);
  }

  function fillTable(tableId, rows) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      if (r.key) tr.dataset.key = r.key;
      for (const c of r.cells) {
        const td = document.createElement("td");
        const cell = typeof c === "object" && c !== null ? c : { text: c };
        td.textContent = cell.text;
        if (cell.num) td.className = "num";
        if (cell.cls) td.className = cell.cls;
        if (cell.value !== undefined) td.dataset.value = String(cell.value);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  // ---- charts (inline SVG) ----
  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function message(container, text) {
    const root = svg("svg", { viewBox: "0 0 400 40", role: "img" });
    root.appendChild(svg("text", { x: 8, y: 24 }, text));
    container.replaceChildren(root);
  }

  // Horizontal bars: items = [{label, value, note}].
  function barChart(container, items) {
    if (!items.length) return message(container, "no data");
    const rowH = 24, labelW = 120, width = 400, barMax = 170;
    const max = Math.max(...items.map((i) => i.value), 1);
    const root = svg("svg", { viewBox: `0 0 ${width} ${items.length * rowH + 8}`, role: "img" });
    items.forEach((it, i) => {
      const y = 4 + i * rowH;
      const w = Math.max((it.value / max) * barMax, it.value > 0 ? 2 : 0);
      root.appendChild(svg("text", { x: 4, y: y + 15 }, it.label));
      root.appendChild(svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 8, fill: "#4a8f6a",
        "data-label": it.label, "data-value": it.value }));
      root.appendChild(svg("text", { x: labelW + w + 6, y: y + 15 }, it.note));
    });
    container.replaceChildren(root);
  }

  // Two lines over time: samples = [{at_ms, monthly_cost, all_hot_monthly_cost}].
  function costChart(container, samples) {
    if (samples.length < 2) {
      return message(container, `${samples.length} sample(s) so far: one is taken every 30 s`);
    }
    const W = 400, H = 180, L = 70, R = 10, T = 10, B = 24;
    const t0 = samples[0].at_ms, t1 = samples[samples.length - 1].at_ms;
    const ymax = Math.max(...samples.map((s) => Math.max(s.monthly_cost, s.all_hot_monthly_cost)), 1e-9);
    const x = (t) => L + ((t - t0) / Math.max(t1 - t0, 1)) * (W - L - R);
    const y = (v) => T + (1 - v / ymax) * (H - T - B);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    root.appendChild(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#999" }));
    root.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: y(0), stroke: "#999" }));
    root.appendChild(svg("text", { x: 2, y: T + 8 }, fmtUsd(ymax)));
    root.appendChild(svg("text", { x: 2, y: y(0) }, "$0"));
    root.appendChild(svg("text", { x: L, y: H - 6 }, new Date(t0).toLocaleString()));
    root.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, new Date(t1).toLocaleString()));
    for (const [field, color] of [["all_hot_monthly_cost", "#d9822b"], ["monthly_cost", "#2f6fdb"]]) {
      const pts = samples.map((s) => `${x(s.at_ms).toFixed(1)},${y(s[field]).toFixed(1)}`).join(" ");
      root.appendChild(svg("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2,
        "data-series": field }));
    }
    container.replaceChildren(root);
  }

  // Vertical bars of the heat histogram: buckets = [{min, max, count}].
  function heatChart(container, buckets) {
    const W = 400, H = 180, B = 24, T = 16;
    const max = Math.max(...buckets.map((b) => b.count), 1);
    const slot = W / buckets.length;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    buckets.forEach((b, i) => {
      const h = (b.count / max) * (H - T - B);
      const label = b.max === null ? `≥${b.min}` : b.min === 0 ? `<${b.max}` : `${b.min}–${b.max}`;
      root.appendChild(svg("rect", { x: i * slot + 6, y: H - B - h, width: slot - 12, height: h, fill: "#d9822b",
        "data-bucket": label, "data-value": b.count }));
      root.appendChild(svg("text", { x: i * slot + slot / 2, y: H - B - h - 3, "text-anchor": "middle" }, b.count));
      root.appendChild(svg("text", { x: i * slot + slot / 2, y: H - 6, "text-anchor": "middle" }, label));
    });
    container.replaceChildren(root);
  }

  // ---- sections ----
  function renderBackends(b) {
    setValue("object-count", b.objects, fmtInt(b.objects));
    setValue("logical-bytes", b.logical_bytes, fmtBytes(b.logical_bytes));
    setValue("backend-count", b.backends.length, String(b.backends.length));
    setValue("cost-now", b.monthly_cost, fmtUsd(b.monthly_cost));
    setValue("cost-all-hot", b.all_hot_monthly_cost, fmtUsd(b.all_hot_monthly_cost));
    const saving = b.all_hot_monthly_cost > 0 ? 1 - b.monthly_cost / b.all_hot_monthly_cost : 0;
    setValue("cost-saving", saving, (saving * 100).toFixed(1) + " %");
    fillTable("backends-table", b.backends.map((x) => ({
      key: x.name,
      cells: [x.name, x.provider, x.storage_class,
        { text: fmtInt(x.objects), num: true, value: x.objects },
        { text: fmtBytes(x.bytes), num: true, value: x.bytes },
        { text: fmtUsd(x.monthly_cost), num: true, value: x.monthly_cost },
        { text: fmtInt(x.reads), num: true }, { text: fmtInt(x.writes), num: true },
        { text: (x.error_rate * 100).toFixed(2) + " %", num: true },
        { text: x.healthy ? "healthy" : "errors (last 30 s)", cls: x.healthy ? "ok" : "down", value: x.healthy }],
    })));
    const group = (field) => {
      const m = new Map();
      for (const x of b.backends) {
        const g = m.get(x[field]) || { label: x[field], value: 0, objects: 0 };
        g.value += x.bytes; g.objects += x.objects;
        m.set(x[field], g);
      }
      return [...m.values()].map((g) => ({ ...g, note: `${fmtBytes(g.value)} · ${fmtInt(g.objects)} obj` }));
    };
    barChart($("chart-backends"), group("name"));
    barChart($("chart-tiers"), group("storage_class"));
    barChart($("chart-providers"), group("provider"));
  }

  function renderMoves(recent, active) {
    setValue("moves-active", active.moves.length, String(active.moves.length));
    fillTable("moves-table", recent.moves.map((m) => ({
      key: String(m.id),
      cells: [String(m.id), m.state, `${m.bucket}/${m.key}`, list(m.from), list(m.to),
        { text: fmtInt(m.bytes), num: true }, { text: String(m.attempts), num: true }, m.reason || ""],
    })));
  }

  function renderChaos(config, stats) {
    setValue("chaos-total", stats.total_injected, fmtInt(stats.total_injected));
    const rules = stats.rules || [];
    fillTable("chaos-table", rules.map((r) => ({
      key: r.id, cells: [r.id, r.backend, r.fault_type, { text: fmtInt(r.injected), num: true }],
    })));
    $("chaos-empty").hidden = (config.rules || []).length > 0;
    $("chaos-clear").disabled = (config.rules || []).length === 0;
  }

  function renderPlan(p) {
    $("plan-preview").hidden = false;
    setValue("plan-moves", p.moves.length, String(p.moves.length));
    setValue("plan-bytes", p.bytes_to_copy, fmtInt(p.bytes_to_copy));
    setValue("plan-cost-before", p.cost_before, fmtUsd(p.cost_before));
    setValue("plan-cost-after", p.cost_after, fmtUsd(p.cost_after));
    setValue("plan-lower-bound", p.lower_bound, fmtUsd(p.lower_bound));
    setValue("plan-gap", p.gap, (p.gap * 100).toFixed(4) + " %");
    setValue("plan-model", p.model_in_use, String(p.model_in_use));
    fillTable("plan-moves-table", p.moves.map((m) => ({
      key: `${m.bucket}/${m.key}`,
      cells: [`${m.bucket}/${m.key}`, list(m.from), list(m.to), { text: fmtInt(m.bytes), num: true },
        { text: m.cost_delta.toFixed(6), num: true, value: m.cost_delta }],
    })));
  }

  function renderModel(m) {
    setValue("model-in-use", m.in_use, String(m.in_use));
    const v = m.metrics;
    const auc = v ? ` — validation AUC forest ${v.auc.toFixed(3)} vs rule ${v.rule_auc.toFixed(3)}` : "";
    $("model-detail").textContent = `(${m.reason})${auc}; p_hot = P(read within ` +
      `${(m.horizon_ms / 3600000).toFixed(0)} h)`;
  }

  // ---- actions ----
  function showError(e) {
    if (e instanceof AuthError) return logout("Logged out: " + e.message + ".");
    const el = $("load-error");
    el.textContent = String(e.message || e);
    el.hidden = false;
  }

  async function refresh(rescan) {
    const calls = {
      backends: api("GET", "/admin/backends" + (rescan ? "?refresh=true" : "")),
      history: api("GET", "/admin/cost/history"),
      heat: api("GET", "/admin/heat"),
      recent: api("GET", "/admin/moves?limit=20"),
      active: api("GET", "/admin/moves?active=true"),
      chaos: api("GET", "/admin/chaos"),
      chaosStats: api("GET", "/admin/chaos/stats"),
      model: api("GET", "/admin/model"),
    };
    const names = Object.keys(calls);
    const settled = await Promise.allSettled(Object.values(calls));
    const r = {};
    const errors = [];
    settled.forEach((s, i) => (s.status === "fulfilled" ? (r[names[i]] = s.value) : errors.push(s.reason)));
    const auth = errors.find((e) => e instanceof AuthError);
    if (auth) return showError(auth);
    if (r.backends) renderBackends(r.backends);
    if (r.history) costChart($("chart-cost"), r.history.samples);
    if (r.heat) {
      heatChart($("chart-heat"), r.heat.buckets);
      $("heat-note").textContent = `${fmtInt(r.heat.objects)} objects; heat halves every ` +
        `${(r.heat.half_life_ms / 3600000).toFixed(1)} h, +1 per read; hottest ${r.heat.max_heat.toFixed(2)}`;
    }
    if (r.recent && r.active) renderMoves(r.recent, r.active);
    if (r.chaos && r.chaosStats) renderChaos(r.chaos, r.chaosStats);
    if (r.model) renderModel(r.model);
    $("load-error").hidden = errors.length === 0;
    $("load-error").textContent = errors.map((e) => e.message).join("; ");
    $("last-updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = String(Date.now());
  }

  async function previewPlan() {
    $("plan-status").textContent = "computing…";
    $("plan-apply-result").hidden = true;
    try {
      lastPlan = await api("GET", "/admin/plan");
      renderPlan(lastPlan);
      $("plan-apply-button").disabled = lastPlan.moves.length === 0;
      $("plan-status").textContent = "dry run: nothing changed";
    } catch (e) {
      $("plan-status").textContent = "";
      showError(e);
    }
  }

  async function applyPlan() {
    $("plan-apply-button").disabled = true;
    $("plan-status").textContent = "applying…";
    try {
      const r = await api("POST", "/admin/plan/apply");
      renderPlan(r.plan);
      const el = $("plan-apply-result");
      el.textContent = `applied: ${r.created.length} move task(s) created`;
      el.dataset.value = String(r.created.length);
      el.hidden = false;
      $("plan-status").textContent = "";
      await refresh(false);
    } catch (e) {
      $("plan-status").textContent = "";
      showError(e);
    }
  }

  async function clearChaos() {
    try {
      await api("DELETE", "/admin/chaos");
      renderChaos(await api("GET", "/admin/chaos"), await api("GET", "/admin/chaos/stats"));
    } catch (e) {
      showError(e);
    }
  }

  // ---- login ----
  function logout(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (timer) clearInterval(timer);
    timer = null;
    $("dashboard").hidden = true;
    $("refresh").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    const err = $("login-error");
    err.textContent = why || "";
    err.hidden = !why;
  }

  async function login(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await api("GET", "/admin/health");
    } catch (e) {
      return logout(e instanceof AuthError
        ? "Wrong admin token: the gateway refused it (401). Use the token from credentials.json or STRATA_ADMIN_TOKEN."
        : "Cannot reach the admin API: " + e.message);
    }
    $("login").hidden = true;
    $("login-error").hidden = true;
    $("dashboard").hidden = false;
    $("refresh").hidden = false;
    $("logout").hidden = false;
    await refresh(true);
    timer = setInterval(() => refresh(false), AUTO_REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      login($("token-input").value.trim());
    });
    $("logout").addEventListener("click", () => logout(""));
    $("refresh").addEventListener("click", () => refresh(true));
    $("plan-preview-button").addEventListener("click", previewPlan);
    $("plan-apply-button").addEventListener("click", applyPlan);
    $("chaos-clear").addEventListener("click", clearChaos);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) login(saved);
  });
})();
