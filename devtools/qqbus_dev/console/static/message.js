// qqbus dev console: a message's segments as a QQ client would show them (markdown, keyboards,
// media, quotes, cards). Everything is built as DOM nodes: text only ever goes in through text
// nodes, so a message cannot inject markup, whatever it holds. No dependency, no build step.
"use strict";

const Rich = (() => {
  const SAFE_LINK = /^(https?:\/\/|mailto:)/i;
  const MEDIA_TYPES = {image: "image/png", video: "video/mp4", record: "audio/mpeg"};

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A value for people: strings as they are, anything else as JSON (never "[object Object]").
  function shown(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function link(url, text) {
    return SAFE_LINK.test(url)
      ? el("a", {href: url, target: "_blank", rel: "noopener noreferrer", title: url}, text)
      : el("span", {class: "unsafe-link", title: `not opened: ${url}`}, text);
  }

  // --- markdown: a small subset (headings, bold, italic, strike, code, links, images, lists,
  // quotes, rules) and QQ's own tags (<qqbot-at-user id="..."/>, <qqbot-cmd-input .../>) ---------

  const INLINE = new RegExp([
    "(`+)([\\s\\S]*?)\\1", // 1,2 code
    "!\\[([^\\]]*)\\]\\(([^)\\s]+)[^)]*\\)", // 3,4 image
    "\\[([^\\]]+)\\]\\(([^)\\s]+)\\)", // 5,6 link
    "\\*\\*([\\s\\S]+?)\\*\\*|__([\\s\\S]+?)__", // 7,8 bold
    "~~([\\s\\S]+?)~~", // 9 strike
    "\\*([^*\\s](?:[^*]*[^*\\s])?)\\*|_([^_\\s](?:[^_]*[^_\\s])?)_", // 10,11 italic
    "<qqbot-at-user\\s+id=\"([^\"]*)\"\\s*\\/?>", // 12 mention
    "<qqbot-at-everyone\\s*\\/?>", // everyone
    "<qqbot-cmd-input\\s+([^>]*?)\\/?>", // 13 a command to put into the input box
  ].join("|"), "g");

  function attr(attrs, name) {
    const found = new RegExp(`${name}="([^"]*)"`).exec(attrs);
    return found ? found[1] : "";
  }

  function inline(text, ctx) {
    const out = [];
    let pos = 0;
    INLINE.lastIndex = 0;
    for (let m = INLINE.exec(text); m; m = INLINE.exec(text)) {
      if (m.index > pos) out.push(document.createTextNode(text.slice(pos, m.index)));
      pos = INLINE.lastIndex;
      const rest = INLINE.lastIndex;
      if (m[1]) out.push(el("code", {text: m[2]}));
      else if (m[4] !== undefined) out.push(image(m[4], m[3].replace(/\s*#\d+px/g, "").trim() || "image"));
      else if (m[6] !== undefined) out.push(link(m[6], inline(m[5], ctx)));
      else if (m[7] !== undefined || m[8] !== undefined) out.push(el("strong", {}, inline(m[7] || m[8], ctx)));
      else if (m[9] !== undefined) out.push(el("s", {}, inline(m[9], ctx)));
      else if (m[10] !== undefined || m[11] !== undefined) out.push(el("em", {}, inline(m[10] || m[11], ctx)));
      else if (m[12] !== undefined) out.push(el("span", {class: "mention", text: `@${ctx.name(m[12])}`}));
      else if (m[13] !== undefined) {
        const command = attr(m[13], "text");
        out.push(el("button", {type: "button", class: "cmd-input", title: `puts ${command} into the input box`,
          onclick: () => ctx.command(command, false)}, attr(m[13], "show") || command));
      } else out.push(el("span", {class: "mention", text: "@everyone"}));
      INLINE.lastIndex = rest; // the recursive calls above reset the shared pattern
    }
    if (pos < text.length) out.push(document.createTextNode(text.slice(pos)));
    return out;
  }

  function markdown(source, ctx) {
    const root = el("div", {class: "md"});
    const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    let para = null;
    let list = null;
    const close = () => { para = null; list = null; };
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i];
      const fence = /^\s*```/.test(line);
      if (fence) {
        const code = [];
        for (i += 1; i < lines.length && !/^\s*```/.test(lines[i]); i += 1) code.push(lines[i]);
        root.append(el("pre", {}, el("code", {text: code.join("\n")})));
        close();
        continue;
      }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
      if (!line.trim()) close();
      else if (heading) {
        root.append(el("p", {class: `md-h md-h${heading[1].length}`, role: "heading",
          "aria-level": String(Math.min(6, heading[1].length + 3))}, inline(heading[2], ctx)));
        close();
      } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        root.append(el("hr"));
        close();
      } else if (item) {
        const tag = item[1] ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          list = el(tag, item[2] && item[2] !== "1" ? {start: item[2]} : {});
          root.append(list);
        }
        list.append(el("li", {}, inline(item[3], ctx)));
        para = null;
      } else if (/^>\s?/.test(line)) {
        root.append(el("blockquote", {}, inline(line.replace(/^>\s?/, ""), ctx)));
        close();
      } else {
        if (!para) { para = el("p"); root.append(para); list = null; } else para.append(el("br"));
        para.append(...inline(line, ctx));
      }
    }
    return root;
  }

  // --- media ------------------------------------------------------------------------------

  function mediaUrl(seg) {
    const file = shown(seg.data.url || seg.data.file);
    if (/^https?:\/\//i.test(file)) return file;
    if (file.startsWith("base64://")) return `data:${MEDIA_TYPES[seg.type] || "application/octet-stream"};base64,${file.slice(9)}`;
    return null;
  }

  function image(url, alt) {
    return /^(https?:\/\/|data:image\/)/i.test(url)
      ? el("img", {class: "seg-image", src: url, alt, loading: "lazy"})
      : chip("image", alt, url);
  }

  function fileName(seg) {
    const named = seg.data.name || seg.data.file_name;
    if (named) return shown(named);
    const file = shown(seg.data.url || seg.data.file);
    if (file.startsWith("base64://")) return "file";
    return file.split(/[/\\]/).filter(Boolean).pop() || "file";
  }

  function media(seg) {
    const url = mediaUrl(seg);
    if (seg.type === "image") return url ? image(url, shown(seg.data.summary) || "image") : chip("image", shown(seg.data.file));
    if (seg.type === "file") {
      const name = fileName(seg);
      const body = url ? el("a", {href: url, download: name, target: "_blank", rel: "noopener noreferrer"}, name) : name;
      return el("span", {class: "seg-card file-chip"}, el("span", {class: "label", text: "file"}), body);
    }
    const what = seg.type === "video" ? "video" : "voice";
    if (!url) return chip(what, shown(seg.data.file));
    return el("span", {class: `seg-card ${what}`}, el("span", {class: "label", text: what}),
      el(seg.type === "video" ? "video" : "audio", {src: url, controls: true, preload: "metadata", "aria-label": what}));
  }

  // --- keyboards ------------------------------------------------------------------------------

  function keyboard(data, ctx) {
    if (data.id) return chip("keyboard", `template ${shown(data.id)}`);
    const rows = (data.content && data.content.rows) || [];
    return el("div", {class: "keyboard", role: "group", "aria-label": "keyboard"},
      rows.map((row) => el("div", {class: "kb-row"}, (row.buttons || []).map((b) => button(b, ctx)))));
  }

  function button(b, ctx) {
    const render = b.render_data || {};
    const action = b.action || {};
    const clicked = ctx.clicked(b);
    const label = shown((clicked && render.visited_label) || render.label || b.id || "?");
    const style = render.style === 0 ? "grey" : "blue";
    const data = shown(action.data);
    const common = {class: `kb-button ${style}`, "data-type": String(action.type), "data-id": shown(b.id)};
    if (action.type === 0) { // jump: a link, opened as a client would (in a browser)
      return SAFE_LINK.test(data) ? el("a", {...common, href: data, target: "_blank", rel: "noopener noreferrer", title: data}, label)
        : el("button", {...common, type: "button", disabled: true, title: `not a link: ${data}`}, label);
    }
    const why = action.type === 1 ? "callback: the bot gets INTERACTION_CREATE" : "command: goes into the input box";
    return el("button", {...common, type: "button", title: `${why} (${data})`,
      onclick: () => (action.type === 1 ? ctx.callback(b) : ctx.command(data, action.enter === true))}, label);
  }

  // --- cards: ark, quotes, and what OneBot bots send besides ----------------------------------------

  function chip(label, text, title) {
    return el("span", {class: "seg-card", title: title || null},
      el("span", {class: "label", text: label}), text ? el("span", {text}) : null);
  }

  function pairs(data, skip) {
    const keys = Object.keys(data || {}).filter((k) => !(skip || []).includes(k));
    return keys.length ? el("dl", {}, keys.map((k) => [el("dt", {text: k}), el("dd", {text: shown(data[k])})]).flat()) : null;
  }

  function ark(data) {
    const kv = Array.isArray(data.kv) ? data.kv : [];
    return el("div", {class: "seg-card block"}, el("span", {class: "label", text: `ark template ${shown(data.template_id)}`}),
      kv.length ? el("dl", {}, kv.map((p) => [el("dt", {text: shown(p.key)}), el("dd", {text: shown(p.value !== undefined ? p.value : p.obj)})]).flat()) : null);
  }

  function quote(data, ctx) {
    const quoted = ctx.quoted(shown(data.id));
    if (!quoted) return el("blockquote", {class: "quote missing", text: `quotes message ${shown(data.id)} (not in this chat)`});
    return el("blockquote", {class: "quote", "data-quotes": quoted.id},
      el("span", {class: "quote-who", text: quoted.who === "bot" ? "bot" : quoted.name || "user"}),
      el("span", {class: "quote-text", text: plain(quoted.message) || quoted.text}));
  }

  function node(data, ctx) {
    if (data.id !== undefined && data.content === undefined) return chip("forwarded message", shown(data.id));
    const content = Array.isArray(data.content) ? render(data.content, ctx) : el("span", {text: shown(data.content)});
    return el("div", {class: "seg-card block"}, el("span", {class: "label", text: `${shown(data.name || data.nickname || data.user_id || data.uin || "someone")} said`}), content);
  }

  function card(title, ...rest) {
    return el("div", {class: "seg-card block"}, el("span", {class: "label", text: title}), ...rest);
  }

  function jsonCard(data) {
    let parsed = null;
    try { parsed = JSON.parse(shown(data.data)); } catch { parsed = null; }
    const meta = parsed && typeof parsed === "object" ? parsed : {};
    const title = meta.prompt || meta.desc || (meta.meta && JSON.stringify(meta.meta).slice(0, 80)) || "";
    return card("json card", el("span", {text: shown(title) || "(no prompt)"}),
      el("details", {}, el("summary", {text: "data"}), el("pre", {text: parsed ? JSON.stringify(parsed, null, 2) : shown(data.data)})));
  }

  const SEGMENTS = {
    text: (d) => el("span", {class: "seg-text", text: shown(d.text)}),
    at: (d, ctx) => el("span", {class: "mention", text: d.qq === "all" ? "@everyone" : `@${ctx.name(shown(d.qq))}`}),
    face: (d) => chip("face", shown(d.id)),
    markdown: (d, ctx) => (d.content !== undefined ? markdown(d.content, ctx)
      : card(`markdown template ${shown(d.custom_template_id)}`,
        pairs(Object.fromEntries((d.params || []).map((p) => [shown(p.key), (p.values || []).map(shown).join(", ")]))))),
    keyboard,
    ark,
    reply: quote,
    node,
    forward: (d) => chip("forwarded messages", shown(d.id)),
    json: jsonCard,
    xml: (d) => card("xml card", el("details", {}, el("summary", {text: "data"}), el("pre", {text: shown(d.data)}))),
    music: (d) => (d.type === "custom"
      ? card(`music: ${shown(d.title)}`, d.url ? link(shown(d.url), shown(d.content || d.url)) : null, d.audio ? el("audio", {src: shown(d.audio), controls: true, preload: "none"}) : null)
      : chip("music", `${shown(d.type)} song ${shown(d.id)}`)),
    share: (d) => card(`share: ${shown(d.title)}`, d.content ? el("span", {text: shown(d.content)}) : null, link(shown(d.url), shown(d.url))),
    location: (d) => chip("location", [d.title, `${shown(d.lat)}, ${shown(d.lon)}`].filter(Boolean).join(" · ")),
    contact: (d) => chip(d.type === "group" ? "group card" : "contact card", shown(d.id)),
    poke: (d) => chip("poke", d.qq ? `@${shown(d.qq)}` : [d.type, d.id].filter((x) => x !== undefined).map(shown).join(" ")),
    dice: (d) => chip("dice", d.result !== undefined ? shown(d.result) : ""),
    rps: (d) => chip("rock-paper-scissors", d.result !== undefined ? shown(d.result) : ""),
    shake: () => chip("shake", ""),
    tts: (d) => chip("text to speech", shown(d.text)),
  };
  for (const kind of ["image", "video", "record", "file"]) SEGMENTS[kind] = (d, ctx, seg) => media(seg);

  function segment(seg, ctx) {
    if (!seg || typeof seg !== "object") return document.createTextNode(shown(seg));
    const data = seg.data && typeof seg.data === "object" ? seg.data : {};
    const known = SEGMENTS[seg.type];
    if (known) return known(data, ctx, {...seg, data});
    return chip(shown(seg.type) || "segment", Object.entries(data).map(([k, v]) => `${k}=${shown(v)}`).join(" "));
  }

  // A quote comes first, as QQ shows it, wherever the bot put it.
  function render(message, ctx) {
    const segs = Array.isArray(message) ? message : [{type: "text", data: {text: shown(message)}}];
    const ordered = [...segs.filter((s) => s && s.type === "reply"), ...segs.filter((s) => !s || s.type !== "reply")];
    return el("div", {class: "text rich"}, ordered.map((s) => segment(s, ctx)));
  }

  // A message as one line of words (quotes, trace chips): text, mentions, markdown, [kind].
  function plain(message) {
    if (!Array.isArray(message)) return shown(message);
    return message.map((s) => {
      const d = (s && s.data) || {};
      if (s.type === "text") return shown(d.text);
      if (s.type === "at") return `@${shown(d.qq)}`;
      if (s.type === "markdown" && d.content !== undefined) return shown(d.content).replace(/\s+/g, " ").trim();
      if (s.type === "reply") return "";
      return `[${shown(s.type)}]`;
    }).join("");
  }

  // Whether a message needs more than its text to be shown.
  function isRich(message) {
    return Array.isArray(message) && message.some((s) => s && !["text", "at"].includes(s.type));
  }

  return {render, plain, isRich, markdown, el};
})();
