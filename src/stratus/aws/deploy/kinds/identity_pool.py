"""Identity pools on AWS: a Cognito identity pool trusting the user pool's clients (no unauthenticated
identities), its authenticated role holding the declared policy with bucket placeholders resolved and
``${cognito-identity.amazonaws.com:sub}`` kept."""

from __future__ import annotations

from typing import Any

from ....errors import ConfigError, UnsupportedFeature
from ....graph import App, IdentityPool, bucket_placeholder, placeholder_names
from ..synth import StackBuilder, SynthKind

COGNITO_CREDENTIAL_TTL = 3600  # identity pool credentials from the enhanced flow; fixed by Cognito


class IdentityPoolKind(SynthKind[IdentityPool]):
    def check(self, decl: IdentityPool, app: App) -> None:
        if decl.credential_ttl != COGNITO_CREDENTIAL_TTL:
            raise UnsupportedFeature(f"identity pool {decl.name!r}: credential_ttl={decl.credential_ttl}; Cognito's "
                                     f"GetCredentialsForIdentity always issues {COGNITO_CREDENTIAL_TTL} s credentials")

    def build(self, b: StackBuilder, decl: IdentityPool) -> Any:
        c, iam = b.cognito, b.iam
        users = b.construct(decl.user_pool)
        identity = c.CfnIdentityPool(
            b.stack, b.id(decl), identity_pool_name=f"{b.graph.name}_{decl.name}".replace("-", "_"),
            allow_unauthenticated_identities=False,
            cognito_identity_providers=[
                c.CfnIdentityPool.CognitoIdentityProviderProperty(client_id=client.user_pool_client_id,
                                                                  provider_name=users.pool.user_pool_provider_name,
                                                                  server_side_token_check=True)
                for client in users.clients.values()])
        principal = iam.FederatedPrincipal(
            "cognito-identity.amazonaws.com",
            {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity.ref},
             "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
            "sts:AssumeRoleWithWebIdentity")
        policy = iam.PolicyDocument.from_json(_resolve(b, decl.authenticated_policy))
        role = iam.Role(b.stack, f"{b.id(decl)}-authenticated", assumed_by=principal,
                        description=f"{decl.name}: what a signed-in user may do with their credentials",
                        inline_policies={"declared": policy})
        c.CfnIdentityPoolRoleAttachment(b.stack, f"{b.id(decl)}-roles", identity_pool_id=identity.ref,
                                        roles={"authenticated": role.role_arn})
        return identity

    def facts(self, b: StackBuilder, decl: IdentityPool, built: Any) -> Any:
        return built.ref


def _resolve(b: StackBuilder, doc: Any) -> Any:
    """``doc`` with each bucket placeholder replaced by the real bucket's name."""
    if isinstance(doc, dict):
        return {k: _resolve(b, v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_resolve(b, v) for v in doc]
    if isinstance(doc, str) and "<<bucket:" in doc:
        for name in placeholder_names(doc):
            bucket = b.graph.resource("bucket", name)
            if bucket is None:
                raise ConfigError(f"app {b.graph.name!r}: policy names a bucket the app does not declare: {doc}")
            doc = doc.replace(bucket_placeholder(name), b.construct(bucket).bucket_name)
        if "<<bucket:" in doc:
            raise ConfigError(f"app {b.graph.name!r}: policy holds a malformed bucket placeholder: {doc}")
    return doc


KIND = IdentityPoolKind()
