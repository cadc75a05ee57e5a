// The buy sheet: a dialog over the live (or a product page) that htmx fills with
// /buy/<product>/. This file opens and closes it, keeps the shown price and total in step
// with the chosen option and quantity, and lets htmx show the sheet's own error answers
// (sold out, declined, price changed) instead of dropping them.
(function () {
  "use strict";

  const exponents = { JPY: 0, KRW: 0 };
  function money(minor, currency) {
    const digits = exponents[currency] ?? 2;
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits })
      .format(minor / Math.pow(10, digits));
  }

  function dialog() { return document.getElementById("buy-sheet"); }

  // The sheet's answers to a refused order are 4xx/5xx with the sheet in them: show them.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    const elt = event.detail.elt || (event.detail.requestConfig && event.detail.requestConfig.elt);
    if (status >= 400 && status !== 500 && elt && elt.closest && elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    document.querySelectorAll(".sheet").forEach(update);
    const box = dialog();
    if (box && event.detail.target && event.detail.target.id === "sheet-body" && !box.open) {
      box.showModal();
      const first = box.querySelector("[data-testid=confirm], .button, input");
      if (first) first.focus({ preventScroll: true });
    }
  });

  document.addEventListener("click", (event) => {
    const box = dialog();
    if (!box) return;
    if (event.target.closest("[data-sheet-close]")) { box.close(); return; }
    // A tap on the backdrop (the dialog itself, outside the sheet) closes it too.
    if (event.target === box) box.close();
  });

  document.addEventListener("close", (event) => {
    if (event.target === dialog()) document.getElementById("sheet-body").replaceChildren();
  }, true);

  // --- price and total ---------------------------------------------------------------------
  function update(sheet) {
    const form = sheet.querySelector(".sheet-form");
    if (!form) return;
    const chosen = form.querySelector("input[name=variant]:checked") || form.querySelector("input[type=hidden][name=variant]");
    if (!chosen) return;
    const currency = sheet.dataset.currency || "USD";
    const price = Number(chosen.dataset.price);
    const listPrice = Number(chosen.dataset.listPrice);
    const quantityInput = form.querySelector("input[name=quantity]");
    const quantity = Math.max(1, Math.min(99, parseInt(quantityInput && quantityInput.value, 10) || 1));
    const priceOut = sheet.querySelector("[data-price-out]");
    if (priceOut) priceOut.textContent = money(price, currency);
    const was = sheet.querySelector("[data-was]");
    if (was) { was.textContent = money(listPrice, currency); was.hidden = !(listPrice > price); }
    const total = sheet.querySelector("[data-total]");
    if (total) total.textContent = money(price * quantity, currency);
  }

  function onInput(event) {
    const sheet = event.target.closest && event.target.closest(".sheet");
    if (sheet) update(sheet);
  }
  document.addEventListener("change", onInput);
  document.addEventListener("input", onInput);

  document.querySelectorAll(".sheet").forEach(update);
})();
