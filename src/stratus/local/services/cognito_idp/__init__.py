"""Cognito user pools: the domain (``model``: accounts, sign-ins and their challenges, the operator's operations,
OAuth codes), its arithmetic (``srp``, ``totp``), its JWTs (``tokens``), the AWS JSON wire (``wire``) and the hosted
sign-in's pages and OAuth 2.0 endpoints (``hosted``)."""
