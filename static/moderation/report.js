// The report sheet over the live: a Report button loads the form into #report-body with
// htmx, this opens the dialog; the form's answer (thanks, or the form with its errors)
// replaces it in place. Nothing navigates: the video keeps playing behind it.
(function () {
  "use strict";
  const dialog = () => document.getElementById("report-sheet");

  document.addEventListener("htmx:afterSwap", (event) => {
    const box = dialog();
    if (box && event.detail.target && event.detail.target.id === "report-body" && !box.open) {
      box.showModal();
      const first = box.querySelector("input[type=radio]");
      if (first) first.focus({ preventScroll: true });
    }
  });

  document.addEventListener("click", (event) => {
    const box = dialog();
    if (!box || !box.open) return;
    if (event.target.closest("[data-report-close]") || event.target === box) box.close();
  });

  document.addEventListener("close", (event) => {
    if (event.target === dialog()) document.getElementById("report-body").replaceChildren();
  }, true);
})();
