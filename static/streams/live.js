// The live page: one WebSocket per viewer, a snapshot first, then events in seq order.
// Everything from the server is put on the page with textContent: chat and titles can
// never become markup.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const streamId = root.dataset.stream;
  const snapshotUrl = root.dataset.snapshotUrl;
  const $ = (id) => document.getElementById(id);
  const state = { seq: 0, snapshot: JSON.parse($("snapshot").textContent), deal: null };
  let socket = null;
  let retry = 0;
  let dealTimer = null;

  const exponents = { JPY: 0, KRW: 0 };
  function money(minor, currency) {
    const digits = exponents[currency] ?? 2;
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits })
      .format(minor / Math.pow(10, digits));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function notice(text) {
    const box = $("notice");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
    if (text) setTimeout(() => { if (box.textContent === text) box.hidden = true; }, 4000);
  }

  // --- rendering -------------------------------------------------------------------------
  // Buy opens the buy sheet over the live (orders/buy.js): htmx loads it into the dialog.
  function buyButton(item) {
    const template = root.dataset.buyUrl;
    if (!template || item.stock <= 0 || item.external_url || root.dataset.status === "ended") return null;
    const url = template.replace("/0/", `/${item.product}/`);
    return el("a", {
      class: "button small buy-button", href: url, "hx-get": url, "hx-target": "#sheet-body",
      "hx-swap": "innerHTML", dataset: { testid: "buy" },
    }, "Buy");
  }

  function renderCarousel(items) {
    const list = $("carousel");
    list.replaceChildren(...items.map((item) => el("li", {
      class: "carousel-item" + (item.pinned ? " pinned" : ""),
      dataset: { product: item.product, testid: "carousel-item" },
    }, el("a", { href: item.url },
      item.image ? el("img", { src: item.image, alt: "", width: 160, height: 160 })
                 : el("span", { class: "carousel-noimage", "aria-hidden": "true" }, "🛍"),
      el("span", { class: "carousel-title" }, item.title),
      el("span", { class: "carousel-price" }, money(item.price, item.currency)),
      el("span", { class: "carousel-stock" }, item.stock > 0 ? `${item.stock} left` : "Sold out"),
    ), buyButton(item))));
    if (window.htmx) window.htmx.process(list);
    state.snapshot.carousel = items;
    if (state.deal) renderDeal(state.deal);
  }

  function renderDeal(deal) {
    const box = $("deal");
    clearInterval(dealTimer);
    state.deal = deal && deal.status === "active" ? deal : null;
    if (!state.deal) { box.hidden = true; return; }
    const item = (state.snapshot.carousel || []).find((i) => i.product === deal.product);
    $("deal-title").textContent = item ? item.title : "";
    $("deal-price").textContent = money(deal.price, item ? item.currency : "USD");
    $("deal-left").textContent = deal.remaining;
    const ends = Date.parse(deal.ends_at);
    const tick = () => {
      const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      $("deal-timer").textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      if (left === 0) {
        clearInterval(dealTimer);
        // deal.ended should follow within a second; if it was missed, reload the state.
        setTimeout(() => { if (state.deal && state.deal.id === deal.id) resync(); }, 4000);
      }
    };
    tick();
    dealTimer = setInterval(tick, 1000);
    box.hidden = false;
  }

  // A signed-in viewer can report another's line in one tap: the form opens in the report
  // sheet over the live (moderation/report.js).
  function reportButton(line) {
    const template = root.dataset.reportUrl;
    if (!template || root.dataset.moderate || line.user.handle === root.dataset.user) return null;
    const url = template.replace("/0/", `/${line.id}/`);
    return el("button", {
      type: "button", class: "link chat-report", "hx-get": url, "hx-target": "#report-body",
      "hx-swap": "innerHTML", "aria-label": `Report this message from ${line.user.name}`,
      title: "Report", dataset: { testid: "chat-report" },
    }, "⚑");
  }

  function chatLine(line) {
    const item = el("li", { dataset: { id: line.id } }, el("strong", {}, line.user.name), " ", el("span", {}, line.text));
    const report = reportButton(line);
    if (report) item.append(" ", report);
    if (root.dataset.moderate) {
      // The host console: each line can be hidden for everyone, its author muted.
      item.append(" ", el("button", { type: "button", class: "link", dataset: { action: "delete_message", message: line.id } }, "Delete"),
        " ", el("button", { type: "button", class: "link", dataset: { action: "mute", user: line.user.handle } }, "Mute"));
    }
    return item;
  }

  if (root.dataset.moderate) {
    $("chat").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const body = new FormData();
      body.append("action", button.dataset.action);
      if (button.dataset.message) body.append("message", button.dataset.message);
      if (button.dataset.user) { body.append("user", button.dataset.user); body.append("muted", "1"); }
      const token = document.querySelector("[name=csrfmiddlewaretoken]");
      const response = await fetch(root.dataset.consoleUrl, {
        method: "POST", body, headers: { "X-CSRFToken": token ? token.value : "" },
      });
      notice(response.ok ? (button.dataset.user ? `@${button.dataset.user} muted.` : "Message hidden.") : "That did not work.");
    });
  }

  function renderChat(lines) {
    const list = $("chat");
    list.replaceChildren(...lines.map(chatLine));
    if (window.htmx && root.dataset.reportUrl) window.htmx.process(list);
    scrollChat();
  }
  function scrollChat() { const list = $("chat"); list.scrollTop = list.scrollHeight; }

  function addChat(line) {
    const list = $("chat");
    if (list.querySelector(`[data-id="${line.id}"]`)) return;  // also in the snapshot
    const item = chatLine(line);
    list.append(item);
    if (window.htmx && root.dataset.reportUrl) window.htmx.process(item);
    while (list.children.length > 100) list.firstElementChild.remove();
    scrollChat();
  }

  function tickerLine(text) {
    const list = $("ticker");
    const item = el("li", {}, text);
    list.prepend(item);
    while (list.children.length > 3) list.lastElementChild.remove();
    setTimeout(() => item.remove(), 8000);
  }

  function renderState(stream) {
    root.dataset.status = stream.status;
    const badge = $("state-badge");
    if (stream.status === "live") badge.textContent = "LIVE";
    else if (stream.status === "ended") { badge.textContent = "Ended"; notice("This live has ended."); }
    const video = $("video");
    if (stream.playback_url && video.dataset.src !== stream.playback_url) {
      video.dataset.src = stream.playback_url;
      play();
    }
  }

  function applySnapshot(data) {
    state.snapshot = data;
    state.seq = data.seq;
    renderState(data.stream);
    renderCarousel(data.carousel);
    renderDeal(data.deal);
    renderChat(data.chat);
    $("viewers").textContent = data.viewers.now;
    $("likes").textContent = data.likes;
  }

  const handlers = {
    "stream.state": (d) => renderState(d),
    "carousel.updated": (d) => renderCarousel(d.items),
    "deal.started": (d) => renderDeal(d),
    "deal.ended": (d) => { renderDeal(null); notice(d.ended_reason === "sold_out" ? "The deal sold out." : "The deal has ended."); },
    "stock.changed": (d) => {
      const items = state.snapshot.carousel.map((i) => (i.product === d.product ? { ...i, stock: d.stock } : i));
      renderCarousel(items);
      if (state.deal && d.deal && state.deal.id === d.deal.id) renderDeal(d.deal);
      // The host console lists the carousel itself; an open buy sheet shows the deal's units.
      document.querySelectorAll(`[data-stock-of="${d.product}"]`).forEach((node) => { node.textContent = d.stock; });
      if (d.deal) document.querySelectorAll(`[data-deal-left="${d.deal.id}"]`).forEach((node) => { node.textContent = d.deal.remaining; });
    },
    "chat.message": (d) => addChat(d),
    "chat.deleted": (d) => { const node = $("chat").querySelector(`[data-id="${d.id}"]`); if (node) node.remove(); },
    "likes": (d) => { $("likes").textContent = d.total; },
    "viewers": (d) => { $("viewers").textContent = d.now; },
    "order.placed": (d) => {
      const title = d.product && d.product.title !== undefined ? d.product.title : d.product;
      tickerLine(`${d.buyer} just bought ${title}`);
      const orders = $("console-orders");
      if (orders) {
        const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        orders.prepend(el("li", { dataset: { testid: "console-order" } },
          el("strong", {}, d.buyer), ` bought ${d.quantity} × ${title} `, el("span", { class: "muted" }, time)));
        const empty = $("console-orders-empty");
        if (empty) empty.hidden = true;
        while (orders.children.length > 50) orders.lastElementChild.remove();
      }
    },
    "gift.sent": (d) => {
      tickerLine(`${d.sender.name} sent ${d.quantity > 1 ? d.quantity + " × " : ""}${d.gift.name}`);
      // The animation, the console's gift feed and earnings: static/gifting/gifts.js.
      if (window.tapbuyGifts) window.tapbuyGifts.show(d);
    },
  };

  // --- the socket ------------------------------------------------------------------------
  async function resync() {
    // A gap in seq: reload the whole state rather than guess what was missed.
    try {
      const response = await fetch(snapshotUrl, { headers: { Accept: "application/json" } });
      if (response.ok) applySnapshot(await response.json());
    } catch (error) { /* the next event or reconnect tries again */ }
  }

  function onMessage(event) {
    let message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    if (message.type === "snapshot") { applySnapshot(message.data); return; }
    if (message.type === "error") { notice(message.data.message); return; }
    if (typeof message.seq === "number") {
      if (message.seq <= state.seq) return;  // already in the snapshot
      if (message.seq !== state.seq + 1) { state.seq = message.seq; resync(); return; }
      state.seq = message.seq;
    }
    const handler = handlers[message.type];
    if (handler) handler(message.data);
  }

  function connect() {
    if (root.dataset.status === "ended") return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/live/${streamId}/`);
    socket.addEventListener("open", () => { retry = 0; root.dataset.connected = "1"; });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", (event) => {
      root.dataset.connected = "0";
      if (event.code === 4404) { root.dataset.status = "ended"; return; }
      // Back off, with jitter, so that a restarted server is not hit by everyone at once.
      const delay = Math.min(30000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  // --- video -----------------------------------------------------------------------------
  // The player is shared with the embed page: static/streams/player.js.
  function play() {
    if (window.tapbuyPlayer) window.tapbuyPlayer.play($("video"));
  }

  // --- viewer actions --------------------------------------------------------------------
  const form = $("chat-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("chat-text");
      const text = input.value.trim();
      if (!text) return;
      send({ type: "chat.send", data: { text } });
      input.value = "";
    });
  }
  const like = $("like");
  if (like) like.addEventListener("click", () => {
    send({ type: "like" });
    like.classList.remove("pop");
    void like.offsetWidth;
    like.classList.add("pop");
  });
  // The console's embed code: Copy puts it on the clipboard (or selects it, to copy by hand,
  // where the page is not a secure context and there is no clipboard).
  const embedCopy = $("embed-copy");
  if (embedCopy) embedCopy.addEventListener("click", async () => {
    const code = $("embed-code");
    try {
      await navigator.clipboard.writeText(code.value);
      embedCopy.textContent = "Copied";
    } catch (error) { code.select(); }
  });
  document.querySelectorAll("[data-seek]").forEach((button) => button.addEventListener("click", () => {
    const video = $("video");
    video.currentTime = Number(button.dataset.seek);
    video.play().catch(() => {});
  }));

  applySnapshot(state.snapshot);
  play();
  connect();
})();
