// packstation central dashboard: renders the state snapshot sent by /dashboard/api/stream
// (server-sent events). Read-only; no external assets.
"use strict";

let updates = 0;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(id, rows, render, emptyText) {
  const body = document.querySelector("#" + id + " tbody");
  const columns = document.querySelectorAll("#" + id + " thead th").length;
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(emptyText, "empty");
    td.colSpan = columns;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    render(row, tr);
    body.appendChild(tr);
  }
}

function lag(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
}

function render(s) {
  document.getElementById("head-n").textContent = s.head;
  fill("stations", s.stations, (st, tr) => {
    tr.dataset.station = st.station_id;
    if (st.halt) tr.className = "halted";
    tr.appendChild(cell(st.station_id));
    tr.appendChild(cell(st.online ? "online" : "offline", st.online ? "online" : "offline"));
    const last = st.last_event.type ? st.last_event.type + " #" + st.last_event.seq + " " + st.last_event.at : "";
    tr.appendChild(cell(last));
    tr.appendChild(cell(st.agent));
    tr.appendChild(cell(st.order_id));
    tr.appendChild(cell(st.step, "step"));
    tr.appendChild(cell(Object.keys(st.devices_down).join(", ")));
    tr.appendChild(cell(lag(st.lag_ms)));
    tr.appendChild(cell(st.feed_skipped || 0, st.feed_skipped ? "skipped" : ""));
  }, "no station has connected yet");
  document.getElementById("halts-n").textContent = s.halts.length;
  fill("halts", s.halts, (h, tr) => {
    for (const v of [h.station_id, h.order_id, h.code, h.reason, h.at]) tr.appendChild(cell(v));
  }, "no halt waiting");
  const c = s.orders.counts;
  document.getElementById("order-counts").textContent =
    Object.keys(c).sort().map((k) => k + ": " + c[k]).join(" · ");
  fill("queue", s.orders.queue, (o, tr) => {
    tr.dataset.order = o.order_id;
    for (const v of [o.order_id, o.channel, o.lines, o.assigned || "any station", o.where, o.status, o.step])
      tr.appendChild(cell(v));
  }, "no order queued");
  fill("finished", s.orders.finished, (o, tr) => {
    tr.dataset.order = o.order_id;
    for (const v of [o.order_id, o.station, o.status, o.at]) tr.appendChild(cell(v));
  }, "none yet");
  const q = s.quarantine;
  document.getElementById("pkg-q-n").textContent = q.packages.length;
  fill("pkg-quarantine", q.packages, (p, tr) => {
    for (const v of [p.station_id, p.uid, p.code, p.order_id, p.at]) tr.appendChild(cell(v));
  }, "none");
  document.getElementById("frames-n").textContent = q.frames.count;
  fill("frames", q.frames.recent, (f, tr) => {
    for (const v of [f.station_id, f.seq, f.reason, f.received_at]) tr.appendChild(cell(v));
  }, "none");
  const fs = s.feed_skipped;
  document.getElementById("feed-skipped-n").textContent = fs.count;
  fill("feed-skipped", fs.recent, (r, tr) => {
    for (const v of [r.station_id, r.kind, r.key, r.reason, r.at]) tr.appendChild(cell(v));
  }, "none");
  const ss = s.statesys;
  const status = document.getElementById("statesys-status");
  if (!ss.configured) {
    status.textContent = "not configured";
    fill("statesys", [], () => {}, "not configured");
  } else {
    status.textContent = Object.keys(ss.counts).sort().map((k) => k + ": " + ss.counts[k]).join(" · ") || "empty";
    fill("statesys", ss.open, (j, tr) => {
      for (const v of [j.id, j.kind, j.station, j.order_id, j.state, j.attempts, j.reason]) tr.appendChild(cell(v));
    }, "nothing waiting");
  }
  updates += 1;
  document.getElementById("updates").textContent = updates;
  document.body.dataset.version = s.version;
}

function connect() {
  const link = document.getElementById("link");
  const source = new EventSource("/dashboard/api/stream");
  source.addEventListener("state", (e) => {
    link.dataset.state = "live";
    link.textContent = "live";
    render(JSON.parse(e.data));
  });
  source.onerror = () => {
    link.dataset.state = "lost";
    link.textContent = "connection lost: retrying";
  };
}

connect();
