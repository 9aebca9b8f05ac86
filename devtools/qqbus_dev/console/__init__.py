"""The dev console: ``make dev``'s face at ``http://127.0.0.1:3000/``.

- ``sandbox``: virtual users and groups chat with the bot; their messages and notices become the
  platforms' own payloads (``payloads``), signed and posted to the real ingress.
- ``app``: the console of a running stack: the trace of every event (with the handlers' log
  lines and the group row before and after), the state tables (``tables``), the failure queues
  and replay (``queues``), a live ``feed`` for the page.
- ``routes``: the page, its JSON API and its Server-Sent Events, in the stack's HTTP server.
- ``static/``: HTML, CSS and one plain script; no build step, nothing loaded from elsewhere.
"""
