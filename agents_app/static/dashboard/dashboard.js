// Live dashboard: REST for the first picture, WebSockets for every change after it.
// Protocol: agents_app/consumers.py (connected/resume/resumed/error) and the payloads in
// agents_app/events.py (task_update, agent_status_update) and agents_app/feed_metrics.py
// (metrics_update). Each socket reconnects by itself (exponential backoff) and resumes
// from the last sequence number it saw, so a dropped connection loses no stored event.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const text = (value) => (value === null || value === undefined ? "–" : String(value));
  const agents = new Map();
  const tasks = new Map();
  const MAX_EVENTS = 200;
  const MAX_TASKS = 20;

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
    if (!agents.size) { body.append(el("tr", {}, [el("td", { colspan: "6", class: "empty" }, ["no agents"])])); return; }
    [...agents.values()].sort((a, b) => a.id.localeCompare(b.id)).forEach((a) => {
      const s = a.stats || {};
      body.append(el("tr", { "data-agent": a.id, "data-status": a.status, "data-completed": text(s.tasksCompleted) }, [
        el("td", { title: a.name || a.id }, [a.id]), el("td", {}, [badge(a.status)]),
        el("td", {}, [text(s.tasksCompleted)]), el("td", {}, [text(s.tasksFailed)]),
        el("td", {}, [s.successRate === null || s.successRate === undefined ? "–" : s.successRate + "%"]),
        el("td", {}, [s.avgLatencyMs === null || s.avgLatencyMs === undefined ? "–" : Math.round(s.avgLatencyMs)]),
      ]));
    });
  }

  function renderTasks() {
    const body = $("tasks");
    body.replaceChildren();
    const rows = [...tasks.values()].sort((a, b) => (b.created || "").localeCompare(a.created || "")).slice(0, MAX_TASKS);
    if (!rows.length) { body.append(el("tr", {}, [el("td", { colspan: "5", class: "empty" }, ["no tasks yet"])])); return; }
    rows.forEach((t) => {
      body.append(el("tr", { "data-task": t.task_id, "data-status": t.status }, [
        el("td", { title: t.task_id }, [t.task_id.slice(0, 8)]), el("td", {}, [t.agent_id]), el("td", {}, [t.action]),
        el("td", {}, [badge(t.status)]), el("td", {}, [text(t.progress) + "%"]),
      ]));
    });
  }

  function logEvent(message) {
    const list = $("events");
    if (list.firstElementChild && list.firstElementChild.classList.contains("empty")) list.replaceChildren();
    const when = (message.timestamp || new Date().toISOString()).slice(11, 19);
    let summary = message.type;
    if (message.type === "task_update") summary += ` ${message.task_id.slice(0, 8)} ${message.agent_id} ${message.status} ${text(message.progress)}%`;
    if (message.type === "agent_status_update") summary += ` ${message.agent_id} → ${message.status} (${(message.data && message.data.reason) || ""})`;
    if (message.type === "error") summary += ` ${message.code || ""}: ${message.message || ""}`;
    list.prepend(el("li", { "data-type": message.type, "data-task": message.task_id || "" }, [el("time", {}, [when]), summary]));
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  function showMetrics(d) {
    const http = d.http;
    const fmt = (v, digits, unit) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits) + unit);
    $("kpi-rate").textContent = http ? fmt(http.request_rate, 2, "") : "–";
    $("kpi-errors").textContent = http ? fmt(http.error_rate, 1, "%") : "–";
    $("kpi-latency").textContent = http ? fmt(http.latency_p95_ms, 0, " ms") : "–";
    $("kpi-window").textContent = http ? `last ${Math.round(http.window_seconds)} s, ${http.requests} requests` : "waiting for a second reading";
    $("kpi-running").textContent = text(d.running_tasks);
    $("kpi-success").textContent = fmt(d.success_rate_24h, 1, "%");
    $("kpi-queue").textContent = d.queue ? text(d.queue.waiting) : "–";
  }

  let statsTimer = null;
  function refreshStatsSoon() {
    // Stats are aggregated from tasks on the server; reload them after tasks finish.
    if (statsTimer) return;
    statsTimer = setTimeout(() => { statsTimer = null; loadAgents(); }, 1500);
  }

  function onEvent(message) {
    logEvent(message);
    if (message.type === "agent_status_update") {
      const agent = agents.get(message.agent_id) || { id: message.agent_id };
      agent.status = message.status;
      agent.live = true;
      agents.set(message.agent_id, agent);
      renderAgents();
    } else if (message.type === "task_update") {
      const known = tasks.get(message.task_id) || { created: message.timestamp };
      tasks.set(message.task_id, {
        ...known, task_id: message.task_id, agent_id: message.agent_id, status: message.status,
        progress: message.progress, action: (message.data && message.data.action) || known.action, live: true,
      });
      renderTasks();
      if (["completed", "failed", "cancelled"].includes(message.status)) refreshStatsSoon();
    }
  }

  function connect(channel) {
    const badgeEl = $("conn-" + channel);
    let lastSeq = null;
    let delay = 500;
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/${channel}`);
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "connected") {
          delay = 500;
          badgeEl.textContent = channel + ": live"; badgeEl.className = "conn open";
          // First connect: start from now. Reconnect: ask for everything missed meanwhile.
          if (lastSeq === null) lastSeq = message.seq;
          else socket.send(JSON.stringify({ type: "resume", after: lastSeq }));
          return;
        }
        if (message.type === "pong" || message.type === "resumed") return;
        if (message.type === "metrics_update") { showMetrics(message.data || {}); return; }
        if (message.type === "error" && message.code === "resume_gap") { loadAgents(); loadTasks(); }
        if (typeof message.seq === "number") {
          if (lastSeq !== null && message.seq <= lastSeq) return; // already shown
          lastSeq = message.seq;
        }
        onEvent(message);
      };
      socket.onclose = (event) => {
        const why = event.code === 4401 ? "log in again" : event.code === 4403 ? "origin refused" : "reconnecting";
        badgeEl.textContent = `${channel}: ${why}`; badgeEl.className = "conn closed";
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    };
    open();
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function loadAgents() {
    try {
      const body = await getJSON("/api/v1/agents");
      (Array.isArray(body) ? body : body.results || []).forEach((a) => {
        const known = agents.get(a.id);
        // A status seen live is newer than the REST snapshot; stats always come from REST.
        agents.set(a.id, known && known.live ? { ...a, status: known.status, live: true } : a);
      });
      renderAgents();
    } catch (err) {
      $("agents").replaceChildren(el("tr", {}, [el("td", { colspan: "6", class: "empty" }, [String(err.message)])]));
    }
  }

  async function loadTasks() {
    try {
      const body = await getJSON(`/api/v1/tasks?limit=${MAX_TASKS}`);
      (body.results || []).forEach((t) => {
        if (tasks.has(t.id) && tasks.get(t.id).live) return; // the live event is newer
        tasks.set(t.id, { task_id: t.id, agent_id: t.agent_id, action: t.action, status: t.status, progress: t.progress, created: t.created_at });
      });
      renderTasks();
    } catch (err) {
      $("tasks").replaceChildren(el("tr", {}, [el("td", { colspan: "5", class: "empty" }, [String(err.message)])]));
    }
  }

  async function loadHealth() {
    try {
      const response = await fetch("/health", { headers: { Accept: "application/json" } });
      const body = await response.json();
      const rows = Object.entries(body.services || {}).map(([name, s]) =>
        el("tr", { "data-service": name }, [el("td", {}, [name]), el("td", {}, [badge(s.status)]), el("td", {}, [s.latency_ms === undefined ? "" : s.latency_ms + " ms"])]));
      rows.unshift(el("tr", {}, [el("td", {}, [el("b", {}, ["platform"])]), el("td", {}, [badge(body.status)]), el("td", {}, [body.version])]));
      $("services").replaceChildren(...rows);
    } catch (err) {
      $("services").replaceChildren(el("tr", {}, [el("td", { class: "empty" }, ["health unavailable"])]));
    }
  }

  ["agents", "tasks", "metrics"].forEach(connect);
  loadAgents();
  loadTasks();
  loadHealth();
  setInterval(loadHealth, 10000);
})();
