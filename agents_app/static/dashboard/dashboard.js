// Live dashboard: REST for the initial picture, WebSockets for every change after it.
// Each socket reconnects by itself (exponential backoff) and resumes from the last
// sequence number it saw, so a dropped connection loses no event.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const text = (value) => (value === null || value === undefined ? "–" : String(value));
  const agents = new Map();
  const tasks = new Map();
  const MAX_EVENTS = 200;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => (k === "class" ? (node.className = v) : node.setAttribute(k, v)));
    (children || []).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(text(c))));
    return node;
  }
  const badge = (status) => el("span", { class: "status s-" + status }, [status]);

  function renderAgents() {
    const body = $("agents");
    body.replaceChildren();
    if (!agents.size) { body.append(el("tr", {}, [el("td", { colspan: "5", class: "empty" }, ["no agents"])])); return; }
    [...agents.values()].sort((a, b) => a.id.localeCompare(b.id)).forEach((a) => {
      const s = a.stats || {};
      body.append(el("tr", { "data-agent": a.id }, [
        el("td", { title: a.name || a.id }, [a.id]), el("td", {}, [badge(a.status)]),
        el("td", {}, [text(s.tasksCompleted)]),
        el("td", {}, [s.successRate === null || s.successRate === undefined ? "–" : Math.round(s.successRate * 100) / 100 + "%"]),
        el("td", {}, [s.avgLatencyMs === null || s.avgLatencyMs === undefined ? "–" : Math.round(s.avgLatencyMs)]),
      ]));
    });
  }

  function renderTasks() {
    const body = $("tasks");
    body.replaceChildren();
    [...tasks.values()].slice(-15).reverse().forEach((t) => {
      body.append(el("tr", { "data-task": t.task_id }, [
        el("td", { title: t.task_id }, [t.task_id.slice(0, 8)]), el("td", {}, [(t.data && t.data.agent_id) || "–"]),
        el("td", {}, [badge(t.status)]), el("td", {}, [text(t.progress) + "%"]),
      ]));
    });
  }

  function logEvent(message) {
    const list = $("events");
    if (list.firstElementChild && list.firstElementChild.classList.contains("empty")) list.replaceChildren();
    const when = (message.timestamp || new Date().toISOString()).slice(11, 19);
    let summary = message.type;
    if (message.type === "task_update") summary += ` ${message.task_id.slice(0, 8)} ${message.status} ${text(message.progress)}%`;
    if (message.type === "agent_status_update") summary += ` ${message.agent_id} → ${message.status}`;
    if (message.type === "error") summary += ` ${message.message || ""}`;
    list.prepend(el("li", { "data-type": message.type }, [el("time", {}, [when]), summary]));
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  function onMessage(message) {
    if (message.type === "pong") return;
    if (message.type === "metrics_update") {
      const d = message.data || message;
      $("kpi-rate").textContent = d.request_rate === undefined ? "–" : Number(d.request_rate).toFixed(1);
      $("kpi-errors").textContent = d.error_rate === undefined ? "–" : (Number(d.error_rate) * 100).toFixed(1) + "%";
      $("kpi-latency").textContent = d.latency_p95_ms === undefined ? "–" : Math.round(d.latency_p95_ms) + " ms";
      $("kpi-running").textContent = text(d.tasks_running !== undefined ? d.tasks_running : (d.tasks && d.tasks.running));
      return;
    }
    logEvent(message);
    if (message.type === "agent_status_update") {
      const agent = agents.get(message.agent_id) || { id: message.agent_id };
      agent.status = message.status;
      if (message.data && message.data.stats) agent.stats = message.data.stats;
      agents.set(message.agent_id, agent);
      renderAgents();
    } else if (message.type === "task_update") {
      tasks.delete(message.task_id);
      tasks.set(message.task_id, message);
      renderTasks();
    }
  }

  function connect(channel) {
    const badgeEl = $("conn-" + channel);
    let lastSeq = null;
    let delay = 500;
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/${channel}`);
      socket.onopen = () => {
        delay = 500;
        badgeEl.textContent = channel + ": live"; badgeEl.className = "conn open";
        if (lastSeq !== null) socket.send(JSON.stringify({ type: "resume", after: lastSeq }));
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (typeof message.seq === "number") {
          if (lastSeq !== null && message.seq <= lastSeq) return; // already shown
          lastSeq = message.seq;
        }
        onMessage(message);
      };
      socket.onclose = () => {
        badgeEl.textContent = channel + ": reconnecting"; badgeEl.className = "conn closed";
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    };
    open();
  }

  async function loadAgents() {
    const response = await fetch("/api/v1/agents?limit=200", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    (Array.isArray(body) ? body : body.results || []).forEach((a) => agents.set(a.id, a));
    renderAgents();
  }

  async function loadHealth() {
    try {
      const response = await fetch("/health", { headers: { Accept: "application/json" } });
      const body = await response.json();
      const rows = Object.entries(body.services || {}).map(([name, s]) =>
        el("tr", {}, [el("td", {}, [name]), el("td", {}, [badge(s.status)]), el("td", {}, [s.latency_ms === undefined ? "" : s.latency_ms + " ms"])]));
      rows.unshift(el("tr", {}, [el("td", {}, [el("b", {}, ["platform"])]), el("td", {}, [badge(body.status)]), el("td", {}, [body.version])]));
      $("services").replaceChildren(...rows);
    } catch (err) {
      $("services").replaceChildren(el("tr", {}, [el("td", { class: "empty" }, ["health unavailable"])]));
    }
  }

  loadAgents();
  loadHealth();
  setInterval(loadHealth, 10000);
  ["agents", "tasks", "metrics"].forEach(connect);
})();
