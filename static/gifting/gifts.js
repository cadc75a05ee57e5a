// Gifts in a live: the gift panel's dialog (htmx fills it with /live/<id>/gifts/), and the
// gift.sent animation that streams/live.js hands to window.tapbuyGifts.show, and the live's
// top gifters re-rendered from the leaderboard in each gift.sent. Small gifts
// float up in a corner, large ones bigger, fullscreen ones fill the screen for ~2 s. A
// combo (the same sender and gift again within seconds) grows one "×N" badge instead of
// stacking animations. With prefers-reduced-motion nothing flies: the ticker line says it.
// Server text goes on the page with textContent only.
(function () {
  "use strict";

  const LIFETIME = { small: 4000, large: 4000, fullscreen: 2000 };
  const reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  const combos = new Map();  // "handle:gift id" -> { node, total, timer }
  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the panel's dialog --------------------------------------------------------------------
  function dialog() { return $("gift-sheet"); }

  // A refused Send (402 not enough coins, 409 live ended, 400) answers with the panel: show it.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if (status >= 400 && status !== 500 && target && target.id === "gift-body") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const box = dialog();
    if (box && event.detail.target && event.detail.target.id === "gift-body" && !box.open) {
      box.showModal();
      const first = box.querySelector("input[name=gift]:checked, [data-testid=gift-send], a, button");
      if (first) first.focus({ preventScroll: true });
    }
  });

  document.addEventListener("click", (event) => {
    const box = dialog();
    if (!box) return;
    if (event.target.closest("[data-gift-close]")) { box.close(); return; }
    if (event.target === box) box.close();  // a tap on the backdrop
  });

  document.addEventListener("close", (event) => {
    if (event.target === dialog()) $("gift-body").replaceChildren();
  }, true);

  // --- the animation -------------------------------------------------------------------------
  function layer() {
    let node = $("gift-layer");
    if (!node) {
      node = el("div", "gift-layer gift-layer-fixed");
      node.id = "gift-layer";
      node.setAttribute("aria-hidden", "true");
      document.body.append(node);
    }
    return node;
  }

  function expire(key, entry, level) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.node.remove();
      if (combos.get(key) === entry) combos.delete(key);
    }, LIFETIME[level] || LIFETIME.small);
  }

  function animate(d) {
    const level = LIFETIME[d.gift.level] ? d.gift.level : "small";
    const key = `${d.sender.handle}:${d.gift.id}`;
    const current = combos.get(key);
    if (d.combo > 1 && current && current.node.isConnected) {
      // The same sender and gift again: one growing badge, its life extended.
      current.total += d.quantity;
      current.count.textContent = `×${current.total}`;
      current.node.dataset.combo = d.combo;
      current.count.classList.remove("bump");
      void current.count.offsetWidth;
      current.count.classList.add("bump");
      expire(key, current, level);
      return;
    }
    if (current) { clearTimeout(current.timer); current.node.remove(); }
    const node = el("div", `gift-fly gift-${level}`);
    node.dataset.testid = "gift-animation";
    node.dataset.level = level;
    node.dataset.combo = d.combo || 1;
    if (d.gift.image) {
      const img = el("img", "gift-art");
      img.src = d.gift.image;
      img.alt = "";
      node.append(img);
    } else {
      node.append(el("span", "gift-art gift-art-emoji", "🎁"));
    }
    const caption = el("span", "gift-caption");
    caption.append(el("strong", "", d.sender.name), ` sent ${d.gift.name}`);
    const count = el("span", "gift-count", `×${d.quantity}`);
    node.append(caption, count);
    layer().append(node);
    const entry = { node, count, total: d.quantity, timer: null };
    combos.set(key, entry);
    expire(key, entry, level);
  }

  // --- the host console: the feed and the earnings ---------------------------------------------
  let refreshTimer = null;
  function consoleFeed(d) {
    const list = $("console-gifts");
    if (!list) return;
    const key = `${d.sender.handle}:${d.gift.id}`;
    const last = list.firstElementChild;
    const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    let line = last && d.combo > 1 && last.dataset.key === key ? last : null;
    if (line) {
      line.dataset.quantity = Number(line.dataset.quantity) + d.quantity;
      line.dataset.coins = Number(line.dataset.coins) + d.coins;
    } else {
      line = el("li");
      line.dataset.testid = "console-gift";
      line.dataset.key = key;
      line.dataset.quantity = d.quantity;
      line.dataset.coins = d.coins;
      list.prepend(line);
    }
    line.replaceChildren(el("strong", "", d.sender.name),
      ` sent ${line.dataset.quantity} × ${d.gift.name} (${Number(line.dataset.coins).toLocaleString()} coins) `,
      el("span", "muted", time));
    const empty = $("console-gifts-empty");
    if (empty) empty.hidden = true;
    while (list.children.length > 50) list.lastElementChild.remove();
    // The earnings come from the server (the sum of this live's gifts): one reload per burst.
    const summary = $("gift-summary");
    if (summary && window.htmx) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => window.htmx.trigger(summary, "gift-sent"), 300);
    }
  }

  // --- the live's top gifters ------------------------------------------------------------------
  // gift.sent carries the whole list, computed with the send: the block is rebuilt from it
  // (the same markup as templates/gifting/partials/leaderboard.html), no request needed.
  let leadersFromEvent = false;

  function renderLeaders(leaders) {
    const box = $("gift-leaderboard");
    if (!box || !Array.isArray(leaders)) return;
    leadersFromEvent = true;
    const list = el("ol", "gift-leaders");
    list.dataset.testid = "gift-leaders";
    leaders.forEach((leader, index) => {
      const coins = Number(leader.coins) || 0;
      const item = el("li", "gift-leader");
      item.dataset.handle = String(leader.handle);
      item.append(
        el("span", "gift-leader-rank", String(index + 1)), " ",
        el("strong", "gift-leader-name", String(leader.name)), " ",
        el("span", "gift-leader-handle muted", `@${leader.handle}`), " ",
        el("span", "gift-leader-coins", `${coins.toLocaleString()} coin${coins === 1 ? "" : "s"}`),
      );
      list.append(item);
    });
    const empty = el("p", "muted gift-leaders-empty", "No gifts yet.");
    empty.dataset.testid = "gift-leaders-empty";
    empty.hidden = leaders.length > 0;
    box.replaceChildren(list, empty);
  }

  // The block's first load answering after a gift.sent was rendered is older: keep the event's.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (leadersFromEvent && target && target.id === "gift-leaderboard") event.detail.shouldSwap = false;
  });

  window.tapbuyGifts = {
    show(d) {
      if (!d || !d.gift || !d.sender) return;
      renderLeaders(d.leaderboard);
      consoleFeed(d);
      if (reducedMotion && reducedMotion.matches) return;
      animate(d);
    },
  };
})();
