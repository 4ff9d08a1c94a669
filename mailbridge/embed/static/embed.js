/* mailbridge comment widget: <script src="https://HOST/embed.js" data-thread="KEY" async></script>
   with <div id="mailbridge"></div> on the page. No cookies, no third-party requests:
   it talks only to the server it was loaded from. docs/embed.md lists the attributes and
   the CSS custom properties a site may set. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var api = new URL(script.src).origin;
  var opts = script.dataset;
  /* A theme may put the script in <head>, before the container exists: wait for it. */
  if (!document.getElementById(opts.target || "mailbridge") && document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  /* A page that requires Trusted Types refuses a plain string for innerHTML: the
     comments' HTML, sanitised by the server (nh3), goes through a policy of ours,
     named "mailbridge" (a page that lists its policies names it). */
  var trusted = null;
  if (window.trustedTypes && window.trustedTypes.createPolicy) {
    try {
      trusted = window.trustedTypes.createPolicy("mailbridge", { createHTML: function (s) { return s; } });
    } catch (e) {
      trusted = null; /* not allowed by the page: its refusal will say so */
    }
  }

  function start() {
    var host = document.getElementById(opts.target || "mailbridge");
    if (!host || host.dataset.mailbridgeLoaded) return;
    host.dataset.mailbridgeLoaded = "1";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var CSS =
      /* The page's own colours, not the reader's system setting: a dark blog got black
         comments, a light one read in dark mode white ones. */
      ":host{display:block;--_text:var(--mb-text,currentColor);" +
      "--_bg:var(--mb-bg,transparent);--_muted:var(--mb-muted,color-mix(in srgb,currentColor 72%,transparent));" +
      "--_accent:var(--mb-accent,#0b5cad);" +
      "--_border:var(--mb-border,color-mix(in srgb,currentColor 18%,transparent));--_radius:var(--mb-radius,6px);" +
      "font:var(--mb-font,inherit);color:var(--_text)}" +
      "@supports (color:light-dark(#000,#fff)){:host{" +
      "--_accent:light-dark(var(--mb-accent,#0b5cad),var(--mb-accent-dark,var(--mb-accent,#6cb6ff)))}}" +
      "h2{font-size:1.25em;margin:0 0 .75em}h3{overflow-wrap:anywhere}ol{list-style:none;margin:0;padding:0}" +
      "ol ol{margin-left:1rem;padding-left:.75rem;border-left:2px solid var(--_border)}" +
      "article{margin:0 0 1rem}.meta{font-size:.875em;overflow-wrap:anywhere}.meta time,.sep{color:var(--_muted)}.author{font-weight:600}" +
      ".body{overflow-wrap:anywhere}.body pre{overflow-x:auto;max-width:100%}.body p{margin:.25em 0 .5em}.body blockquote{margin:0 0 .5em;padding-left:.75em;border-left:3px solid var(--_border);color:var(--_muted)}" +
      "a{color:var(--_accent)}button{font:inherit;cursor:pointer;border-radius:var(--_radius)}" +
      ".reply{background:none;border:0;color:var(--_accent);padding:.25em 0;text-decoration:underline}" +
      "form{display:grid;gap:.6rem;margin:1rem 0;padding:1rem;border:1px solid var(--_border);border-radius:var(--_radius);background:var(--_bg)}" +
      "label{display:grid;gap:.2rem;font-size:.9em}input,textarea,select{font:inherit;color:inherit;background:var(--_bg);" +
      "border:1px solid var(--_border);border-radius:var(--_radius);padding:.45em;min-width:0}textarea{min-height:6em;resize:vertical}" +
      ".row{display:grid;gap:.6rem;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr))}" +
      ".send{background:var(--_accent);color:#fff;border:0;padding:.6em 1.2em;justify-self:start}" +
      ".cancel{background:none;border:1px solid var(--_border);color:inherit;padding:.5em 1em;justify-self:start}" +
      ".trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}.plain{white-space:pre-wrap}" +
      ".status:not(:empty){padding:.6em .8em;border-radius:var(--_radius);border:1px solid var(--_border)}" +
      "article.linked{outline:2px solid var(--_accent);outline-offset:4px;border-radius:var(--_radius);scroll-margin-top:1rem}" +
      ".status.error{border-color:#d1242f}.more{margin:.5rem 0}:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}";

    function el(tag, attrs, kids) {
      var node = document.createElement(tag);
      for (var k in attrs || {}) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "html") node.innerHTML = trusted ? trusted.createHTML(attrs[k]) : attrs[k]; /* sanitised by the server (nh3) */
        else node.setAttribute(k, attrs[k]);
      }
      (kids || []).forEach(function (kid) { if (kid) node.appendChild(kid); });
      return node;
    }

    /* A constructed sheet, not a <style>: a page whose Content-Security-Policy allows no
       inline style (style-src 'self') blocks a <style> even in a shadow root. */
    function styles() {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
        return null;
      } catch (e) {
        return el("style", { text: CSS });
      }
    }
    var title = el("h2", { text: "Comments" });
    var list = el("ol", { "aria-label": "Comments" });
    var more = el("button", { type: "button", class: "more cancel", text: "Show more comments" });
    more.hidden = true;
    /* Beside the button: at the end of a long thread, the status above the comments is
       screens away, and a failed "Show more" seemed to do nothing. */
    var moreNote = el("div", { class: "status", role: "status", "aria-live": "polite" });
    var status = el("div", { class: "status", role: "status", "aria-live": "polite" });
    var style = root === host ? el("style", { text: CSS }) : styles();
    if (style) root.appendChild(style);
    root.appendChild(el("section", { "aria-labelledby": "mb-title" }, [title, list, more, moreNote, status]));
    title.id = "mb-title";

    var key = opts.thread || "";
    var next = null;
    var uid = 0;

    function field(label, input) {
      var id = "mb-" + (++uid);
      input.id = id;
      return el("label", { for: id }, [document.createTextNode(label), input]);
    }
    var nameIn = el("input", { name: "author", dir: "auto", autocomplete: "name", required: "", maxlength: "80" });
    var mailIn = el("input", { name: "email", type: "email", autocomplete: "email", required: "", maxlength: "254" });
    var bodyIn = el("textarea", { name: "body", dir: "auto", required: "", maxlength: "20000" });
    var notifyIn = el("select", { name: "notify" }, [
      el("option", { value: "none", text: "No emails" }),
      el("option", { value: "replies", text: "Email me replies to my comment" }),
      el("option", { value: "thread", text: "Email me every new comment here" })
    ]);
    notifyIn.value = "replies";
    /* The honeypot (sent as "website"): a name no autofill or password manager fills in,
       and their "ignore me" marks; a filled one sends the comment to the spam folder. */
    var trap = el("input", { name: "mb-leave-empty", tabindex: "-1", autocomplete: "off",
      "data-1p-ignore": "", "data-lpignore": "true", "data-bwignore": "", "data-form-type": "other" });
    var send = el("button", { type: "submit", class: "send", text: "Post comment" });
    var cancel = el("button", { type: "button", class: "cancel", text: "Cancel reply" });
    cancel.hidden = true;
    var formTitle = el("h3", { text: "Leave a comment" });
    /* The form's own live region, inside it: a reply's form sits under its comment,
       screens below the comments' status on a phone, where a refusal went unseen. */
    var note = el("div", { class: "status", role: "status", "aria-live": "polite", id: "mb-note", tabindex: "-1" });
    var form = el("form", { novalidate: "" }, [
      formTitle,
      el("div", { class: "row" }, [field("Name (shown)", nameIn), field("Email (never shown)", mailIn)]),
      field("Comment", bodyIn),
      field("Emails", notifyIn),
      /* hidden as well as off-screen: without our CSS a person would see it, fill it in
         and have their comment discarded as a robot's. */
      el("div", { class: "trap", "aria-hidden": "true", hidden: "" }, [field("Leave this empty", trap)]),
      el("div", { class: "row" }, [send, cancel]),
      note
    ]);
    var parent = null;
    var closed = false;
    /* When the reader started writing: a form sent under two seconds later is a robot's.
       performance.now(), not Date.now(): the phone's clock set back (a time sync) made
       "elapsed" negative, and the comment was refused. */
    var opened = null;
    /* The server's own word on when the reader started writing (a signed token), sent
       back with the comment: "elapsed" alone is a number any robot can claim. Asked for
       (never from a cache) at the form's first focus, not on every page view: most
       readers never write, and each ask is a request to the daemon; again when the
       reader starts writing in a tab left open for a day (it expires after two). */
    var formToken = null;
    var formAt = 0;
    var asking = false;
    function askForm() {
      if (asking || !key) return;
      asking = true;
      json("/api/threads/" + encodeURIComponent(key) + "/form", { method: "POST" }).then(function (r) {
        asking = false;
        if (r.status === 200 && typeof r.body.form === "string") { formToken = r.body.form; formAt = Date.now(); }
      }, function () { asking = false; /* sent without: a weak signal, never a refusal */ });
    }
    form.addEventListener("focusin", function () {
      if (opened === null) opened = performance.now();
      if (!formToken || Date.now() - formAt > 86400000) askForm();
    });
    /* The form comes first: keyboard users reach it without tabbing past every Reply. */
    var home = el("div");
    root.querySelector("section").insertBefore(home, list);
    home.appendChild(form);
    root.querySelector("section").insertBefore(status, list);

    function say(text, isError, where) {
      where = where || status;
      where.className = "status" + (isError ? " error" : "");
      where.textContent = text;
    }
    var inputs = { author: nameIn, email: mailIn, body: bodyIn };
    /* The field at fault (the server's "field", or an empty one) is marked, described by
       the note and focused; the others are cleared of an earlier mark. */
    function blame(input) {
      Object.keys(inputs).forEach(function (k) {
        inputs[k].removeAttribute("aria-invalid");
        inputs[k].removeAttribute("aria-describedby");
      });
      if (!input) return;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.focus();
    }

    /* One formatter for all dates: toLocaleDateString builds a new one on every call. */
    var dates = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
    function when(iso) {
      var d = new Date(iso);
      return isNaN(d) ? iso : dates.format(d);
    }

    function item(c) {
      var reply = closed ? null : el("button", { type: "button", class: "reply", text: "Reply", "aria-label": "Reply to " + c.author });
      var art = el("article", { id: "comment-" + c.id, "aria-label": "Comment by " + c.author }, [
        el("div", { class: "meta" }, [
          el("span", { class: "author", dir: "auto", text: c.author }), el("span", { class: "sep", text: " · " }),
          el("time", { datetime: c.created, text: when(c.created) })
        ]),
        /* dir="auto": a Hebrew or Arabic comment (or name) reads right to left on a
           left-to-right page, and a name never pulls the date beside it into its run. */
        c.html ? el("div", { class: "body", dir: "auto", html: c.html }) : el("div", { class: "body plain", dir: "auto", text: c.body }),
        reply
      ]);
      if (reply) reply.addEventListener("click", function () { replyTo(c, art); });
      var li = el("li", {}, [art]);
      if (c.replies && c.replies.length) {
        var sub = el("ol");
        c.replies.forEach(function (r) { sub.appendChild(item(r)); });
        li.appendChild(sub);
      }
      return li;
    }

    function replyTo(c, art) {
      parent = c.id;
      formTitle.textContent = "Reply to " + c.author;
      cancel.hidden = false;
      art.appendChild(form);
      bodyIn.focus();
    }
    cancel.addEventListener("click", function () {
      parent = null;
      formTitle.textContent = "Leave a comment";
      cancel.hidden = true;
      home.appendChild(form);
      bodyIn.focus();
    });

    function json(path, init) {
      return fetch(api + path, Object.assign({ credentials: "omit", mode: "cors" }, init || {})).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
      }, function () {
        /* A refused preflight looks like a network error to scripts. */
        throw new Error("Comments are not available here: the server cannot be reached or does not serve this site.");
      });
    }

    /* The canonical address when it is on this page's origin: mailbridge takes only a
       page of the site that asks (one on "www." or another scheme was refused, and the
       post had no comments). The key comes from the path: the same thread either way. */
    function page() {
      var link = document.querySelector('link[rel="canonical"]');
      var canonical = null;
      try { canonical = link && link.href ? new URL(link.href, location.href) : null; } catch (e) { canonical = null; }
      var here = canonical && canonical.origin === location.origin ? canonical.origin + canonical.pathname :
        location.origin + location.pathname;
      return { url: here, title: opts.title || document.title };
    }

    function ensureThread() {
      var p = page();
      var ask = { url: p.url, title: p.title };
      if (key) ask.key = key;
      return json("/api/threads", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(ask) })
        .then(function (r) {
          if (r.status >= 400) throw new Error(r.body.error || "Comments are not available on this page.");
          key = r.body.key;
        });
    }

    function load(path) {
      return json(path).then(function (r) {
        if (r.status === 404 && !next) return ensureThread().then(function () { return load(threadPath()); });
        if (r.status >= 400) throw new Error(r.body.error || "Comments could not be loaded.");
        var d = r.body;
        if (d.thread && d.thread.closed && !closed) {
          /* Said before anyone writes: the form would take a whole comment, then refuse it. */
          closed = true;
          home.replaceChildren(el("p", { text: "This conversation is closed to new comments." }));
        }
        if (!next) title.textContent = d.total === 1 ? "1 comment" : d.total + " comments";
        var batch = document.createDocumentFragment();
        d.comments.forEach(function (c) { batch.appendChild(item(c)); });
        list.appendChild(batch);
        next = d.next;
        more.hidden = !next;
      });
    }
    function threadPath() { return "/api/threads/" + encodeURIComponent(key) + "/comments"; }

    /* One page at a time: a double tap on "Show more" asked for the same page twice and
       showed its comments twice. */
    var pending = null;
    function loadNext(extra) {
      if (!pending) {
        more.disabled = true;
        pending = load(next + (extra || "")).then(function () { pending = null; more.disabled = false; },
          function (e) { pending = null; more.disabled = false; throw e; });
      }
      return pending;
    }
    more.addEventListener("click", function () {
      say("", false, moreNote);
      var before = list.querySelectorAll("article").length;
      loadNext().then(function () {
        /* Said for screen readers too: the new comments come above the button, where
           nothing announced them. */
        var shown = list.querySelectorAll("article").length - before;
        say(shown === 1 ? "1 more comment shown above." : shown + " more comments shown above.", false, moreNote);
      }, function (e) { say(e && e.message ? e.message : "More comments could not be loaded.", true, moreNote); });
    });
    function fail(e) { say(e && e.message ? e.message : "Comments are not available right now.", true); }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var missing = [nameIn, mailIn, bodyIn].filter(function (i) { return !i.value.trim(); })[0];
      if (missing) { say("Please fill in your " + missing.name.replace("author", "name").replace("body", "comment") + ".", true, note); blame(missing); return; }
      send.disabled = true;
      blame(null);
      say("Sending your comment…", false, note);
      var wants = notifyIn.value;
      var payload = { author: nameIn.value, email: mailIn.value, body: bodyIn.value, parent: parent, notify: wants, website: trap.value,
        elapsed: opened === null ? 0 : Math.max(0, Math.min(86400, (performance.now() - opened) / 1000)) };
      if (formToken) payload.form = formToken;
      json(threadPath(), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) })
        .then(function (r) {
          send.disabled = false;
          if (r.status !== 202) {
            say(r.body.error || "Your comment could not be sent; please try again.", true, note);
            blame(inputs[r.body.field] || null);
            return;
          }
          bodyIn.value = "";
          /* A comment held as spam ("spam", or no id: the hidden field was filled) sends
             no confirmation email until the author rescues it: promise none. */
          var held = r.body.status === "spam" || r.body.id === null;
          say((r.body.status === "approved" ? "Thank you! Your comment is published; reload the page to see it." :
            "Thank you! Your comment was received and will appear once the author approves it.") +
            (wants === "none" || held ? "" : " We sent you an email: confirm your address there to get emails when someone replies."), false, note);
          note.focus();
        }, function () { send.disabled = false; say("Your comment could not be sent (no connection?); please try again.", true, note); });
    });

    /* A link to one comment (post#comment-123, as notification emails give) cannot reach
       into this shadow root, and in a big thread the comment may lie pages further on:
       ask for the comments through it, then bring it into view. */
    function linked() {
      var m = /^#comment-(\d{1,18})$/.exec(location.hash);
      return m ? m[1] : null;
    }
    function show(id) {
      var node = root.getElementById ? root.getElementById("comment-" + id) : document.getElementById("comment-" + id);
      if (!node) return false;
      var old = root.querySelector("article.linked");
      if (old) old.classList.remove("linked");
      node.classList.add("linked");
      node.setAttribute("tabindex", "-1");
      node.scrollIntoView({ block: "start" });
      node.focus({ preventScroll: true });
      return true;
    }
    function first() {
      var id = linked();
      if (!id) return load(threadPath());
      /* An id that is not a published comment of this thread (any longer): the first page. */
      return load(threadPath() + "?through=" + id).then(function () { show(id); },
        function () { return load(threadPath()); });
    }
    window.addEventListener("hashchange", function () {
      var id = linked();
      if (!id) return;
      (pending || Promise.resolve()).then(function () {
        if (show(id) || !next) return;
        return loadNext("&through=" + id).then(function () { show(id); });
      }).catch(function () {});
    });

    (key ? first() : ensureThread().then(first)).catch(fail);
  }
})();
