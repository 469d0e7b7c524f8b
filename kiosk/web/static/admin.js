// The admin console: the dashboard's live decisions (Server-Sent Events) and confirmation of erasures.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (live && live.dataset.feed) {
    const source = new EventSource(live.dataset.feed);
    source.addEventListener("decision", function (event) {
      const view = JSON.parse(event.data);
      const item = document.createElement("li");
      item.dataset.tone = view.tone;
      item.textContent = view.time + "  " + view.text;
      live.insertBefore(item, live.firstChild);
      while (live.children.length > 20) {
        live.removeChild(live.lastChild);
      }
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
