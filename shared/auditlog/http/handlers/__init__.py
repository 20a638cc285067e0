"""Handlers by area. Each decodes what its route declared (``call.args``, ``call.body``), calls
one service, notes what the audit record should say, and maps the result to an answer. None checks
a role: the app did, from the route's declaration."""
