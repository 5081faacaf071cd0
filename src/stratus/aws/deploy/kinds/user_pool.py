"""User pools on AWS: a Cognito user pool (self sign-up, email as user name, code verification, the declared
password policy, token lifetimes, groups and TOTP MFA), one app client per declared client, and when declared
a Cognito domain for the hosted sign-in, resource servers and machine clients (with a secret, for the
client_credentials grant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....errors import UnsupportedFeature
from ....graph import App, UserPool
from ....graph.auth import USER_SCOPE
from ..synth import StackBuilder, SynthKind

COGNITO_CODE_TTL = 24 * 3600  # sign-up and verification codes; fixed by Cognito
MFA = {"optional": "OPTIONAL", "required": "REQUIRED"}  # as declared: the CDK's Mfa member
OAUTH_SCOPES = {"openid": "OPENID", "email": "EMAIL", "profile": "PROFILE", "phone": "PHONE",
                   USER_SCOPE: "COGNITO_ADMIN"}  # as declared: the CDK's OAuthScope member


@dataclass
class BuiltPool:
    pool: Any                # aws_cognito.UserPool
    clients: dict[str, Any]  # declared client name -> aws_cognito.UserPoolClient
    machine_clients: dict[str, Any] = field(default_factory=dict)  # declared name -> aws_cognito.UserPoolClient


class UserPoolKind(SynthKind[UserPool]):
    def check(self, decl: UserPool, app: App) -> None:
        if decl.code_ttl != COGNITO_CODE_TTL:
            raise UnsupportedFeature(f"user pool {decl.name!r}: code_ttl={decl.code_ttl}; Cognito's confirmation codes "
                                     f"are valid for {COGNITO_CODE_TTL} s, which cannot be changed")

    def build(self, b: StackBuilder, decl: UserPool) -> BuiltPool:
        c, p = b.cognito, decl.password_policy
        seconds = b.cdk.Duration.seconds
        mfa: dict[str, Any] = {}
        if decl.mfa in MFA:  # TOTP authenticator apps only: no SMS (and so no SMS role)
            mfa = {"mfa": getattr(c.Mfa, MFA[decl.mfa]), "mfa_second_factor": c.MfaSecondFactor(otp=True, sms=False)}
        up = c.UserPool(
            b.stack, b.id(decl), user_pool_name=f"{b.graph.name}-{decl.name}",
            self_sign_up_enabled=True, sign_in_aliases=c.SignInAliases(email=True, username=False),
            auto_verify=c.AutoVerifiedAttrs(email=True),
            user_verification=c.UserVerificationConfig(email_style=c.VerificationEmailStyle.CODE),
            standard_attributes=c.StandardAttributes(email=c.StandardAttribute(required=True, mutable=True)),
            password_policy=c.PasswordPolicy(min_length=p.min_length, require_uppercase=p.require_uppercase,
                                             require_lowercase=p.require_lowercase, require_digits=p.require_digits,
                                             require_symbols=p.require_symbols),
            keep_original=c.KeepOriginalAttrs(email=True),  # a changed email counts once verified, as locally
            account_recovery=c.AccountRecovery.EMAIL_ONLY, removal_policy=b.cdk.RemovalPolicy.RETAIN, **mfa)
        for group in decl.groups:  # under the pool, as its clients are: logical ids with a hash, distinct
            c.CfnUserPoolGroup(up, f"group-{group}", user_pool_id=up.user_pool_id, group_name=group)
        # each resource server's scopes as the CDK's OAuthScope, by "<server>/<scope>"
        custom: dict[str, Any] = {}
        for server, names in decl.resource_servers.items():
            scopes = {n: c.ResourceServerScope(scope_name=n, scope_description=f"{server}/{n}") for n in names}
            built = up.add_resource_server(f"server-{server}", identifier=server, scopes=list(scopes.values()))
            custom.update({f"{server}/{n}": c.OAuthScope.resource_server(built, s) for n, s in scopes.items()})

        def oauth_scope(scope: str) -> Any:
            return getattr(c.OAuthScope, OAUTH_SCOPES[scope]) if scope in OAUTH_SCOPES else custom[scope]

        def client(name: str, **how: Any) -> Any:
            return up.add_client(
                f"client-{name}", user_pool_client_name=name, prevent_user_existence_errors=True,
                enable_token_revocation=True, access_token_validity=seconds(decl.access_token_ttl),
                id_token_validity=seconds(decl.id_token_ttl), refresh_token_validity=seconds(decl.refresh_token_ttl),
                **how)

        hosted = decl.hosted
        oauth: dict[str, Any] = {"disable_o_auth": True}
        if hosted is not None:
            up.add_domain("domain", cognito_domain=c.CognitoDomainOptions(domain_prefix=hosted.domain))
            oauth = {"disable_o_auth": False, "supported_identity_providers": [c.UserPoolClientIdentityProvider.COGNITO],
                     "o_auth": c.OAuthSettings(flows=c.OAuthFlows(authorization_code_grant=True),
                                               callback_urls=list(hosted.callback_urls),
                                               logout_urls=list(hosted.logout_urls),
                                               scopes=[oauth_scope(s) for s in hosted.scopes])}
        clients = {name: client(name, generate_secret=False,
                                auth_flows=c.AuthFlow(user_password="user_password" in decl.auth_flows,
                                                      user_srp="user_srp" in decl.auth_flows), **oauth)
                   for name in decl.clients}
        # no sign-in flow: the CDK then allows refreshing only, which client_credentials never needs
        machines = {name: client(name, generate_secret=True, auth_flows=c.AuthFlow(user_password=False, user_srp=False),
                                 disable_o_auth=False,
                                 supported_identity_providers=[c.UserPoolClientIdentityProvider.COGNITO],
                                 o_auth=c.OAuthSettings(flows=c.OAuthFlows(client_credentials=True),
                                                        scopes=[custom[s] for s in wanted]))
                    for name, wanted in decl.machine_clients.items()}
        return BuiltPool(up, clients, machines)

    def facts(self, b: StackBuilder, decl: UserPool, built: BuiltPool) -> Any:
        aws, join, pool_id = b.cdk.Aws, b.cdk.Fn.join, built.pool.user_pool_id
        out = {"id": pool_id, "clients": {n: c.user_pool_client_id for n, c in built.clients.items()},
               "issuer": join("", ["https://cognito-idp.", aws.REGION, ".", aws.URL_SUFFIX, "/", pool_id])}
        if built.machine_clients:
            out["machine_clients"] = {n: c.user_pool_client_id for n, c in built.machine_clients.items()}
        if decl.hosted is not None:
            out["domain"] = join("", ["https://", decl.hosted.domain, ".auth.", aws.REGION, ".amazoncognito.com"])
        return out


KIND = UserPoolKind()
