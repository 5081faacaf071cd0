"""User pools on AWS: a Cognito user pool (self sign-up, email as user name, code verification, the declared
password policy and token lifetimes) and one app client per declared client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ....errors import UnsupportedFeature
from ....graph import App, UserPool
from ..synth import StackBuilder, SynthKind

COGNITO_CODE_TTL = 24 * 3600  # sign-up and verification codes; fixed by Cognito


@dataclass
class BuiltPool:
    pool: Any                # aws_cognito.UserPool
    clients: dict[str, Any]  # declared client name -> aws_cognito.UserPoolClient


class UserPoolKind(SynthKind[UserPool]):
    def check(self, decl: UserPool, app: App) -> None:
        if decl.code_ttl != COGNITO_CODE_TTL:
            raise UnsupportedFeature(f"user pool {decl.name!r}: code_ttl={decl.code_ttl}; Cognito's confirmation codes "
                                     f"are valid for {COGNITO_CODE_TTL} s, which cannot be changed")

    def build(self, b: StackBuilder, decl: UserPool) -> BuiltPool:
        c, p = b.cognito, decl.password_policy
        seconds = b.cdk.Duration.seconds
        up = c.UserPool(
            b.stack, b.id(decl), user_pool_name=f"{b.graph.name}-{decl.name}",
            self_sign_up_enabled=True, sign_in_aliases=c.SignInAliases(email=True, username=False),
            auto_verify=c.AutoVerifiedAttrs(email=True),
            user_verification=c.UserVerificationConfig(email_style=c.VerificationEmailStyle.CODE),
            standard_attributes=c.StandardAttributes(email=c.StandardAttribute(required=True, mutable=True)),
            password_policy=c.PasswordPolicy(min_length=p.min_length, require_uppercase=p.require_uppercase,
                                             require_lowercase=p.require_lowercase, require_digits=p.require_digits,
                                             require_symbols=p.require_symbols),
            account_recovery=c.AccountRecovery.EMAIL_ONLY, removal_policy=b.cdk.RemovalPolicy.RETAIN)
        return BuiltPool(up, {
            name: up.add_client(
                f"client-{name}", user_pool_client_name=name, generate_secret=False, disable_o_auth=True,
                auth_flows=c.AuthFlow(user_password="user_password" in decl.auth_flows,
                                      user_srp="user_srp" in decl.auth_flows), prevent_user_existence_errors=True,
                enable_token_revocation=True, access_token_validity=seconds(decl.access_token_ttl),
                id_token_validity=seconds(decl.id_token_ttl), refresh_token_validity=seconds(decl.refresh_token_ttl))
            for name in decl.clients})

    def facts(self, b: StackBuilder, decl: UserPool, built: BuiltPool) -> Any:
        aws, pool_id = b.cdk.Aws, built.pool.user_pool_id
        return {"id": pool_id, "clients": {n: c.user_pool_client_id for n, c in built.clients.items()},
                "issuer": b.cdk.Fn.join("", ["https://cognito-idp.", aws.REGION, ".", aws.URL_SUFFIX, "/", pool_id])}


KIND = UserPoolKind()
