"""Synthesis's registry of resource kinds: one module per kind, named after it.

``stratus.aws.deploy.kinds.<kind>`` defines ``KIND``, a ``SynthKind``: what AWS cannot honour
as declared (``check``, refused before anything is built), the constructs a declared resource
becomes (``build``), what the stack's endpoints output says of it (``facts``), and, for kinds
handlers use, what a function using it is given (``bind``: its name in the environment, its
ARN for the role, and anything the deployment shares, such as the DAX cluster and its VPC).
The builder (``synth.StackBuilder``) asks this registry, and each module speaks only to the builder
(``SynthKind`` and ``Binding`` are defined beside it); it knows no kind by name.
"""
