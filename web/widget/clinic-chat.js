/*
 * Clinic chat widget: a launcher button and a chat panel that talk to Rasa's REST channel.
 *
 * Embed with one tag (the stylesheet is loaded from next to this file):
 *   <script src="https://bot.example.org/widget/clinic-chat.js" defer
 *           data-server="https://bot.example.org" data-clinic-name="North County Pain Relief"
 *           data-phone="(314) 731-4201" data-accent="#0b5cad" data-accent-text="#ffffff"></script>
 *
 * Security: every text from the visitor or the bot goes into the page as text nodes, never as
 * HTML; links are limited to http(s) and tel:. No cookies, no third-party requests.
 * Of a reply's `custom` part only {"kind": "emergency"} (a red card with big call buttons, read
 * out at once), {"kind": "safety"} (an amber note) and {"kind": "answer", "answer": <intent>}
 * (a curated answer: "Helpful" / "Not helpful" buttons under it, once) are used; anything else
 * is ignored.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-server]");
  if (!script || document.getElementById("clinic-chat")) return; // embedded twice

  var TIMEOUT_MS = 15000; // the server answers within 10 s (its reply_timeout), or says sorry
  var MAX_CHARS = 2000; // the REST channel's limit
  var MAX_KEPT = 100; // messages kept for a reload; older ones are dropped
  var SENDER = /^[A-Za-z0-9_-]{16,64}$/; // what the REST channel accepts
  var KEY = "clinicChat."; // sessionStorage: this tab only, gone when it closes
  var DEFAULT_ACCENT = "#0b5cad";
  var DEFAULT_ACCENT_TEXT = "#ffffff";

  var config = {
    webhook: (script.getAttribute("data-server") || "").replace(/\/+$/, "") + "/webhooks/rest/webhook",
    clinic: script.getAttribute("data-clinic-name") || "the clinic",
    phone: script.getAttribute("data-phone") || "",
    accent: script.getAttribute("data-accent") || DEFAULT_ACCENT,
    accentText: script.getAttribute("data-accent-text") || DEFAULT_ACCENT_TEXT,
  };

  // ---- storage (sessionStorage may be unavailable: private modes, blocked storage) ----

  var memory = {};
  function load(name) {
    try {
      var raw = window.sessionStorage.getItem(KEY + name);
      return raw === null ? null : JSON.parse(raw);
    } catch (e) {
      return name in memory ? memory[name] : null;
    }
  }
  function save(name, value) {
    memory[name] = value;
    try {
      window.sessionStorage.setItem(KEY + name, JSON.stringify(value));
    } catch (e) { /* kept in memory for this page only */ }
  }

  function randomId() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // Only well-formed entries come back from storage.
  function cleanTranscript(value) {
    if (!Array.isArray(value)) return [];
    return value.filter(function (m) {
      return m && (m.from === "user" || m.from === "bot") && typeof m.text === "string";
    }).map(function (m) {
      return { from: m.from, text: m.text, buttons: cleanButtons(m.buttons), kind: kindOf(m),
               answer: answerOf(m.answer), rated: m.rated === true };
    });
  }
  // The intent of a curated answer the visitor may rate, or "".
  function answerOf(answer) {
    return typeof answer === "string" && /^[a-z_]{1,60}$/.test(answer) ? answer : "";
  }
  function ratedAnswer(custom) {
    return custom && typeof custom === "object" && custom.kind === "answer" ? answerOf(custom.answer) : "";
  }
  function kindOf(custom) {
    var kind = custom && typeof custom === "object" ? custom.kind : "";
    return kind === "emergency" || kind === "safety" ? kind : "";
  }
  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons.filter(function (b) {
      return b && typeof b.title === "string" &&
        (typeof b.payload === "string" || typeof b.url === "string");
    }).map(function (b) {
      return typeof b.url === "string" ? { title: b.title, url: b.url } : { title: b.title, payload: b.payload };
    });
  }

  // ---- colours: the embedder's choice, unless it fails WCAG AA contrast ----

  function hexColour(value) {
    return /^#[0-9a-f]{6}$/i.test(value) ? value : null;
  }
  function luminance(hex) {
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function colours() {
    var accent = hexColour(config.accent), text = hexColour(config.accentText);
    // The accent is also used as text and borders on white, so it needs contrast there too.
    if (accent && text && contrast(accent, text) >= 4.5 && contrast(accent, "#ffffff") >= 4.5) {
      return { accent: accent, text: text };
    }
    if (window.console) console.warn("clinic-chat: colours fail WCAG AA contrast; using defaults");
    return { accent: DEFAULT_ACCENT, text: DEFAULT_ACCENT_TEXT };
  }

  // ---- DOM helpers: text always goes in as text nodes ----

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url);
      return /^(https?:|tel:)$/.test(parsed.protocol) ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(title, url, className) {
    var attrs = { href: url, class: className || null };
    if (!/^tel:/.test(url)) {
      attrs.target = "_blank";
      attrs.rel = "noopener noreferrer";
    }
    return el("a", attrs, [title]);
  }

  // Markdown links [title](url), **bold**, bare http(s) addresses, US phone numbers like
  // (314) 731-4201 (a tap opens the dialler); everything else is text.
  var INLINE = /\[([^\]\n]+)\]\(([^)\s]+)\)|\*\*([^*\n]+)\*\*|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?])|(\(\d{3}\) \d{3}-\d{4})/g;
  function inline(parent, text) {
    var last = 0, match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var url = safeUrl(match[2] || match[4] || "");
      if (match[3]) parent.appendChild(el("strong", { text: match[3] }));
      else if (match[5]) parent.appendChild(link(match[5], telUrl(match[5]), "cc-phone"));
      else if (url) parent.appendChild(link(match[1] || match[4], url));
      else parent.appendChild(document.createTextNode(match[0]));
      last = INLINE.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatted(text) {
    var fragment = document.createDocumentFragment();
    text.split(/\n\s*\n/).forEach(function (paragraph) {
      var p = el("p");
      paragraph.split("\n").forEach(function (line, i) {
        if (i > 0) p.appendChild(el("br"));
        inline(p, line);
      });
      fragment.appendChild(p);
    });
    return fragment;
  }

  // What a screen reader hears: link titles without their addresses.
  function plain(text) {
    return text.replace(INLINE, function (all, title, url, bold, bare, phone) {
      return title || bold || bare || phone || all;
    });
  }

  // ---- the widget ----

  var state = {
    sender: load("sender"),
    transcript: cleanTranscript(load("transcript")),
    busy: false,
    alert: -1, // the emergency reply just received, read out at once (role="alert")
    generation: 0, // bumped by "start over": a late answer to the old conversation is dropped
  };
  if (typeof state.sender !== "string" || !SENDER.test(state.sender)) {
    state.sender = randomId();
    save("sender", state.sender);
  }

  var ui = build();

  function build() {
    var id = "clinic-chat";
    var launcher = el("button", {
      type: "button", class: "cc-launcher", "aria-expanded": "false", "aria-controls": id + "-panel",
    }, [el("span", { class: "cc-launcher-icon", "aria-hidden": "true" }), "Chat with us"]);

    var close = el("button", { type: "button", class: "cc-icon-button", "aria-label": "Close chat" }, ["\u00d7"]);
    var restart = el("button", { type: "button", class: "cc-text-button" }, ["Start over"]);
    var note = el("p", { class: "cc-note", id: id + "-note" }, ["Automated assistant, not medical advice."]);
    if (config.phone) {
      note.appendChild(document.createTextNode(" "));
      note.appendChild(link("Call " + config.phone, telUrl(config.phone)));
    }
    var header = el("div", { class: "cc-header" }, [
      el("div", { class: "cc-heading" }, [el("h2", { id: id + "-title", text: config.clinic }), note]),
      el("div", { class: "cc-header-buttons" }, [restart, close]),
    ]);

    // A plain list, not a live region: new messages are announced once, through `status`,
    // so a reload does not read the whole conversation out again.
    var log = el("ol", { class: "cc-log", "aria-label": "Conversation", tabindex: "0" });
    var typing = el("div", { class: "cc-typing", hidden: "" }, [
      el("span", { class: "cc-sr", text: "The assistant is typing" }),
      el("span", { class: "cc-dot", "aria-hidden": "true" }),
      el("span", { class: "cc-dot", "aria-hidden": "true" }),
      el("span", { class: "cc-dot", "aria-hidden": "true" }),
    ]);
    var notice = el("div", { class: "cc-notice", hidden: "" });
    var input = el("input", {
      id: id + "-input", type: "text", class: "cc-input", maxlength: String(MAX_CHARS),
      autocomplete: "off", enterkeyhint: "send", placeholder: "Type your question",
    });
    var send = el("button", { type: "submit", class: "cc-send" }, ["Send"]);
    var form = el("form", { class: "cc-form" }, [
      el("label", { for: id + "-input", class: "cc-sr", text: "Your message" }), input, send,
    ]);
    var status = el("div", { class: "cc-sr", role: "status", "aria-live": "polite" });

    var panel = el("section", {
      id: id + "-panel", class: "cc-panel", role: "dialog", hidden: "",
      "aria-labelledby": id + "-title", "aria-describedby": id + "-note",
    }, [header, log, typing, notice, form]);
    // The live region stays outside the panel: one that is hidden when created may stay mute.
    var root = el("div", { class: "cc-root", id: id, hidden: "" }, [panel, launcher, status]);

    var c = colours();
    root.style.setProperty("--cc-accent", c.accent);
    root.style.setProperty("--cc-accent-text", c.text);

    launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
    close.addEventListener("click", function () { setOpen(false, true); });
    restart.addEventListener("click", startOver);
    root.addEventListener("keydown", onKeydown);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text || state.busy) return;
      input.value = "";
      save("draft", "");
      sendMessage(text, text);
    });
    input.addEventListener("input", function () { save("draft", input.value); });
    input.value = load("draft") || "";

    return {
      root: root, launcher: launcher, panel: panel, log: log, typing: typing,
      notice: notice, input: input, status: status,
    };
  }

  function telUrl(phone) {
    var digits = phone.replace(/\D/g, "");
    return "tel:" + (digits.length === 10 ? "+1" + digits : "+" + digits);
  }

  function setOpen(open, moveFocus) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    ui.root.classList.toggle("cc-open", open);
    save("open", open);
    if (open) {
      render();
      if (moveFocus) ui.input.focus();
      if (!state.transcript.length && !state.busy) sendMessage("/greet", null);
    } else if (moveFocus) {
      ui.launcher.focus();
    }
  }

  function onKeydown(event) {
    if (event.key === "Escape" && !ui.panel.hidden) {
      event.preventDefault();
      setOpen(false, true);
    } else if (event.key === "Tab" && !ui.panel.hidden && coversScreen()) {
      // Full screen on a phone: keep Tab inside the panel, the page behind is hidden.
      var focusable = ui.panel.querySelectorAll("a[href], button:not([disabled]), input, [tabindex='0']");
      var first = focusable[0], last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  }

  function coversScreen() {
    return ui.panel.offsetWidth >= window.innerWidth - 1;
  }

  function announce(text) {
    ui.status.textContent = "";
    // A short pause makes screen readers notice the change even when the text repeats.
    window.setTimeout(function () { ui.status.textContent = text; }, 100);
  }

  // ---- rendering ----

  function render() {
    var log = ui.log;
    while (log.firstChild) log.removeChild(log.firstChild);
    var lastUser = -1;
    state.transcript.forEach(function (m, i) { if (m.from === "user") lastUser = i; });
    state.transcript.forEach(function (message, i) {
      log.appendChild(renderMessage(message, i > lastUser, i === state.alert));
    });
  }

  // A warning sign drawn here (no image request); screen readers hear the label next to it.
  function warningIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"),
      path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "cc-icon");
    path.setAttribute("d", "M12 1.5 23.5 22H.5zM10.6 8.5l.4 7h2l.4-7zm.4 9v2.4h2v-2.4z");
    path.setAttribute("fill-rule", "evenodd");
    svg.appendChild(path);
    return svg;
  }

  function renderMessage(message, current, alert) {
    var mine = message.from === "user";
    var kind = mine ? "" : message.kind;
    var item = el("li", { class: "cc-message " + (mine ? "cc-user" : "cc-bot") + (kind ? " cc-" + kind : "") }, [
      el("span", { class: "cc-sr", text: mine ? "You said: " : "Assistant: " }),
    ]);
    var bubble = el("div", { class: "cc-bubble", role: alert ? "alert" : null });
    if (kind) {
      bubble.appendChild(warningIcon());
      bubble.appendChild(el("span", { class: "cc-sr", text: kind === "emergency" ? "Emergency: " : "Safety note: " }));
    }
    if (mine) bubble.appendChild(el("p", { text: message.text }));
    else bubble.appendChild(formatted(message.text));
    item.appendChild(bubble);

    var links = [], replies = [];
    message.buttons.forEach(function (b) {
      var url = b.url ? safeUrl(b.url) : null;
      if (url) links.push(link(b.title, url, "cc-action"));
      // Quick replies only for the latest answer: older ones no longer fit the conversation.
      else if (b.payload && current) replies.push(quickReply(b));
    });
    // The emergency's call buttons go inside its card, big, one under the other.
    if (links.length && kind === "emergency") bubble.appendChild(el("div", { class: "cc-calls" }, links));
    else if (links.length) item.appendChild(el("div", { class: "cc-actions" }, links));
    if (replies.length) {
      item.appendChild(el("div", { class: "cc-replies", role: "group", "aria-label": "Suggested replies" }, replies));
    }
    if (message.answer && !message.rated && current) item.appendChild(verdictButtons(message));
    return item;
  }

  // "Was this helpful?" under a curated answer, once: the choice goes to the server as a payload
  // with fixed values (the REST channel refuses any other), and the buttons go away.
  function verdictButtons(message) {
    function choice(verdict, title) {
      var node = el("button", { type: "button", class: "cc-reply cc-verdict-choice" }, [title]);
      node.addEventListener("click", function () {
        if (state.busy) return;
        message.rated = true;
        save("transcript", state.transcript);
        sendMessage("/rate_answer" + JSON.stringify({ answer: message.answer, verdict: verdict }), title);
        ui.input.focus();
      });
      return node;
    }
    return el("div", { class: "cc-verdict", role: "group", "aria-label": "Was this answer helpful?" }, [
      el("span", { class: "cc-verdict-label", "aria-hidden": "true", text: "Was this helpful?" }),
      choice("helpful", "Helpful"),
      choice("not_helpful", "Not helpful"),
    ]);
  }

  function quickReply(button) {
    var node = el("button", { type: "button", class: "cc-reply" }, [button.title]);
    node.addEventListener("click", function () {
      if (state.busy) return;
      sendMessage(button.payload, button.title);
      ui.input.focus(); // the button disappears with the re-render
    });
    return node;
  }

  function scrollTo(index) {
    var item = ui.log.children[index];
    if (!item) return;
    // Show the start of the first new message; a long answer is read from its top.
    ui.log.scrollTop = Math.max(0, item.offsetTop - ui.log.offsetTop - 8);
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.typing.hidden = !busy;
    ui.log.setAttribute("aria-busy", String(busy));
    if (busy) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function showNotice(kind, failed) {
    var notice = ui.notice;
    while (notice.firstChild) notice.removeChild(notice.firstChild);
    var why = kind === "timeout" ? "The assistant is taking too long to answer." :
      "Sorry, the chat can't reach " + config.clinic + " right now.";
    var call = config.phone ? " Please call " + config.phone + ", or try again." : " Please try again.";
    var retry = el("button", { type: "button", class: "cc-reply" }, ["Try again"]);
    retry.addEventListener("click", function () {
      if (state.busy) return;
      if (failed.shown !== null && ui.input.value.trim() === failed.text) {
        ui.input.value = "";
        save("draft", "");
      }
      sendMessage(failed.text, failed.shown, failed.id);
    });
    notice.appendChild(el("p", { text: why + call }));
    var actions = el("div", { class: "cc-actions" });
    if (config.phone) actions.appendChild(link("Call " + config.phone, telUrl(config.phone), "cc-action"));
    actions.appendChild(retry);
    notice.appendChild(actions);
    notice.hidden = false;
    announce(why + call);
  }

  function hideNotice() {
    ui.notice.hidden = true;
  }

  // ---- talking to the server ----

  // `id` is the message's own random id; `retry` says it may have reached the server before
  // (no answer came back), so the server sends its stored answer instead of a second one.
  function post(text, id, retry) {
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(config.webhook, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: text, message_id: id, retry: retry }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      signal: controller.signal,
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).catch(function (error) {
      throw error.name === "AbortError" ? new Error("timeout") : error;
    }).finally(function () {
      window.clearTimeout(timer);
    });
  }

  // `shown` is what the transcript shows as the visitor's message (a quick reply's title for
  // its payload); null sends silently (the greeting when the panel first opens).
  function sendMessage(text, shown, id) {
    var generation = state.generation;
    var retry = Boolean(id);
    id = id || randomId();
    hideNotice();
    state.alert = -1;
    if (shown !== null) {
      state.transcript.push({ from: "user", text: shown, buttons: [], kind: "" });
      render();
    }
    setBusy(true);
    post(text, id, retry).then(function (replies) {
      if (generation !== state.generation) return;
      var said = [], added = 0, alert = -1;
      (Array.isArray(replies) ? replies : []).forEach(function (reply) {
        if (!reply || typeof reply !== "object") return;
        var message = {
          from: "bot", text: typeof reply.text === "string" ? reply.text : "",
          buttons: cleanButtons(reply.buttons), kind: kindOf(reply.custom),
          answer: ratedAnswer(reply.custom), rated: false,
        };
        if (!message.text && !message.buttons.length) return;
        state.transcript.push(message);
        added += 1;
        // The emergency card is its own alert; in a closed panel it could not be heard.
        if (message.kind === "emergency" && alert < 0 && !ui.panel.hidden) alert = added;
        else said.push((message.kind === "emergency" ? "Emergency: " : "") + plain(message.text));
      });
      state.transcript = state.transcript.slice(-MAX_KEPT);
      if (alert > 0) state.alert = state.transcript.length - added + alert - 1;
      save("transcript", state.transcript);
      setBusy(false);
      render();
      // From the visitor's own message, so question and answer are seen together.
      scrollTo(state.transcript.length - added - (shown !== null ? 1 : 0));
      if (said.length) announce(said.join(" "));
    }, function (error) {
      if (generation !== state.generation) return;
      setBusy(false);
      if (shown !== null) {
        // The message did not get through: take it out of the transcript, and give a typed
        // message back to the input box so the visitor does not have to type it again.
        state.transcript.pop();
        render();
        if (shown === text && !ui.input.value.trim()) {
          ui.input.value = text;
          save("draft", text);
        }
      }
      showNotice(error.message === "timeout" ? "timeout" : "offline",
        { text: text, shown: shown, id: id });
    });
  }

  function startOver() {
    state.generation += 1;
    state.sender = randomId();
    state.transcript = [];
    state.alert = -1;
    save("sender", state.sender);
    save("transcript", []);
    setBusy(false);
    hideNotice();
    render();
    announce("Started a new conversation.");
    ui.input.focus();
    sendMessage("/greet", null);
  }

  // ---- start: show the launcher once its stylesheet is in, so it never flashes unstyled ----

  function ready() {
    ui.root.hidden = false;
    ui.root.setAttribute("data-ready", "true");
    if (load("open")) setOpen(true, false);
    if (window.performance && performance.mark) performance.mark("clinic-chat:ready");
    document.dispatchEvent(new CustomEvent("clinic-chat:ready"));
  }

  function start() {
    var css = el("link", { rel: "stylesheet", href: new URL("clinic-chat.css", script.src).href });
    css.addEventListener("load", ready);
    css.addEventListener("error", ready);
    document.head.appendChild(css);
    document.body.appendChild(ui.root);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
