"""Cognito user pools: the domain (``model``), its JWTs (``tokens``) and the AWS JSON wire (``wire``)."""
