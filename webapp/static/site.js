// Every page: first-use terms (accepted once per browser) and confirmation of destructive forms.
(function () {
  "use strict";
  const TERMS = "cd_terms=v1";
  function init() {
    const dialog = document.getElementById("terms");
    if (dialog && !document.cookie.split("; ").includes(TERMS)) {
      dialog.showModal();
      dialog.querySelector("[data-action=accept-terms]").addEventListener("click", () => {
        document.cookie = `${TERMS}; path=/; max-age=31536000; SameSite=Lax`;
        dialog.close();
      });
      dialog.addEventListener("cancel", (e) => e.preventDefault()); // Escape does not skip the terms
    }
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
