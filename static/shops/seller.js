// The merchant center's small enhancements. The pages work without them; they add the
// "Add variant" button, option labels that follow the option names, confirmations, and
// in-place error rows for the htmx stock forms.
(function () {
  "use strict";

  // htmx does not swap 4xx answers by default. The stock forms answer a refused number
  // with their row and its error (status 400), which is exactly what should be shown;
  // targets marked data-swap-errors take such answers.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("click", function (event) {
    var confirmable = event.target.closest("[data-confirm]");
    if (confirmable && !window.confirm(confirmable.dataset.confirm)) {
      event.preventDefault();
    }
  });

  function optionName(form, slot) {
    var input = form.querySelector('[name="option' + slot + '_name"]');
    return input ? input.value.trim() : "";
  }

  // Label each option input with the name typed above (Size, Colour…) and hide the
  // inputs of unnamed options, unless they hold a value the merchant should see.
  function syncOptions(form) {
    [1, 2, 3].forEach(function (slot) {
      var name = optionName(form, slot);
      form.querySelectorAll('[data-option-label="' + slot + '"]').forEach(function (label) {
        label.textContent = name || "Option " + slot;
      });
      form.querySelectorAll('[data-option-slot="' + slot + '"]').forEach(function (box) {
        var input = box.querySelector("input");
        box.hidden = !name && !(input && input.value);
      });
    });
  }

  function addVariant(form) {
    var total = form.querySelector('[name="variants-TOTAL_FORMS"]');
    var max = form.querySelector('[name="variants-MAX_NUM_FORMS"]');
    var template = document.getElementById("variant-template");
    var rows = form.querySelector("[data-variant-rows]");
    var index = Number(total.value);
    if (max && index >= Number(max.value)) {
      return;
    }
    var html = template.innerHTML
      .replace(/__prefix__/g, String(index))
      .replace(/__number__/g, String(index + 1));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    syncOptions(form);
    // Focus the new row's first visible input, so keyboard users land where they type.
    var added = rows.lastElementChild;
    var visible = Array.prototype.find.call(
      added.querySelectorAll("input:not([type=hidden])"),
      function (input) { return !input.closest("[hidden]"); }
    );
    if (visible) {
      visible.focus();
    }
  }

  function setUp(form) {
    var button = form.querySelector("[data-add-variant]");
    if (button && document.getElementById("variant-template")) {
      button.hidden = false;
      button.addEventListener("click", function () { addVariant(form); });
    }
    form.addEventListener("input", function (event) {
      if (/^option\d_name$/.test(event.target.name || "")) {
        syncOptions(form);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('[data-testid="product-form"]').forEach(setUp);
  });
})();
