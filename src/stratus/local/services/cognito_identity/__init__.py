"""Cognito identity pools: the domain (``model``: identities, temporary credentials) and the AWS JSON wire."""
