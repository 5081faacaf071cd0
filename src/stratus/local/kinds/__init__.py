"""The local provider's registry of resource kinds: one module per kind, named after it.

``stratus.local.kinds.<kind>`` (the kind as the graph names it: ``table``, ``user_pool``, ...)
defines ``KIND``, a ``LocalKind``: how a declared resource of the kind is built on the local
engines, what a handler that uses it gets (``port``), what the endpoints document says of it
(``facts``), and its figures for ``stratus stats``. The runtime asks this registry and nothing
else: it holds no list of kinds and no chain of ``isinstance`` checks, and a kind without a
module here stops ``stratus up`` with ``UnsupportedFeature`` naming it.

A kind's ``build`` asks the app for the engines of the resources it depends on
(``app.engine(declared.user_pool)``), so engines are built in the order their dependencies
demand, whatever order the app declared them in.
"""
