// The kiosk screen: shows each state the daemon pushes (Server-Sent Events), and the camera preview.
"use strict";

(function () {
  const body = document.body;
  const message = document.getElementById("message");
  const temperature = document.getElementById("temperature");
  const reminder = document.getElementById("reminder");
  const offline = document.getElementById("offline");
  const preview = document.getElementById("preview");

  function setLine(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  function show(view) {
    body.dataset.tone = view.tone;
    body.dataset.state = view.state;
    message.textContent = view.message;
    setLine(temperature, view.temperature);
    setLine(reminder, view.reminder);
  }

  // The MJPEG stream ends when the daemon stops; it is asked for again once the updates are back.
  function startPreview() {
    if (preview && body.dataset.preview) {
      preview.src = body.dataset.preview + "?t=" + Date.now();
    }
  }

  let lost = false;
  const source = new EventSource("/events/screen");
  source.addEventListener("screen", function (event) {
    show(JSON.parse(event.data));
  });
  source.addEventListener("open", function () {
    offline.hidden = true;
    if (lost) {
      lost = false;
      startPreview();
    }
  });
  source.addEventListener("error", function () {   // EventSource reconnects by itself
    offline.hidden = false;
    lost = true;
  });
  // After the page has loaded: a never-ending image must not hold up the load event.
  window.addEventListener("load", startPreview);
})();
