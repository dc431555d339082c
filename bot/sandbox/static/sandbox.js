/*
 * citybot sandbox page: three chat panes (a Telegram resident, a Viber resident, the staff's
 * operator chat) over the sandbox's JSON API (bot/sandbox/api.py).
 *
 * Rules this file keeps:
 *  - Everything from the server is put into the DOM with createElement/textContent only (never
 *    innerHTML), so whatever a resident types is shown exactly as typed.
 *  - Every pane re-renders from the server's current state after each `change` event, so edits,
 *    deletions and other tabs acting on the same person all show up the same way.
 *  - No inline scripts, handlers or style attributes: the page is served with a strict CSP.
 */
"use strict";

(() => {
  // Kryvyi Rih city centre: where "share location" puts a resident.
  const HOME = { latitude: 47.9105, longitude: 33.3918 };
  const STAFF_COMMANDS = ["/news", "/drafts", "/poll", "/pollresults", "/pollclose", "/stats", "/export"];
  const ROLE_NAMES = { admin: "адміністратор", editor: "редактор", operator: "оператор" };
  const BROADCAST_STATUS = {
    draft: "чернетка", pending_approval: "на погодженні", scheduled: "заплановано", planning: "планується",
    sending: "надсилається", finished: "завершено", cancelled: "зупинено",
  };
  const SAFE_PROTOCOLS = new Set(["http:", "https:", "tg:"]);
  // Refreshes of one pane are at least this far apart, so a broadcast's burst of changes
  // does not turn into a request storm.
  const MIN_REFRESH_GAP_MS = 150;

  // ------------------------------------------------------------------ DOM helpers

  /** createElement with attributes; children are nodes or strings (strings become text). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(parent, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return parent;
  }

  const $ = (root, role) => root.querySelector(`[data-role="${role}"]`);

  /** The URL if it is http(s) or tg, else null: nothing else becomes a link. */
  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      const url = new URL(raw, location.href);
      return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(href, ...children) {
    const safe = safeUrl(href);
    if (!safe) return h("span", { class: "bad-link", title: "Посилання заблоковано (unsafe link)" }, ...children);
    return h("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, ...children);
  }

  /**
   * Media URLs the Viber stand-in hands out are absolute (http://127.0.0.1:PORT/sandbox/files/…);
   * the page may be open under another host name (localhost), where the CSP's 'self' would
   * block them, so same-sandbox files are loaded by path.
   */
  function mediaUrl(raw) {
    const safe = safeUrl(raw);
    if (!safe) return null;
    const url = new URL(safe);
    if (url.pathname.startsWith("/sandbox/files/") || url.pathname.startsWith("/api/telegram/file/")) {
      return url.pathname + url.search;
    }
    return safe;
  }

  function isSameOrigin(url) {
    return url.startsWith("/") || url.startsWith(location.origin + "/");
  }

  function clock(seconds) {
    if (!seconds) return "";
    return new Date(seconds * 1000).toLocaleTimeString("uk-UA", { hour: "2-digit", minute: "2-digit" });
  }

  function humanSize(bytes) {
    if (typeof bytes !== "number") return "";
    if (bytes < 1024) return `${bytes} Б`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} КБ`;
    return `${(bytes / 1024 / 1024).toFixed(1)} МБ`;
  }

  function initials(name) {
    const parts = String(name || "?").split(/\s+/).filter(Boolean);
    return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
  }

  // A stable colour per Telegram user, like Telegram's name colours in groups.
  const NAME_COLORS = ["#d9534f", "#e67e22", "#8e44ad", "#27ae60", "#2a9d8f", "#2980b9", "#c2185b"];
  function colorFor(id) {
    return NAME_COLORS[Math.abs(Number(id) || 0) % NAME_COLORS.length];
  }

  function userName(user) {
    if (!user) return "";
    return [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || String(user.id);
  }

  const nearBottom = (list) => list.scrollHeight - list.scrollTop - list.clientHeight < 48;

  /**
   * Keep a pane's list pinned to the bottom while the person is at the bottom: `pinned` follows
   * their scrolling, and anything that changes heights later (the keyboard appearing, images and
   * fonts loading) scrolls a pinned list down again.
   */
  function trackScroll(pane) {
    pane.pinned = true;
    pane.list.addEventListener("scroll", () => { pane.pinned = nearBottom(pane.list); }, { passive: true });
    new ResizeObserver(() => { if (pane.pinned) scrollToBottom(pane.list); }).observe(pane.list);
    if (document.fonts) document.fonts.ready.then(() => { if (pane.pinned) scrollToBottom(pane.list); });
  }

  /**
   * Re-render a pane keeping its scroll: at the bottom if the person was there (or the pane
   * asked for it after an own action), else where it was. Keyboards are rendered inside
   * `render` too, since they change the list's height.
   */
  function repaint(pane, render) {
    const list = pane.list;
    const atBottom = pane.stickToBottom || pane.pinned;
    const top = list.scrollTop;
    render();
    list.scrollTop = atBottom ? list.scrollHeight : top;
    pane.pinned = atBottom;
    pane.stickToBottom = false;
  }

  function scrollToBottom(list) {
    list.scrollTop = list.scrollHeight;
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {}

  async function request(method, path, body) {
    const init = { method, headers: {} };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(`Сервер пісочниці недоступний (${error.message})`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      // The API words its errors in the bot's language; anything else (a proxy, aiohttp's own
      // answers) gets a Ukrainian line with the status.
      const message = data && typeof data.error === "string" ? data.error
        : `Сервер пісочниці відповів помилкою (HTTP ${response.status})`;
      throw new ApiError(message);
    }
    return { data, text };
  }

  const api = {
    get: async (path) => (await request("GET", path)).data,
    getText: async (path) => request("GET", path),
    post: async (path, body) => (await request("POST", path, body)).data,
  };

  /**
   * Wrap an async refresh so at most one runs at a time; calls during a run ask for exactly
   * one more run afterwards (the newest state is what matters, not every intermediate one).
   */
  function coalesced(fn) {
    let running = null;
    let again = false;
    return function run() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            const started = Date.now();
            await fn();
            const rest = MIN_REFRESH_GAP_MS - (Date.now() - started);
            if (again && rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
          } while (again);
        } finally {
          running = null;
        }
      })();
      return running;
    };
  }

  // ------------------------------------------------------------------ Telegram text entities

  /**
   * Text with Bot API entities as a fragment of styled elements. Offsets are UTF-16 code units,
   * which is exactly how JS strings index, so slicing needs no conversion.
   */
  function formatted(text, entities, onCommand) {
    const fragment = document.createDocumentFragment();
    const sorted = (entities || [])
      .filter((e) => e && Number.isInteger(e.offset) && e.length > 0)
      .slice()
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    buildEntities(fragment, String(text || ""), sorted, 0, String(text || "").length, onCommand);
    return fragment;
  }

  function buildEntities(parent, text, entities, start, end, onCommand) {
    let pos = start;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      if (entity.offset >= end) break;
      const from = Math.max(entity.offset, pos);
      const to = Math.min(entity.offset + entity.length, end);
      // Entities starting inside this one are nested in it (clipped to it).
      let j = i + 1;
      while (j < entities.length && entities[j].offset < to) j++;
      if (to > from) {
        if (from > pos) parent.append(text.slice(pos, from));
        const el = entityElement(entity, text.slice(entity.offset, entity.offset + entity.length), onCommand);
        buildEntities(el, text, entities.slice(i + 1, j), from, to, onCommand);
        parent.append(el);
        pos = to;
      }
      i = j;
    }
    if (pos < end) parent.append(text.slice(pos, end));
  }

  function entityElement(entity, covered, onCommand) {
    switch (entity.type) {
      case "bold": return h("strong");
      case "italic": return h("em");
      case "underline": return h("u");
      case "strikethrough": return h("s");
      case "code": return h("code", { class: "tg-code" });
      case "pre": {
        const pre = h("pre", { class: "tg-pre" });
        if (entity.language) pre.dataset.language = entity.language;
        return pre;
      }
      case "blockquote":
      case "expandable_blockquote": return h("blockquote", { class: "tg-quote" });
      case "spoiler": {
        const el = h("span", { class: "tg-spoiler", title: "Спойлер: натисніть (spoiler)", tabindex: "0", role: "button" });
        const reveal = () => el.classList.add("revealed");
        el.addEventListener("click", reveal);
        el.addEventListener("keydown", (event) => { if (event.key === "Enter") reveal(); });
        return el;
      }
      case "text_link": return link(entity.url);
      case "url": return link(/^[a-z][a-z0-9+.-]*:/i.test(covered) ? covered : `http://${covered}`);
      case "bot_command": {
        if (!onCommand) return h("span", { class: "tg-command" });
        const command = covered.split("@")[0];
        return h("span", {
          class: "tg-command clickable", role: "button", tabindex: "0", title: `Надіслати ${command} (send)`,
          onclick: () => onCommand(command),
          onkeydown: (event) => { if (event.key === "Enter") onCommand(command); },
        });
      }
      case "mention":
      case "text_mention":
      case "hashtag":
      case "cashtag":
      case "email":
      case "phone_number": return h("span", { class: "tg-mention" });
      default: return h("span");
    }
  }

  // ------------------------------------------------------------------ Telegram messages

  /** Text of a service message (topic created, member joined…), or null for ordinary ones. */
  function serviceText(m) {
    if (m.forum_topic_created) return `Створено тему «${m.forum_topic_created.name}»`;
    if (m.forum_topic_edited) {
      return m.forum_topic_edited.name ? `Тему перейменовано на «${m.forum_topic_edited.name}»` : "Тему змінено";
    }
    if (m.forum_topic_closed) return "🔒 Тему закрито";
    if (m.forum_topic_reopened) return "🔓 Тему знову відкрито";
    if (m.new_chat_members) return `${m.new_chat_members.map(userName).join(", ")} приєднується до групи`;
    if (m.left_chat_member) return `${userName(m.left_chat_member)} виходить з групи`;
    if (m.pinned_message) return "📌 Повідомлення закріплено";
    if (m.new_chat_title) return `Назву групи змінено на «${m.new_chat_title}»`;
    if (m.group_chat_created || m.supergroup_chat_created) return "Групу створено";
    return null;
  }

  /** A one-line summary of a message, for reply quotes and the reply bar. */
  function summary(m) {
    if (!m) return "";
    if (m.text) return m.text;
    if (m.caption) return m.caption;
    if (m.photo) return "🖼 Фото";
    if (m.document) return `📄 ${m.document.file_name || "Файл"}`;
    if (m.location) return "📍 Геолокація";
    if (m.contact) return `👤 ${m.contact.phone_number || "Контакт"}`;
    if (m.poll) return `📊 ${m.poll.question}`;
    if (m.sticker) return `${m.sticker.emoji || ""} Стікер`;
    if (m.voice) return "🎤 Голосове";
    return serviceText(m) || "Повідомлення";
  }

  /** Photo, document, location… of a Telegram message, as elements. */
  function telegramMedia(m, onLoad) {
    const parts = [];
    if (Array.isArray(m.photo) && m.photo.length) {
      // PhotoSize array: the largest is what a client shows when opened.
      const best = m.photo.reduce((a, b) => ((b.width || 0) * (b.height || 0) > (a.width || 0) * (a.height || 0) ? b : a));
      const src = `/api/telegram/file/${encodeURIComponent(best.file_id)}`;
      const img = h("img", { class: "photo", src, alt: m.caption || "Фото", loading: "lazy" });
      // Known dimensions keep the layout still while the image loads (scroll stays put).
      if (best.width && best.height) {
        img.width = best.width;
        img.height = best.height;
      }
      img.addEventListener("load", onLoad, { once: true });
      parts.push(h("a", { href: src, target: "_blank", rel: "noopener noreferrer", class: "photo-link" }, img));
    }
    if (m.document) {
      const d = m.document;
      const href = `/api/telegram/file/${encodeURIComponent(d.file_id)}`;
      parts.push(h("a", { class: "file-card", href, download: d.file_name || "file", target: "_blank", rel: "noopener noreferrer", title: "Завантажити (download)" },
        h("span", { class: "file-icon", "aria-hidden": "true" }, "📄"),
        h("span", { class: "file-meta" },
          h("span", { class: "file-name" }, d.file_name || "файл"),
          h("span", { class: "file-size" }, [humanSize(d.file_size), d.mime_type].filter(Boolean).join(" · ")))));
    }
    if (m.location) parts.push(locationCard(m.location.latitude, m.location.longitude));
    if (m.venue) parts.push(h("div", { class: "card" }, `📍 ${m.venue.title || ""} ${m.venue.address || ""}`));
    if (m.contact) {
      const c = m.contact;
      parts.push(h("div", { class: "card contact-card" },
        h("span", { class: "avatar small" }, initials([c.first_name, c.last_name].join(" "))),
        h("span", { class: "file-meta" },
          h("span", { class: "file-name" }, [c.first_name, c.last_name].filter(Boolean).join(" ") || "Контакт"),
          h("span", { class: "file-size" }, c.phone_number || ""))));
    }
    if (m.poll) {
      parts.push(h("div", { class: "card poll" },
        h("strong", {}, `📊 ${m.poll.question}`),
        h("ul", {}, (m.poll.options || []).map((o) => h("li", {}, `${o.text}${o.voter_count ? ` — ${o.voter_count}` : ""}`)))));
    }
    for (const kind of ["sticker", "voice", "audio", "video", "video_note", "animation"]) {
      if (m[kind]) parts.push(h("div", { class: "card muted" }, `[${kind}] ${m[kind].emoji || m[kind].file_name || ""}`));
    }
    return parts;
  }

  function locationCard(lat, lon, address) {
    const label = `${Number(lat).toFixed(4)}, ${Number(lon).toFixed(4)}`;
    return h("div", { class: "card location-card" },
      h("span", { class: "map-pin", "aria-hidden": "true" }, "📍"),
      h("span", { class: "file-meta" },
        h("span", { class: "file-name" }, address || "Геолокація"),
        link(`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`, label)));
  }

  /** The reply quote above a message (skipping forums' implicit reply to the topic root). */
  function replyQuote(m) {
    const r = m.reply_to_message;
    if (!r || r.forum_topic_created || (m.message_thread_id && r.message_id === m.message_thread_id)) return null;
    const quote = h("div", { class: "reply-quote" },
      h("span", { class: "reply-name" }, r.from ? userName(r.from) : ""),
      h("span", { class: "reply-text" }, summary(r)));
    if (r.from) quote.style.borderLeftColor = colorFor(r.from.id);
    return quote;
  }

  /**
   * Inline keyboard rows under a message. Callback buttons call `press(data)`; URL buttons are
   * links that open in a new tab; anything else is shown but not pressable here.
   */
  function inlineKeyboard(markup, press) {
    const rows = markup && Array.isArray(markup.inline_keyboard) ? markup.inline_keyboard : [];
    if (!rows.length) return null;
    return h("div", { class: "inline-keyboard" }, rows.map((row) =>
      h("div", { class: "ik-row" }, row.map((button) => {
        if (button.url) {
          const a = link(button.url, button.text, h("span", { class: "ik-arrow", "aria-hidden": "true" }, "↗"));
          a.classList.add("ik-button");
          a.dataset.role = "inline-button";
          return a;
        }
        if (typeof button.callback_data === "string") {
          return h("button", { type: "button", class: "ik-button", "data-role": "inline-button", "data-callback": button.callback_data,
            onclick: (event) => press(button.callback_data, event.currentTarget) }, button.text);
        }
        return h("button", { type: "button", class: "ik-button", "data-role": "inline-button", disabled: true,
          title: "Такі кнопки пісочниця не підтримує (not supported here)" }, button.text);
      }))));
  }

  /**
   * One Telegram message bubble. `options`: own (right side), showName, press(data, button),
   * onReply(message), onCommand(text), onLoad().
   */
  function telegramBubble(m, options) {
    const service = serviceText(m);
    if (service && !m.text && !m.caption) {
      return h("div", { class: "service", "data-role": "service", "data-message-id": m.message_id }, h("span", {}, service));
    }
    const fromBot = Boolean(m.from && m.from.is_bot);
    const bubble = h("div", { class: "bubble" });
    if (options.showName && m.from) {
      const name = h("div", { class: "sender" }, userName(m.from));
      name.style.color = fromBot ? "#2b7bb9" : colorFor(m.from.id);
      if (fromBot) name.append(h("span", { class: "bot-tag" }, "бот"));
      bubble.append(name);
    }
    const quote = replyQuote(m);
    if (quote) bubble.append(quote);
    if (m.forward_origin || m.forward_from) {
      bubble.append(h("div", { class: "forwarded" }, "Переслано"));
    }
    append(bubble, telegramMedia(m, options.onLoad));
    if (m.text) bubble.append(h("div", { class: "text" }, formatted(m.text, m.entities, options.onCommand)));
    if (m.caption) bubble.append(h("div", { class: "text" }, formatted(m.caption, m.caption_entities, options.onCommand)));
    const meta = h("span", { class: "meta" });
    if (m.edit_date) meta.append(h("span", { class: "edited", title: "Edited" }, "змінено"));
    meta.append(clock(m.edit_date || m.date));
    bubble.append(meta);
    if (options.onReply) {
      bubble.append(h("button", { type: "button", class: "reply-btn", "data-role": "reply", title: "Відповісти (reply)", "aria-label": "Відповісти",
        onclick: () => options.onReply(m) }, "↩"));
    }
    const row = h("div", {
      class: `msg ${options.own ? "out" : "in"}`,
      "data-role": "message",
      "data-from": options.fromLabel || (fromBot ? "bot" : "user"),
      "data-message-id": m.message_id,
    }, bubble);
    const keyboard = inlineKeyboard(m.reply_markup, (data, button) => options.press(m, data, button));
    if (keyboard) row.append(keyboard);
    return row;
  }

  // ------------------------------------------------------------------ Viber messages

  const HTML_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

  /** Viber button Text may carry <b>, <font color…>, <br>: show it as plain text. */
  function stripMarkup(text) {
    return String(text || "")
      .replace(/<br\s*\/?>/gi, "\n")
      .replace(/<[^>]*>/g, "")
      .replace(/&(amp|lt|gt|quot|apos|nbsp);/g, (_, name) => HTML_ENTITIES[name])
      .replace(/&#(\d+);/g, (_, code) => String.fromCodePoint(Number(code)));
  }

  /**
   * Viber text: *bold*, _italic_, ~strike~ (Viber's own formatting) and autolinked URLs, built
   * as elements. Markers count only at word edges, so snake_case stays as it is.
   */
  function viberText(text) {
    const fragment = document.createDocumentFragment();
    const pattern = /(https?:\/\/[^\s<>"]+)|(^|[\s(])([*_~])(?=\S)([^\n]*?\S)\3(?=$|[\s.,!?:;)])/g;
    const source = String(text || "");
    let pos = 0;
    let match;
    while ((match = pattern.exec(source)) !== null) {
      if (match[1]) {
        fragment.append(source.slice(pos, match.index), link(match[1], match[1]));
      } else {
        const lead = match[2];
        const tag = { "*": "strong", _: "em", "~": "s" }[match[3]];
        fragment.append(source.slice(pos, match.index) + lead, h(tag, {}, match[4]));
      }
      pos = match.index + match[0].length;
    }
    fragment.append(source.slice(pos));
    return fragment;
  }

  function viberMedia(message, onLoad, onRich) {
    const parts = [];
    const media = mediaUrl(message.media);
    switch (message.type) {
      case "picture": {
        if (media && isSameOrigin(media)) {
          const img = h("img", { class: "photo", src: media, alt: message.text || message.file_name || "Фото", loading: "lazy" });
          img.addEventListener("load", onLoad, { once: true });
          parts.push(h("a", { href: media, target: "_blank", rel: "noopener noreferrer", class: "photo-link" }, img));
        } else {
          // Outside pictures are not loaded (offline page, strict CSP): a link instead.
          parts.push(h("div", { class: "card" }, "🖼 ", media ? link(media, message.file_name || "зображення") : "зображення"));
        }
        break;
      }
      case "file":
        parts.push(h(media ? "a" : "div", { class: "file-card", href: media, download: media ? message.file_name || "file" : null,
          target: media ? "_blank" : null, rel: media ? "noopener noreferrer" : null, title: "Завантажити (download)" },
          h("span", { class: "file-icon", "aria-hidden": "true" }, "📄"),
          h("span", { class: "file-meta" },
            h("span", { class: "file-name" }, message.file_name || "файл"),
            h("span", { class: "file-size" }, humanSize(message.size ?? message.file_size)))));
        break;
      case "video":
        parts.push(h("div", { class: "card" }, "🎬 ", media ? link(media, "відео") : "відео"));
        break;
      case "location": {
        const loc = message.location || {};
        parts.push(locationCard(loc.lat, loc.lon, loc.address));
        break;
      }
      case "contact": {
        const c = message.contact || {};
        parts.push(h("div", { class: "card contact-card" },
          h("span", { class: "avatar small" }, initials(c.name)),
          h("span", { class: "file-meta" },
            h("span", { class: "file-name" }, c.name || "Контакт"),
            h("span", { class: "file-size" }, c.phone_number || ""))));
        break;
      }
      case "url":
        parts.push(h("div", { class: "card" }, "🔗 ", link(message.media, message.media || "")));
        break;
      case "sticker":
        parts.push(h("div", { class: "card muted" }, `[стікер ${message.sticker_id || ""}]`));
        break;
      case "rich_media":
        parts.push(richMedia(message.rich_media, onRich));
        break;
      default:
        break;
    }
    return parts;
  }

  /** A Viber carousel: groups of buttons on a 6-column grid, scrolled sideways. */
  function richMedia(rich, onRich) {
    if (!rich || !Array.isArray(rich.Buttons)) return null;
    const columns = rich.ButtonsGroupColumns || 6;
    const rows = rich.ButtonsGroupRows || 7;
    const groups = [];
    let group = null;
    let used = 0;
    for (const button of rich.Buttons) {
      const size = (button.Columns || 6) * (button.Rows || 1);
      if (!group || used + size > columns * rows) {
        group = h("div", { class: "rich-group" });
        group.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
        groups.push(group);
        used = 0;
      }
      used += size;
      group.append(viberButton(button, (b) => onRich(b), "rich-button"));
    }
    return h("div", { class: "rich-media" }, groups);
  }

  const COLOR_RE = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

  function luminance(hex) {
    let value = hex.slice(1);
    if (value.length === 3) value = value.split("").map((c) => c + c).join("");
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(value.slice(i, i + 2), 16) / 255);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  /** One Viber keyboard/rich-media button on the 6-column grid. */
  function viberButton(button, onPress, className) {
    const label = stripMarkup(button.Text).trim() || (button.ActionType === "none" ? "" : stripMarkup(button.ActionBody));
    const el = h("button", { type: "button", class: className, "data-role": className === "kb-button" ? "keyboard-button" : "inline-button",
      "data-action": button.ActionType || "reply", title: button.ActionType === "open-url" ? `Відкрити ${button.ActionBody}` : null }, label);
    el.style.gridColumn = `span ${Math.min(Math.max(button.Columns || 6, 1), 6)}`;
    el.style.gridRow = `span ${Math.min(Math.max(button.Rows || 1, 1), 7)}`;
    if (typeof button.BgColor === "string" && COLOR_RE.test(button.BgColor)) {
      el.style.backgroundColor = button.BgColor;
      if (luminance(button.BgColor) < 0.5) el.classList.add("dark");
    }
    if (button.TextHAlign === "left" || button.TextHAlign === "right") el.style.textAlign = button.TextHAlign;
    if (button.ActionType === "none") el.disabled = true;
    el.addEventListener("click", () => onPress(button, el));
    return el;
  }

  // ------------------------------------------------------------------ panes: shared parts

  /** The error line near a pane's input: shown until the next action, never swallowed. */
  function errorLine(root) {
    const el = $(root, "error");
    let timer = null;
    return {
      show(message) {
        el.textContent = `⚠ ${message}`;
        el.classList.remove("notice");
        el.dataset.kind = "error";
        el.hidden = false;
        clearTimeout(timer);
        timer = setTimeout(() => { el.hidden = true; }, 12000);
      },
      /** The bot's answer to a button press: Telegram shows it as a toast (or an alert). */
      note(message) {
        el.textContent = `💬 ${message}`;
        el.classList.add("notice");
        el.dataset.kind = "answer";
        el.hidden = false;
        clearTimeout(timer);
        timer = setTimeout(() => { el.hidden = true; }, 6000);
      },
      clear() {
        el.hidden = true;
        el.textContent = "";
      },
    };
  }

  /** Run a pane action; its error goes to the pane's error line; buttons disable meanwhile. */
  async function act(pane, action, busy) {
    pane.errors.clear();
    if (busy) busy.disabled = true;
    try {
      const result = await action();
      const answer = result && result.answer;
      if (answer && typeof answer.text === "string" && answer.text) pane.errors.note(answer.text);
      return true;
    } catch (error) {
      pane.errors.show(error instanceof ApiError ? error.message : String(error));
      return false;
    } finally {
      if (busy) busy.disabled = false;
      pane.refresh();
    }
  }

  /** Composer wiring: Enter sends, Shift+Enter is a new line; the textarea grows with text. */
  function wireComposer(pane, send) {
    const input = $(pane.root, "input");
    const form = $(pane.root, "composer");
    const grow = () => {
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
    };
    input.addEventListener("input", grow);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value;
      // Sent as typed: the stand-ins decide what is empty or too long, like the real apps.
      const ok = await act(pane, () => send(text), $(pane.root, "send"));
      if (ok) {
        input.value = "";
        grow();
        pane.stickToBottom = true;
      }
      input.focus();
    });
    const file = $(pane.root, "attach");
    $(pane.root, "attach-button").addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      // The typed text, if any, goes along as the caption (as in the apps' attach dialog).
      const caption = input.value.trim();
      const ok = await act(pane, () => pane.upload(chosen, caption), $(pane.root, "attach-button"));
      if (ok && caption) {
        input.value = "";
        grow();
      }
      file.value = "";
      pane.stickToBottom = true;
    });
  }

  /** Persona select + "new resident" form. */
  function wirePersonas(pane, channel) {
    const select = $(pane.root, "persona");
    select.addEventListener("change", () => pane.choose(select.value));
    const toggle = $(pane.root, "new-persona");
    const form = $(pane.root, "new-persona-form");
    if (!toggle || !form) return;
    const name = $(pane.root, "new-persona-name");
    toggle.addEventListener("click", () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) name.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let made = null;
      await act(pane, async () => {
        made = await api.post("/api/personas", { channel, name: name.value });
      });
      if (made) {
        name.value = "";
        form.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        await app.loadWorld();
        pane.choose(made.id);
      }
    });
  }

  function fillSelect(select, people, chosen, label) {
    const signature = JSON.stringify(people.map((p) => [p.id, p.name, p.role]));
    if (select.dataset.signature !== signature) {
      select.replaceChildren(...people.map((p) => h("option", { value: p.id }, label(p))));
      select.dataset.signature = signature;
    }
    select.value = chosen;
  }

  function remember(key, value) {
    try {
      localStorage.setItem(`citybot-sandbox.${key}`, value);
    } catch {
      /* storage may be off (private mode): the choice just is not kept */
    }
  }

  function recalled(key) {
    const fromUrl = new URLSearchParams(location.search).get(key);
    if (fromUrl) return fromUrl;
    try {
      return localStorage.getItem(`citybot-sandbox.${key}`);
    } catch {
      return null;
    }
  }

  function pickPersona(people, wanted) {
    if (people.some((p) => p.id === wanted)) return wanted;
    return people.length ? people[0].id : null;
  }

  // ------------------------------------------------------------------ resident panes: shared

  /** What the Telegram and Viber resident panes share: who is played, the chat, uploads. */
  class ResidentPane {
    constructor(root, channel) {
      this.root = root;
      this.channel = channel;
      this.userId = null;
      this.errors = errorLine(root);
      this.list = $(root, "messages");
      trackScroll(this);
      this.lastText = null;
      this.stickToBottom = true;
      this.refresh = coalesced(() => this.load());
      wirePersonas(this, channel);
      wireComposer(this, (text) => api.post(`/api/${channel}/send`, { user_id: this.userId, text }));
    }

    people() {
      return app.world ? app.world[`${this.channel}_residents`] : [];
    }

    /** Show the bot's name and pick the resident (the one chosen before, if still there). */
    showPeople() {
      const chosen = pickPersona(this.people(), this.userId || recalled(this.channel));
      fillSelect($(this.root, "persona"), this.people(), chosen, (p) => p.name);
      if (chosen !== this.userId) this.choose(chosen);
    }

    choose(id) {
      this.userId = id;
      $(this.root, "persona").value = id;
      remember(this.channel, id);
      this.lastText = null;
      this.stickToBottom = true;
      this.errors.clear();
      this.refresh();
    }

    upload(file, caption) {
      const form = new FormData();
      form.append("user_id", this.userId);
      if (caption) form.append("caption", caption);
      form.append("file", file, file.name);
      return api.post(`/api/${this.channel}/upload`, form);
    }
  }

  // ------------------------------------------------------------------ Telegram resident pane

  class TelegramPane extends ResidentPane {
    constructor(root) {
      super(root, "telegram");
      this.keyboardFolded = false;
      $(root, "location").addEventListener("click", (e) => act(this, () => this.shareLocation(), e.currentTarget));
      $(root, "contact").addEventListener("click", (e) => act(this, () => this.shareContact(), e.currentTarget));
      $(root, "block").addEventListener("click", (e) => act(this, () => this.setBlocked(!this.blocked), e.currentTarget));
      $(root, "unblock").addEventListener("click", (e) => act(this, () => this.setBlocked(false), e.currentTarget));
      $(root, "keyboard-toggle").addEventListener("click", () => this.toggleKeyboard());
    }

    showWorld(world) {
      $(this.root, "bot-name").textContent = world.bot.first_name;
      $(this.root, "bot-sub").textContent = `бот · @${world.bot.username}`;
      $(this.root, "bot-avatar").textContent = initials(world.bot.first_name);
      this.showPeople();
    }

    shareLocation() {
      return api.post("/api/telegram/location", { user_id: this.userId, ...HOME });
    }

    shareContact() {
      return api.post("/api/telegram/contact", { user_id: this.userId });
    }

    setBlocked(blocked) {
      return api.post("/api/telegram/block", { user_id: this.userId, blocked });
    }

    async load() {
      if (!this.userId) return;
      const id = this.userId;
      let result;
      try {
        result = await api.getText(`/api/telegram/chat/${encodeURIComponent(id)}`);
      } catch (error) {
        this.errors.show(error.message);
        return;
      }
      // Unchanged state (another pane's change): leave the DOM alone (selection, spoilers).
      if (id !== this.userId || result.text === this.lastText) return;
      this.lastText = result.text;
      this.render(result.data);
    }

    render(chat) {
      this.blocked = Boolean(chat.blocked);
      const block = $(this.root, "block");
      block.textContent = this.blocked ? "Розблокувати" : "Заблокувати";
      block.setAttribute("aria-pressed", String(this.blocked));
      block.classList.toggle("danger", !this.blocked);
      $(this.root, "blocked-banner").hidden = !this.blocked;
      const render = () => {
        const items = chat.messages.map((m) => telegramBubble(m, {
          own: !(m.from && m.from.is_bot),
          showName: false,
          press: (message, data, button) => act(this, () => api.post("/api/telegram/press",
            { user_id: this.userId, chat_id: Number(this.userId), message_id: message.message_id, data }), button),
          onCommand: (command) => act(this, () => api.post("/api/telegram/send", { user_id: this.userId, text: command })),
          onLoad: () => { if (this.pinned) scrollToBottom(this.list); },
        }));
        if (!items.length) {
          items.push(h("div", { class: "empty" },
            h("p", {}, "Що вміє цей бот?"),
            h("p", { class: "muted" }, "Офіційний бот міської ради: новини, звернення, запити на інформацію."),
            h("button", { type: "button", class: "ctl primary", "data-role": "start-command",
              onclick: (e) => act(this, () => api.post("/api/telegram/send", { user_id: this.userId, text: "/start" }), e.currentTarget) }, "Почати (/start)")));
        }
        this.list.replaceChildren(...items);
      };
      repaint(this, () => {
        this.renderKeyboard(chat.keyboard);
        render();
      });
    }

    /**
     * The ReplyKeyboardMarkup above the input. As in Telegram, the keyboard icon hides and shows
     * it, and a one-time keyboard folds away once used (the icon brings it back).
     */
    renderKeyboard(markup) {
      const box = $(this.root, "keyboard");
      const toggle = $(this.root, "keyboard-toggle");
      const rows = markup && Array.isArray(markup.keyboard) ? markup.keyboard : [];
      if (!rows.length || this.blocked) {
        box.hidden = true;
        toggle.hidden = true;
        box.replaceChildren();
        delete box.dataset.signature;
        return;
      }
      const signature = JSON.stringify(markup);
      if (box.dataset.signature !== signature) {
        box.dataset.signature = signature;
        this.keyboardFolded = false; // a new keyboard from the bot opens
        box.replaceChildren(...rows.map((row) => h("div", { class: "rk-row" }, row.map((raw) => {
          const button = typeof raw === "string" ? { text: raw } : raw;
          const icon = button.request_contact ? "👤 " : button.request_location ? "📍 " : "";
          return h("button", { type: "button", class: "rk-button", "data-role": "keyboard-button",
            onclick: (e) => this.pressKeyboard(button, markup, e.currentTarget) }, icon, button.text);
        }))));
        $(this.root, "input").placeholder = markup.input_field_placeholder || "Повідомлення";
      }
      toggle.hidden = false;
      toggle.setAttribute("aria-pressed", String(!this.keyboardFolded));
      box.hidden = this.keyboardFolded;
    }

    toggleKeyboard() {
      this.keyboardFolded = !this.keyboardFolded;
      const box = $(this.root, "keyboard");
      this.stickToBottom = true;
      repaint(this, () => {
        box.hidden = this.keyboardFolded;
        $(this.root, "keyboard-toggle").setAttribute("aria-pressed", String(!this.keyboardFolded));
      });
    }

    pressKeyboard(button, markup, el) {
      if (markup.one_time_keyboard) this.keyboardFolded = true;
      this.stickToBottom = true;
      let action;
      if (button.request_contact) action = () => this.shareContact();
      else if (button.request_location) action = () => this.shareLocation();
      else action = () => api.post("/api/telegram/send", { user_id: this.userId, text: button.text });
      return act(this, action, el);
    }
  }

  // ------------------------------------------------------------------ Viber resident pane

  class ViberPane extends ResidentPane {
    constructor(root) {
      super(root, "viber");
      $(root, "location").addEventListener("click", (e) => act(this, () => api.post("/api/viber/location", { user_id: this.userId, ...HOME }), e.currentTarget));
      $(root, "contact").addEventListener("click", (e) => act(this, () => api.post("/api/viber/contact", { user_id: this.userId }), e.currentTarget));
      $(root, "start").addEventListener("click", (e) => act(this, () => api.post("/api/viber/start", { user_id: this.userId }), e.currentTarget));
      // Unsubscribing is Viber's counterpart of blocking the bot: broadcasts then skip them.
      $(root, "subscribed").addEventListener("click", (e) => act(this, () => api.post("/api/viber/subscription",
        { user_id: this.userId, subscribed: e.currentTarget.getAttribute("aria-pressed") !== "true" }), e.currentTarget));
    }

    showWorld(world) {
      $(this.root, "bot-name").textContent = world.viber_bot.name;
      $(this.root, "bot-avatar").textContent = initials(world.viber_bot.name);
      this.showPeople();
    }

    async load() {
      if (!this.userId) return;
      const id = this.userId;
      let result;
      try {
        result = await api.getText(`/api/viber/chat/${encodeURIComponent(id)}`);
      } catch (error) {
        this.errors.show(error.message);
        return;
      }
      if (id !== this.userId || result.text === this.lastText) return;
      this.lastText = result.text;
      this.render(result.data);
    }

    press(button, el) {
      this.stickToBottom = true;
      if (button.ActionType === "open-url") {
        const url = safeUrl(button.ActionBody);
        if (url) window.open(url, "_blank", "noopener,noreferrer");
      }
      // The stand-in finds the button by Text or ActionBody; ActionBody is the unambiguous one.
      const label = typeof button.ActionBody === "string" && button.ActionBody ? button.ActionBody : button.Text;
      return act(this, () => api.post("/api/viber/press", { user_id: this.userId, button: label }), el);
    }

    /** Rich-media buttons are not in the keyboard: a reply button sends its ActionBody as text. */
    pressRich(button) {
      if (button.ActionType === "open-url") {
        const url = safeUrl(button.ActionBody);
        if (url) window.open(url, "_blank", "noopener,noreferrer");
        return;
      }
      if (button.ActionType === "reply" || !button.ActionType) {
        act(this, () => api.post("/api/viber/send", { user_id: this.userId, text: String(button.ActionBody || "") }));
      }
    }

    render(chat) {
      const subscribed = $(this.root, "subscribed");
      subscribed.textContent = chat.subscribed ? "підписаний" : "не підписаний";
      subscribed.classList.toggle("on", chat.subscribed);
      subscribed.setAttribute("aria-pressed", String(Boolean(chat.subscribed)));
      const entries = chat.entries || [];
      $(this.root, "start-wrap").hidden = entries.length > 0;
      const render = () => {
        const items = [];
        let keyboard = null; // the keyboard the resident saw when they wrote each message
        let lastDay = null;
        for (const entry of entries) {
          const day = new Date(entry.timestamp).toLocaleDateString("uk-UA", { day: "numeric", month: "long" });
          if (day !== lastDay) {
            items.push(h("div", { class: "service day" }, h("span", {}, day)));
            lastDay = day;
          }
          items.push(this.bubble(entry, keyboard));
          if (entry.direction === "out" && entry.message.keyboard) keyboard = entry.message.keyboard;
        }
        this.list.replaceChildren(...items);
      };
      repaint(this, () => {
        this.renderKeyboard(chat.keyboard);
        render();
      });
    }

    /**
     * One transcript entry. A resident's message that is the ActionBody of a Silent button of
     * the keyboard they had is a button tap: Viber does not show it, the page shows the
     * button's label, dimmed, so trainers see what was chosen.
     */
    bubble(entry, keyboard) {
      const message = entry.message || {};
      const out = entry.direction === "out";
      const bubble = h("div", { class: "bubble" });
      let silent = null;
      if (!out && message.type === "text" && keyboard && Array.isArray(keyboard.Buttons)) {
        silent = keyboard.Buttons.find((b) => b.Silent && b.ActionBody === message.text) || null;
      }
      append(bubble, viberMedia(message, () => { if (this.pinned) scrollToBottom(this.list); }, (b) => this.pressRich(b)));
      if (silent) {
        bubble.append(h("div", { class: "text" }, stripMarkup(silent.Text) || message.text));
      } else if (typeof message.text === "string" && message.text) {
        bubble.append(h("div", { class: "text" }, viberText(message.text)));
      }
      bubble.append(h("span", { class: "meta" },
        new Date(entry.timestamp).toLocaleTimeString("uk-UA", { hour: "2-digit", minute: "2-digit" })));
      return h("div", {
        class: `msg ${out ? "in" : "out"}${silent ? " silent" : ""}`,
        "data-role": "message",
        "data-from": out ? "bot" : "user",
        "data-type": message.type || "",
        title: silent ? `Натиснуто кнопку (${message.text}); у Viber такі натискання не видно` : null,
      }, bubble);
    }

    renderKeyboard(keyboard) {
      const box = $(this.root, "keyboard");
      const buttons = keyboard && Array.isArray(keyboard.Buttons) ? keyboard.Buttons : [];
      if (!buttons.length) {
        box.hidden = true;
        box.replaceChildren();
        delete box.dataset.signature;
        return;
      }
      const signature = JSON.stringify(keyboard);
      if (box.dataset.signature === signature) return;
      box.dataset.signature = signature;
      const grid = h("div", { class: "kb-grid" }, buttons.map((b) => viberButton(b, (button, el) => this.press(button, el), "kb-button")));
      if (typeof keyboard.BgColor === "string" && COLOR_RE.test(keyboard.BgColor)) box.style.backgroundColor = keyboard.BgColor;
      else box.style.backgroundColor = "";
      box.replaceChildren(grid);
      box.hidden = false;
      if (keyboard.InputFieldState === "hidden") $(this.root, "input").placeholder = "Оберіть варіант на клавіатурі";
      else $(this.root, "input").placeholder = "Напишіть повідомлення…";
    }
  }

  // ------------------------------------------------------------------ staff pane

  function topicColor(icon) {
    return `#${(Number(icon) || 0x6fb9f0).toString(16).padStart(6, "0")}`;
  }

  /** The message mentions the user (a text mention or a tg://user link) or answers them. */
  function addresses(message, userId) {
    const id = String(userId);
    const entities = message.entities || message.caption_entities || [];
    const mentioned = entities.some((e) => (e.type === "text_mention" && e.user && String(e.user.id) === id)
      || (e.type === "text_link" && e.url === `tg://user?id=${id}`));
    const answered = message.reply_to_message && message.reply_to_message.from;
    return mentioned || Boolean(answered && String(answered.id) === id);
  }

  class StaffPane {
    constructor(root) {
      this.root = root;
      this.userId = null;
      this.chatId = null;
      this.thread = ""; // "" is General
      this.replyTo = null;
      this.forced = new Set(); // ForceReply messages a reply was opened to (or dismissed)
      this.chat = null;
      this.errors = errorLine(root);
      this.list = $(root, "messages");
      trackScroll(this);
      this.lastText = null;
      this.stickToBottom = true;
      this.seen = new Map(); // thread -> newest message id seen in this tab
      this.baseline = null; // newest message id at first load: older ones count as read
      this.refresh = coalesced(() => this.load());
      wirePersonas(this, "staff");
      wireComposer(this, (text) => this.send(text));
      $(root, "reply-cancel").addEventListener("click", () => this.setReply(null));
      const hint = $(root, "hint");
      for (const command of STAFF_COMMANDS) {
        hint.append(h("button", { type: "button", class: "chip", title: `Вставити ${command} (insert)`,
          onclick: () => this.insertCommand(command) }, command));
      }
    }

    people() {
      return app.world ? app.world.staff : [];
    }

    showWorld(world) {
      this.chatId = world.operator_chat.id;
      $(this.root, "group-title").textContent = world.operator_chat.title;
      const chosen = pickPersona(this.people(), this.userId || recalled("staff"));
      fillSelect($(this.root, "persona"), this.people(), chosen, (p) => `${p.name} — ${ROLE_NAMES[p.role] || p.role || ""}`);
      if (chosen !== this.userId) this.choose(chosen);
    }

    choose(id) {
      this.userId = id;
      $(this.root, "persona").value = id;
      remember("staff", id);
      this.lastText = null; // own messages move sides
      this.errors.clear();
      this.refresh();
    }

    insertCommand(command) {
      const input = $(this.root, "input");
      input.value = `${command} `;
      input.focus();
    }

    send(text) {
      const body = { user_id: this.userId, chat_id: this.chatId, text };
      if (this.thread) body.thread_id = Number(this.thread);
      if (this.replyTo) body.reply_to = this.replyTo.message_id;
      return api.post("/api/telegram/send", body).then((result) => {
        this.setReply(null);
        return result;
      });
    }

    upload(file, caption) {
      const form = new FormData();
      form.append("user_id", this.userId);
      form.append("chat_id", String(this.chatId));
      if (this.thread) form.append("thread_id", this.thread);
      if (caption) form.append("caption", caption);
      form.append("file", file, file.name);
      return api.post("/api/telegram/upload", form);
    }

    setReply(message) {
      this.replyTo = message;
      $(this.root, "reply-bar").hidden = !message;
      $(this.root, "reply-preview").textContent = message ? `${userName(message.from)}: ${summary(message).slice(0, 120)}` : "";
      if (message) $(this.root, "input").focus();
    }

    openThread(thread) {
      this.thread = thread;
      this.setReply(null);
      this.stickToBottom = true;
      if (this.chat) this.render(this.chat);
      $(this.root, "input").focus({ preventScroll: true });
    }

    async load() {
      if (!this.chatId) return;
      let result;
      try {
        result = await api.getText(`/api/telegram/chat/${encodeURIComponent(this.chatId)}`);
      } catch (error) {
        this.errors.show(error.message);
        return;
      }
      if (result.text === this.lastText) return;
      this.lastText = result.text;
      this.chat = result.data;
      this.render(this.chat);
    }

    /** Threads with their messages, newest activity first; General always first. */
    threads(chat) {
      const byThread = new Map([["", []]]);
      for (const topic of chat.topics) byThread.set(String(topic.message_thread_id), []);
      for (const m of chat.messages) {
        const key = m.message_thread_id ? String(m.message_thread_id) : "";
        if (!byThread.has(key)) byThread.set(key, []); // a topic deleted meanwhile
        byThread.get(key).push(m);
      }
      const topics = chat.topics.map((topic) => {
        const key = String(topic.message_thread_id);
        const messages = byThread.get(key) || [];
        let closed = false;
        for (const m of messages) {
          if (m.forum_topic_closed) closed = true;
          if (m.forum_topic_reopened) closed = false;
        }
        return { key, topic, messages, closed, newest: messages.length ? messages[messages.length - 1].message_id : 0 };
      });
      topics.sort((a, b) => b.newest - a.newest);
      const general = byThread.get("");
      return {
        byThread,
        list: [{ key: "", topic: { name: "General" }, messages: general, closed: false,
          newest: general.length ? general[general.length - 1].message_id : 0 }, ...topics],
      };
    }

    unread(entry) {
      const seen = Math.max(this.seen.get(entry.key) || 0, this.baseline || 0);
      return entry.messages.filter((m) => m.message_id > seen && !serviceText(m) && String(m.from && m.from.id) !== this.userId).length;
    }

    render(chat) {
      const { byThread, list } = this.threads(chat);
      if (this.baseline === null) {
        this.baseline = chat.messages.reduce((max, m) => Math.max(max, m.message_id), 0);
      }
      if (!byThread.has(this.thread)) this.thread = "";
      const current = list.find((entry) => entry.key === this.thread);
      this.forceReply(chat, current.messages);
      this.seen.set(this.thread, current.newest);
      this.renderTopics(list);
      const title = current.key ? current.topic.name : "General";
      $(this.root, "thread-title").textContent = title;
      $(this.root, "thread-sub").textContent = current.key
        ? `${current.closed ? "🔒 закрита · " : ""}${current.messages.length} повідомлень`
        : "загальна тема групи";
      const icon = $(this.root, "thread-icon");
      icon.textContent = current.key ? initials(title).slice(0, 1) : "#";
      icon.style.backgroundColor = current.key ? topicColor(current.topic.icon_color) : "";
      const render = () => {
        const items = current.messages.map((m) => {
          const fromBot = Boolean(m.from && m.from.is_bot);
          const own = !fromBot && String(m.from && m.from.id) === this.userId;
          return telegramBubble(m, {
            own,
            showName: !own,
            fromLabel: fromBot ? "bot" : "staff",
            press: (message, data, button) => act(this, () => api.post("/api/telegram/press",
              { user_id: this.userId, chat_id: this.chatId, message_id: message.message_id, data }), button),
            onReply: (message) => this.setReply(message),
            onCommand: (command) => this.insertCommand(command),
            onLoad: () => { if (this.pinned) scrollToBottom(this.list); },
          });
        });
        if (!items.length) items.push(h("div", { class: "empty" }, h("p", { class: "muted" }, "Тут ще нічого немає")));
        this.list.replaceChildren(...items);
      };
      repaint(this, render);
    }

    /**
     * Telegram's forced reply: when the thread's newest message is the bot's with a ForceReply
     * that applies to the person played (not selective, or it mentions them, or it answers
     * their message), the input opens as a reply to it, once; the reply bar's ✕ dismisses it.
     */
    forceReply(chat, messages) {
      const newest = messages[messages.length - 1];
      const markup = newest && (chat.force_reply || {})[String(newest.message_id)];
      if (!markup || this.forced.has(newest.message_id)) return;
      this.forced.add(newest.message_id);
      if (!markup.selective || addresses(newest, this.userId)) this.setReply(newest);
    }

    renderTopics(list) {
      const ul = $(this.root, "topics");
      const scroll = ul.scrollTop;
      ul.replaceChildren(...list.map((entry) => {
        const unread = entry.key === this.thread ? 0 : this.unread(entry);
        const last = [...entry.messages].reverse().find((m) => !serviceText(m) || m.text);
        const icon = h("span", { class: "topic-icon", "aria-hidden": "true" }, entry.key ? initials(entry.topic.name).slice(0, 1) : "#");
        if (entry.key) icon.style.backgroundColor = topicColor(entry.topic.icon_color);
        const button = h("button", {
          type: "button", class: "topic-button", "aria-current": entry.key === this.thread ? "true" : null,
          onclick: () => this.openThread(entry.key),
        }, icon, h("span", { class: "topic-text" },
          h("span", { class: "topic-name" }, entry.closed ? "🔒 " : "", entry.key ? entry.topic.name : "General"),
          h("span", { class: "topic-last" }, last ? `${last.from && !last.from.is_bot ? `${last.from.first_name}: ` : ""}${summary(last)}` : "")),
        unread ? h("span", { class: "unread", title: "Unread", "aria-label": `${unread} непрочитаних` }, String(unread)) : null);
        return h("li", { "data-role": "topic", "data-thread": entry.key, class: entry.key === this.thread ? "active" : null }, button);
      }));
      ul.scrollTop = scroll;
    }
  }

  // ------------------------------------------------------------------ counters panel

  class Counters {
    constructor(root) {
      this.root = root;
      this.timer = null;
      this.refresh = coalesced(() => this.load());
    }

    async load() {
      let counters;
      try {
        counters = await api.get("/api/counters");
      } catch {
        return; // the connection badge already says the server is gone
      }
      for (const channel of ["telegram", "viber"]) {
        for (const [key, value] of Object.entries(counters[channel] || {})) {
          const el = this.root.querySelector(`[data-counter="${channel}.${key}"]`);
          if (el) el.textContent = String(value);
        }
      }
      this.renderBroadcasts(counters.broadcasts || []);
      // While anything is still going out, poll: the engine's progress is not a stand-in change.
      clearTimeout(this.timer);
      if (counters.broadcasts.some((b) => b.pending > 0)) this.timer = setTimeout(() => this.refresh(), 2000);
    }

    renderBroadcasts(broadcasts) {
      const box = this.root.querySelector('[data-role="broadcasts"]');
      if (!broadcasts.length) {
        box.replaceChildren(h("p", { class: "muted" }, "Розсилок ще не було"));
        return;
      }
      box.replaceChildren(...broadcasts.map((b) => {
        const done = b.sent + b.blocked + b.failed + b.cancelled;
        const percent = b.total ? Math.round((100 * done) / b.total) : 100;
        const bar = h("progress", { max: String(b.total || 1), value: String(done), "aria-label": `${b.title}: ${b.sent}/${b.total}` });
        return h("div", { class: "broadcast", "data-role": "broadcast", "data-status": b.status,
          title: `#${b.id} ${b.kind}: надіслано ${b.sent}, заблокували ${b.blocked}, помилки ${b.failed}, в черзі ${b.pending}, скасовано ${b.cancelled}` },
        h("div", { class: "broadcast-line" },
          h("span", { class: "broadcast-title", title: `${b.kind} #${b.id}` }, b.title),
          h("span", { class: `status status-${b.status}`, title: b.status }, BROADCAST_STATUS[b.status] || b.status)),
        bar,
        h("div", { class: "broadcast-line small" },
          h("span", {}, `${b.sent}/${b.total} · ${percent}%`),
          h("span", {}, b.pending > 0 ? `${b.rate}/с · черга ${b.pending}` : `${b.blocked ? `блок ${b.blocked} · ` : ""}${b.failed ? `помилки ${b.failed}` : "готово"}`)));
      }));
    }
  }

  // ------------------------------------------------------------------ app

  const app = {
    world: null,
    panes: [],
    counters: null,
    worldLoadedAt: 0,

    async loadWorld() {
      const world = await api.get("/api/world");
      this.world = world;
      this.worldLoadedAt = Date.now();
      for (const pane of this.panes) pane.showWorld(world);
    },

    /** On every change: each shown chat and the counters; people at most every 3 s. */
    onChange() {
      for (const pane of this.panes) pane.refresh();
      this.counters.refresh();
      if (Date.now() - this.worldLoadedAt > 3000) {
        this.worldLoadedAt = Date.now();
        this.loadWorld().catch(() => {});
      }
    },

    connect() {
      const badge = document.querySelector('[data-role="connection"]');
      const label = document.querySelector('[data-role="connection-text"]');
      const source = new EventSource("/api/events");
      source.addEventListener("open", () => {
        badge.dataset.state = "live";
        label.textContent = "наживо";
      });
      source.addEventListener("change", () => this.onChange());
      // EventSource reconnects on its own; say so meanwhile.
      source.addEventListener("error", () => {
        badge.dataset.state = "down";
        label.textContent = "немає з'єднання";
      });
    },

    async start() {
      this.panes = [
        new TelegramPane(document.querySelector('[data-pane="telegram"]')),
        new ViberPane(document.querySelector('[data-pane="viber"]')),
        new StaffPane(document.querySelector('[data-pane="staff"]')),
      ];
      this.counters = new Counters(document.querySelector('[data-role="counters"]'));
      try {
        await this.loadWorld();
      } catch (error) {
        for (const pane of this.panes) pane.errors.show(error.message);
      }
      this.counters.refresh();
      this.connect();
    },
  };

  document.addEventListener("DOMContentLoaded", () => app.start());
})();
