// The console's only script (served as /console.js, allowed by the Content-Security-Policy as
// 'self'): keeps the navigation's badges of unseen callback requests and emergencies up to date
// by polling /notifications.json, and, once staff have allowed it with the button (never asked
// for on its own), shows a browser notification for each new one. The texts come from the
// server and carry no patient data. A 401 means the session has ended (idle, or logged out
// elsewhere): the page goes to the login form, so nothing stays on screen.
(function () {
  "use strict";
  var body = document.body;
  var pollMs = Math.max(1000, parseInt(body.getAttribute("data-poll-ms"), 10) || 5000);
  var known = parseInt(body.getAttribute("data-latest-notice"), 10) || 0;
  var button = document.getElementById("notify-permission");
  var status = document.getElementById("notice-status");

  function supported() {
    return "Notification" in window;
  }

  function updateButton() {
    if (button) {
      button.hidden = !(supported() && Notification.permission === "default");
    }
  }

  if (button) {
    button.addEventListener("click", function () {
      if (!supported()) {
        return;
      }
      var asked = Notification.requestPermission(updateButton);
      if (asked && asked.then) {
        asked.then(updateButton);
      }
    });
  }

  function setCount(kind, count) {
    var element = document.getElementById("notice-" + kind);
    if (!element) {
      return;
    }
    element.querySelector(".n").textContent = String(count);
    element.hidden = !count;
  }

  function announce(data) {
    var fresh = data.recent.filter(function (item) { return item.id > known; });
    if (!fresh.length) {
      return;
    }
    if (status) {
      status.textContent = fresh.map(function (item) { return item.title; }).join(". ");
    }
    if (supported() && Notification.permission === "granted") {
      fresh.reverse().forEach(function (item) {
        try {
          // one per event, even with several tabs open: the tag replaces duplicates
          new Notification(item.title, {body: item.body, tag: "clinic-console-" + item.id});
        } catch (ignored) {
          // some browsers allow notifications only from a service worker
        }
      });
    }
  }

  function poll() {
    fetch("/notifications.json", {credentials: "same-origin", cache: "no-store",
                                  headers: {"Accept": "application/json"}})
      .then(function (reply) {
        if (reply.status === 401) {
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
          return null;
        }
        return reply.ok ? reply.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        setCount("callback", data.unseen.callback);
        setCount("emergency", data.unseen.emergency);
        announce(data);
        known = Math.max(known, data.latest);
      })
      .catch(function () { /* the console is restarting: try again at the next poll */ })
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  updateButton();
  window.setTimeout(poll, pollMs);
}());
