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
      /* A dark theme that does not declare color-scheme (most set only their colours)
         got the light accent: Reply and the links at 2.8:1 on its background. */
      ".on-dark{--_accent:var(--mb-accent-dark,var(--mb-accent,#6cb6ff))}" +
      "h2{font-size:1.25em;margin:0 0 .75em}h3{overflow-wrap:anywhere}ol{list-style:none;margin:0;padding:0}" +
      /* Each level indents at most 1.75rem and 5% of the screen's width: with 200% text
         on a 320 px phone, five levels of 1.75rem left a reply five deep 14 px wide, a
         letter a line. (Not container units: containment would collapse the widget in
         a host's shrink-to-fit box, a flex row's item.) */
      /* inline-start, not left: on a right-to-left blog (Hebrew, Arabic) the replies
         were indented, and their line drawn, on the side where their lines end. */
      /* Each border drawn in currentColor first, its colour given apart: a colour that
         cannot be computed (color-mix() before Safari 16.2, iOS 15; a site's bad
         --mb-border) made the whole shorthand invalid, and the fields had no edges. */
      "ol ol{margin-inline-start:1rem;padding-inline-start:.75rem;border-inline-start:2px solid;border-inline-start-color:var(--_border)}" +
      "ol ol{margin-inline-start:min(1rem,3vw);padding-inline-start:min(.75rem,2vw)}" +
      /* Safari before 15.4 (iOS 15) has no overflow-wrap:anywhere: a long link in a
         comment ran past a phone's edge. word-break:break-word does the same there. */
      "h3,.meta,.body{word-break:break-word}" +
      "article{margin:0 0 .25rem}.meta{font-size:.875em;overflow-wrap:anywhere}.meta time,.sep{color:var(--_muted)}.author{font-weight:600;display:inline;font-size:inherit;margin:0}" +
      ".body{overflow-wrap:anywhere}.body pre{overflow-x:auto;max-width:100%}.body p{margin:.25em 0 .5em}.body blockquote{margin:0 0 .5em;padding-inline-start:.75em;border-inline-start:3px solid;border-inline-start-color:var(--_border);color:var(--_muted)}" +
      "a{color:var(--_accent)}button{font:inherit;cursor:pointer;border-radius:var(--_radius)}" +
      ".reply{background:none;border:0;color:var(--_accent);padding:0;text-decoration:underline;text-align:start}" +
      /* 44 px each way for every thumb's target (Reply was 27 px tall on a blog's 16 px
         text, the fields 31): the lost space under each comment is taken from its margin,
         so the thread is no longer than it was. */
      "input,select,button{box-sizing:border-box;min-height:44px;min-width:44px}" +
      "form{display:grid;gap:.6rem;margin:1rem 0;padding:1rem;border:1px solid;border-color:var(--_border);border-radius:var(--_radius);background:var(--_bg)}" +
      /* A field's edge at half the text colour, not the 18% of the lines between
         comments: at 1.5:1 the form was faint boxes, hard to find (3:1 is the least). */
      "label{display:grid;gap:.2rem;font-size:.9em}input,textarea,select{font:inherit;color:inherit;background:var(--_bg);" +
      "border:1px solid;border-color:var(--mb-border,color-mix(in srgb,currentColor 50%,transparent));border-radius:var(--_radius);padding:.45em;min-width:0}" +
      "textarea{min-height:6em;resize:vertical}" +
      /* min(12rem,100%): with large text a 12rem column is wider than a phone, and the
         fields and the Post button ran off its edge. */
      ".row{display:grid;gap:.6rem;grid-template-columns:repeat(auto-fit,minmax(min(12rem,100%),1fr))}" +
      ".send{background:var(--_accent);color:#fff;border:0;padding:.6em 1.2em;justify-self:start}" +
      /* Black or white, whichever reads on the accent: white on the dark scheme's
         #6cb6ff (or a site's light accent) was 2.2:1. L 49.44 is where both read alike. */
      "@supports (color:lch(from red l c h)){.send{color:lch(from var(--_accent) calc((49.44 - l) * infinity) 0 0)}}" +
      ".cancel{background:none;border:1px solid;border-color:var(--_border);color:inherit;padding:.5em 1em;justify-self:start}" +
      ".trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}.plain{white-space:pre-wrap}" +
      ".status:not(:empty){padding:.6em .8em;border-radius:var(--_radius);border:1px solid;border-color:var(--_border)}" +
      "article.linked{outline:2px solid var(--_accent);outline-offset:4px;border-radius:var(--_radius);scroll-margin-top:1rem}" +
      ".status.error{border-color:#d1242f}.more{margin:.5rem 0}.more[aria-disabled]{opacity:.6;cursor:progress}:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}";

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
    var section = el("section", { "aria-labelledby": "mb-title" }, [title, list, more, moreNote, status]);
    root.appendChild(section);
    title.id = "mb-title";
    /* Light text means a dark background, declared or not: the dark accent. Asked again
       when the reader's scheme changes (a theme that follows it). */
    function shade() {
      /* Read back through a canvas pixel: a page's text may be oklch() or color(). */
      var paint = document.createElement("canvas").getContext("2d");
      if (!paint) return;
      paint.fillStyle = getComputedStyle(host).color;
      paint.fillRect(0, 0, 1, 1);
      var c = paint.getImageData(0, 0, 1, 1).data;
      section.classList.toggle("on-dark", 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] > 140);
    }
    shade();
    /* addListener where MediaQueryList is no EventTarget (Safari before 14, iOS 13):
       addEventListener threw there, and the widget showed nothing at all. */
    var scheme = window.matchMedia ? matchMedia("(prefers-color-scheme: dark)") : null;
    if (scheme && scheme.addEventListener) scheme.addEventListener("change", shade);
    else if (scheme && scheme.addListener) scheme.addListener(shade);

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

    /* The page's language, else the site's (site.language, with the thread): a page
       without lang had its comments read in the reader's default voice, and dates in
       the browser's language, not the site's. */
    function pageLang() {
      var owner = host.closest("[lang]");
      return owner ? owner.getAttribute("lang") : "";
    }
    /* One formatter for all dates: toLocaleDateString builds a new one on every call. */
    var dates = null;
    function when(iso) {
      var d = new Date(iso);
      if (isNaN(d)) return iso;
      if (!dates) {
        var shape = { year: "numeric", month: "short", day: "numeric" };
        /* The reader's own locale when it is of the page's language (en-GB's "7 Dec" on
           an English page), else the page's: a German date read in an English voice. */
        var lang = section.lang || pageLang();
        var reader = navigator.language || "";
        var same = !lang || reader.split("-")[0].toLowerCase() === lang.split("-")[0].toLowerCase();
        try { dates = new Intl.DateTimeFormat((same ? reader : lang) || undefined, shape); }
        catch (e) { dates = new Intl.DateTimeFormat(undefined, shape); /* a lang no browser knows */ }
      }
      return dates.format(d);
    }

    /* Each comment an article named by who wrote it (and, for a reply, whom it
       answers), the name its heading, one level deeper for each level of replies (h3
       under the h2 "N comments", h6 at most): a screen reader jumps from comment to
       comment by heading or article, and hears how deep a reply sits. Before, the
       comments were one unbroken run of text and Reply buttons. */
    function item(c, depth, answers) {
      depth = depth || 0;
      var reply = closed ? null : el("button", { type: "button", class: "reply", text: "Reply", "aria-label": "Reply to " + c.author });
      var named = answers ? "Reply by " + c.author + " to " + answers : "Comment by " + c.author;
      var art = el("article", { id: "comment-" + c.id, "aria-label": named }, [
        el("div", { class: "meta" }, [
          el("h" + Math.min(3 + depth, 6), { class: "author", dir: "auto", text: c.author }), el("span", { class: "sep", "aria-hidden": "true", text: " · " }),
          el("time", { datetime: c.created, text: when(c.created) })
        ]),
        /* dir="auto": a Hebrew or Arabic comment (or name) reads right to left on a
           left-to-right page, and a name never pulls the date beside it into its run. */
        c.html ? el("div", { class: "body", dir: "auto", html: c.html }) : el("div", { class: "body plain", dir: "auto", text: c.body }),
        reply
      ]);
      if (reply) reply.addEventListener("click", function () { replyTo(c, art, reply); });
      var li = el("li", {}, [art]);
      if (c.replies && c.replies.length) {
        var sub = el("ol");
        c.replies.forEach(function (r) { sub.appendChild(item(r, depth + 1, c.author)); });
        li.appendChild(sub);
      }
      return li;
    }

    var replied = null; /* the Reply button the form was opened from */
    function replyTo(c, art, button) {
      parent = c.id;
      replied = button;
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
      /* Back to the Reply pressed, where the reader was: focusing the form at the top
         scrolled a phone screens up from the comment they were reading. */
      if (replied && replied.isConnected) replied.focus(); else bodyIn.focus();
      replied = null;
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
        if (d.thread && d.thread.language && !pageLang()) section.lang = d.thread.language;
        if (d.thread && d.thread.closed && !closed) {
          /* Said before anyone writes: the form would take a whole comment, then refuse it. */
          closed = true;
          /* Not replaceChildren (Safari 14): on an older iPhone it threw, and a closed
             thread showed an error instead of its comments. */
          home.textContent = "";
          home.appendChild(el("p", { text: "This conversation is closed to new comments." }));
        }
        if (!next) title.textContent = d.total === 1 ? "1 comment" : d.total + " comments";
        var batch = document.createDocumentFragment();
        d.comments.forEach(function (c) { batch.appendChild(item(c, 0, null)); });
        list.appendChild(batch);
        next = d.next;
        more.hidden = !next;
      });
    }
    function threadPath() { return "/api/threads/" + encodeURIComponent(key) + "/comments"; }

    /* One page at a time: a double tap on "Show more" asked for the same page twice and
       showed its comments twice. */
    var pending = null;
    /* aria-disabled, not disabled: a disabled button loses the keyboard's focus to the
       page's start, and the next Enter did nothing (the guard is "pending"). */
    function loadNext(extra) {
      if (!pending) {
        more.setAttribute("aria-disabled", "true");
        pending = load(next + (extra || "")).then(function () { pending = null; more.removeAttribute("aria-disabled"); },
          function (e) { pending = null; more.removeAttribute("aria-disabled"); throw e; });
      }
      return pending;
    }
    more.addEventListener("click", function () {
      say("", false, moreNote);
      var before = list.querySelectorAll("article").length;
      var focused = (root.activeElement || document.activeElement) === more;
      loadNext().then(function () {
        /* Said for screen readers too: the new comments come above the button, where
           nothing announced them. */
        var all = list.querySelectorAll("article");
        var shown = all.length - before;
        say(shown === 1 ? "1 more comment shown above." : shown + " more comments shown above.", false, moreNote);
        /* The last page hides the button: the focus goes to the first comment it
           brought, not to the page's start. */
        if (focused && more.hidden && all[before]) {
          all[before].setAttribute("tabindex", "-1");
          all[before].focus();
        }
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
            /* No field at fault (too many comments, the server busy): the message takes
               the focus, which the disabled Post button had lost to the page's start. */
            if (!inputs[r.body.field]) note.focus();
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
        }, function () {
          send.disabled = false;
          say("Your comment could not be sent (no connection?); please try again.", true, note);
          note.focus();
        });
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
