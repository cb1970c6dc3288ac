// turnout dashboard: progressive enhancement only; every page works without it.
"use strict";

function shares(table) {
  // Each destination's live share of its rule by weight (weights below 0 count as 0).
  const inputs = Array.from(table.querySelectorAll("input.weight"));
  const weights = inputs.map((input) => Math.max(0, parseInt(input.value, 10) || 0));
  const total = weights.reduce((a, b) => a + b, 0);
  inputs.forEach((input, i) => {
    const out = input.closest("tr").querySelector("output.share");
    if (out) out.textContent = total ? (weights[i] * 100 / total).toFixed(1) + " %" : "0 %";
  });
}

function postbackUrl(builder) {
  const domain = document.getElementById("pb-domain").value.replace(/\/+$/, "");
  const parts = [];
  builder.querySelectorAll("input.pb-param").forEach((input) => {
    if (input.value) parts.push(encodeURIComponent(input.dataset.param) + "=" + input.value);
  });
  parts.push("secret=" + encodeURIComponent(builder.dataset.secret));
  document.getElementById("pb-url").value = domain + "/postback?" + parts.join("&");
}

function ciBars() {
  document.querySelectorAll(".ci").forEach((ci) => {
    const low = Math.max(0, Math.min(100, parseFloat(ci.dataset.low)));
    const high = Math.max(0, Math.min(100, parseFloat(ci.dataset.high)));
    const bar = ci.querySelector(".ci-bar");
    bar.style.left = low + "%";
    bar.style.width = Math.max(0.5, high - low) + "%";
  });
}

function timeline() {
  const holder = document.getElementById("timeline");
  const data = document.getElementById("timeline-data");
  if (!holder || !data || typeof uPlot === "undefined") return;
  const body = JSON.parse(data.textContent);
  const bucket = body.bucket || "date";
  const rows = body.rows || [];
  // Dates are local days; hours carry their offset as +0100 (ISO wants +01:00).
  const instant = (value) => bucket === "date" ? value + "T00:00:00Z"
    : value.replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
  const x = rows.map((r) => Date.parse(instant(r[bucket])) / 1000);
  const names = ["clicks", "conversions", "revenue", "cost", "profit"];
  const colours = ["#2456d6", "#7c3aed", "#137a3a", "#b3261e", "#a15c00"];
  const series = [{}].concat(names.map((name, i) => ({
    label: name, stroke: colours[i], width: 2,
    scale: i < 2 ? "count" : "money",
  })));
  const values = names.map((name) => rows.map((r) => (r[name] == null ? null : Number(r[name]))));
  const width = () => Math.max(280, holder.clientWidth);
  const plot = new uPlot({
    width: width(), height: 260, series: series,
    scales: { x: { time: true } },
    axes: [{}, { scale: "count", label: "count" },
           { scale: "money", side: 1, label: body.currency, grid: { show: false } }],
  }, [x].concat(values), holder);
  window.addEventListener("resize", () => plot.setSize({ width: width(), height: 260 }));
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.destinations").forEach((table) => {
    table.addEventListener("input", () => shares(table));
    shares(table);
  });
  const builder = document.getElementById("builder");
  if (builder) {
    builder.addEventListener("input", () => postbackUrl(builder));
    postbackUrl(builder);
  }
  document.querySelectorAll("button.copy").forEach((button) => {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try { await navigator.clipboard.writeText(field.value); } catch (e) { document.execCommand("copy"); }
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  });
  document.querySelectorAll("form[data-loading]").forEach((form) => {
    form.addEventListener("submit", () => { document.getElementById("loading").hidden = false; });
  });
  ciBars();
  timeline();
});
