"""The comment widget for any site: one script tag served by mailbridge itself.

``pages`` holds the pure rules for which page may create which thread;
``handlers`` the HTTP side (``/embed.js``, ``/count.js``, ``POST /api/threads``,
``GET /api/counts``); ``static/`` the scripts, hand-written, no build step.
See docs/embed.md.
"""
