// The sensor's page: reads /api/summary, /api/flows and /api/health of the
// sensor that served it and draws them, every few seconds. Every value is
// set as text, never as markup: names in flows come from the network.
"use strict";

const REFRESH_MS = 5000;
const FLOWS_SHOWN = 50;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function row(cells, cls) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  if (cls) tr.className = cls;
  return tr;
}

function count(n) {
  return typeof n === "number" ? n.toLocaleString("en") : "";
}

function bytes(n) {
  if (typeof n !== "number") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function endpoint(ip, port) {
  return ip.includes(":") ? "[" + ip + "]:" + port : ip + ":" + port;
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) {
    throw new Error(path + ": " + response.status + " " + (await response.text()).trim());
  }
  return response.json();
}

function drawSummary(summary) {
  const banned = [];
  const allowed = [];
  let devices = false;
  for (const segment of summary.segments) {
    for (const v of segment.vendors) {
      if (v.vendor === "none") continue;
      if ("devices" in v) devices = true;
      const services = (v.services || []).map((s) => s.service).join(", ");
      if (v.banned) {
        banned.push(row([cell(segment.segment), cell(v.vendor), cell(count(v.flows), "n"), cell(count(v.hosts), "n"),
          cell(count(v.devices), "n devices"), cell(bytes(v.bytes), "n"), cell(count(v.dns_queries), "n"),
          cell(services, "wrap")], "banned"));
      } else {
        allowed.push(row([cell(segment.segment), cell(v.vendor), cell(count(v.flows), "n"), cell(count(v.hosts), "n"),
          cell(count(v.devices), "n devices"), cell(bytes(v.bytes), "n")]));
      }
    }
  }
  document.body.classList.toggle("with-devices", devices);
  fill(document.querySelector("#banned tbody"), banned);
  document.getElementById("banned-empty").hidden = banned.length > 0;
  fill(document.querySelector("#allowed tbody"), allowed);
  const c = summary.capture;
  const errors = Object.values(c.decode_errors || {}).reduce((a, b) => a + b, 0);
  document.getElementById("capture-totals").textContent =
    count(c.packets) + " frames (" + bytes(c.bytes) + ") read; " + count(errors) + " did not decode.";
}

function drawFlows(body) {
  const rows = body.flows.map((f) => {
    const seen = new Date(f.last_seen).toLocaleTimeString("en-GB");
    const name = f.server_name || f.name || f.query_name || "";
    return row([cell(seen), cell(f.segment), cell(endpoint(f.client, f.client_port)),
      cell(endpoint(f.server, f.server_port)), cell(f.vendor, f.banned ? "banned" : ""), cell(f.service),
      cell(f.evidence), cell(name, "wrap"), cell(count(f.packets), "n"), cell(bytes(f.bytes), "n")]);
  });
  fill(document.querySelector("#flows tbody"), rows);
  document.getElementById("flows-note").textContent = rows.length === 0
    ? "No attributed flow yet."
    : "The newest " + rows.length + (body.truncated ? " (more kept: GET /api/flows)." : ".");
}

function drawHealth(health) {
  const rows = health.interfaces.map((i) => {
    const up = i.workers_capturing === i.workers;
    return row([cell(i.interface), cell(up ? "capturing" : "stopped (" + i.workers_capturing + "/" + i.workers + ")", up ? "" : "banned"),
      cell(count(i.received), "n"), cell(count(i.dropped), "n"), cell(count(i.interface_dropped), "n"), cell(count(i.errors), "n")]);
  });
  fill(document.querySelector("#capture tbody"), rows);
  const badge = document.getElementById("health");
  const drops = health.interfaces.reduce((a, i) => a + i.dropped + i.interface_dropped, 0);
  badge.textContent = !health.capturing ? "capture stopped" : drops > 0 ? "capturing, with drops" : "capturing";
  badge.className = "badge " + (health.capturing && drops === 0 ? "ok" : "bad");
  if (!health.reload.last_successful) badge.textContent += "; last reload failed";
}

async function refresh() {
  try {
    const [summary, flows, health] = await Promise.all([
      getJSON("api/summary"), getJSON("api/flows?limit=" + FLOWS_SHOWN), getJSON("api/health")]);
    drawSummary(summary);
    drawFlows(flows);
    drawHealth(health);
    document.getElementById("error").textContent = "";
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
    document.body.dataset.state = "ready";
  } catch (e) {
    document.getElementById("error").textContent = String(e.message || e);
    document.body.dataset.state = "error";
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
