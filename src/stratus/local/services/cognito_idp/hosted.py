"""A user pool's hosted sign-in (its Cognito domain): OAuth 2.0 and OpenID Connect over the pool, with pages.

Served below the pool's domain URL (locally ``<endpoint>/<pool id>``), as Cognito serves a domain:

    GET  /oauth2/authorize   the authorization code grant (``response_type=code``), with PKCE (S256); the
                             client's registered ``redirect_uri`` only: any other is refused on a page of
                             its own, never redirected to
    GET  /login, POST        the sign-in page; then the pages of a sign-in's challenges (a new password,
                             the authenticator's code, setting one up)
    GET  /signup, POST       the sign-up page; POST /confirm takes the mailed code
    POST /oauth2/token       ``authorization_code``, ``refresh_token``, ``client_credentials``
    GET  /oauth2/userInfo    the signed-in user's claims (POST too)
    POST /oauth2/revoke      a refresh token revoked
    GET  /logout             back to a registered ``logout_uri``

Pages post forms to themselves with a double-submit token (the ``XSRF-TOKEN`` cookie and the ``_csrf``
field), and are framed by nobody. The token endpoint, userInfo and revoke answer cross-origin requests (a
single-page app redeems its code with ``fetch``), as Cognito's do. Password checks are slow by design, so every
call into the pool runs on the pool's thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import html
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlencode

import orjson

from ....errors import NotFound, PayloadTooLarge, ServiceError
from ...infra.asgi import Receive, Scope, Send, header, read_body, send_response
from . import totp
from .model import AuthCode, Authorization, Challenge, SignedIn, Tokens, UserPoolService

FORM_LIMIT = 64 * 1024
T = TypeVar("T")
_CORS = {"access-control-allow-origin": "*", "access-control-allow-methods": "GET, POST, OPTIONS",
         "access-control-allow-headers": "authorization, content-type", "access-control-max-age": "3600"}
_PAGE_HEADERS = {"cache-control": "no-store", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
                 "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                 "x-content-type-options": "nosniff"}
_PKCE = re.compile(r"[A-Za-z0-9_-]{43}\Z")  # a base64url SHA-256, as S256 makes it


class _Page(Exception):
    """A request that cannot be sent back to the client: answered with a page naming the problem."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class _Back(Exception):
    """An OAuth error to send back to the client's redirect URI (its registration was checked)."""

    def __init__(self, auth: Authorization, error: str, description: str) -> None:
        super().__init__(description)
        self.auth, self.error, self.description = auth, error, description


class HostedSignIn:
    """The hosted sign-in of one pool, as an ASGI app for the paths below its domain URL."""

    def __init__(self, pool: UserPoolService, executor: Executor) -> None:
        assert pool.decl.hosted is not None
        self.pool, self.executor, self.hosted = pool, executor, pool.decl.hosted
        self.base = f"/{pool.pool_id}"
        self.routes: dict[tuple[str, str], Callable[..., Any]] = {
            ("GET", "/oauth2/authorize"): self._authorize, ("GET", "/login"): self._login_page,
            ("POST", "/login"): self._login, ("GET", "/signup"): self._signup_page, ("POST", "/signup"): self._signup,
            ("POST", "/confirm"): self._confirm, ("POST", "/challenge"): self._challenge,
            ("POST", "/oauth2/token"): self._token, ("GET", "/oauth2/userInfo"): self._user_info,
            ("POST", "/oauth2/userInfo"): self._user_info, ("POST", "/oauth2/revoke"): self._revoke,
            ("GET", "/logout"): self._logout,
        }

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"][len(self.base):], scope["method"]
        if method == "OPTIONS" and path in ("/oauth2/token", "/oauth2/userInfo", "/oauth2/revoke"):
            return await send_response(send, 204, b"", _CORS, "text/plain")
        handler = self.routes.get(("GET" if method == "HEAD" else method, path))
        if handler is None:
            if any(p == path for _, p in self.routes):
                return await send_response(send, 405, orjson.dumps({"error": "invalid_request",
                                                                    "error_description": "method not allowed"}))
            raise NotFound(f"nothing is served at {scope['path']}")
        try:
            query = _form(scope.get("query_string", b""))
            form = _form(await read_body(receive, FORM_LIMIT, header(scope, b"content-length"))) \
                if method == "POST" else {}
        except PayloadTooLarge:
            return await send_response(send, 413, b'{"error":"invalid_request"}')
        except ValueError:
            return await send_response(send, 400, b'{"error":"invalid_request","error_description":"bad form"}')
        try:
            status, body, headers, ctype = await handler(scope, query, form)
        except _Page as exc:
            status, body, headers, ctype = exc.status, _page("Sign-in error", f"<p class=error>{_e(exc.message)}</p>"), \
                dict(_PAGE_HEADERS), "text/html; charset=utf-8"
        except _Back as exc:
            status, body, ctype = 302, b"", "text/plain"
            headers = {"location": _with_query(exc.auth.redirect_uri, {
                "error": exc.error, "error_description": exc.description,
                **({"state": exc.auth.state} if exc.auth.state is not None else {})})}
        await send_response(send, status, body, headers, ctype)

    # -- the authorization request, checked as Cognito checks it

    def _authorization(self, query: dict[str, str]) -> Authorization:
        client_id, redirect = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.pool.clients.values():
            raise _Page("The client_id is not an app client of this user pool.")
        if redirect not in self.hosted.callback_urls:
            raise _Page("redirect_mismatch: the redirect_uri is not one of the client's callback URLs.")
        state = query.get("state")
        auth = Authorization(client_id, redirect, "", state)
        if query.get("response_type") != "code":
            raise _Back(auth, "unsupported_response_type", "only response_type=code is served")
        allowed = self.pool.oauth_scopes(client_id)
        asked = query.get("scope", "").split() or list(allowed)
        if any(s not in allowed for s in asked):
            raise _Back(auth, "invalid_scope", "a scope asked for is not allowed to this client")
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
        if challenge is not None and (method != "S256" or not _PKCE.match(challenge)):
            raise _Back(auth, "invalid_request", "code_challenge must be a S256 challenge (code_challenge_method=S256)")
        if challenge is None and method is not None:
            raise _Back(auth, "invalid_request", "code_challenge_method without a code_challenge")
        nonce = query.get("nonce")
        if nonce is not None and len(nonce) > 512 or state is not None and len(state) > 2048:
            raise _Back(auth, "invalid_request", "state or nonce is too long")
        return Authorization(client_id, redirect, " ".join(dict.fromkeys(asked)), state, challenge, nonce)

    async def _authorize(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        self._authorization(query)
        return 302, b"", {"location": f"{self.base}/login?{scope.get('query_string', b'').decode('latin-1')}"}, \
            "text/plain"

    # -- pages

    def _form_page(self, title: str, inner: str, csrf: str, *, status: int = 200) -> _Answer:
        headers = {**_PAGE_HEADERS, "set-cookie": f"XSRF-TOKEN={csrf}; Path={self.base}; Secure; HttpOnly; "
                   "SameSite=Lax"}
        return status, _page(title, inner.replace("{csrf}", _e(csrf))), headers, "text/html; charset=utf-8"

    def _sign_in_form(self, query: dict[str, str], csrf: str, message: str = "", *, status: int = 200) -> _Answer:
        return self._credentials_form("login", query, csrf, message, status)

    def _sign_up_form(self, query: dict[str, str], csrf: str, message: str = "", *, status: int = 200) -> _Answer:
        return self._credentials_form("signup", query, csrf, message, status)

    def _credentials_form(self, page: str, query: dict[str, str], csrf: str, message: str, status: int) -> _Answer:
        """The sign-in page (``login``) or the sign-up page (``signup``): an email and a password, and a link to
        the other."""
        title, autocomplete, other, ask, answer = _CREDENTIAL_PAGES[page]
        q = _e(urlencode(query))
        inner = (f"{_note(message)}<form method=post action='{self.base}/{page}?{q}'>{_CSRF}"
                 "<label>Email <input name=username type=email autocomplete=username required></label>"
                 f"<label>Password <input name=password type=password autocomplete={autocomplete} required></label>"
                 f"<button>{title}</button></form><p>{ask} <a href='{self.base}/{other}?{q}'>{answer}</a></p>")
        return self._form_page(title, inner, csrf, status=status)

    async def _login_page(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        self._authorization(query)
        return self._sign_in_form(query, secrets.token_urlsafe(24))

    async def _signup_page(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        self._authorization(query)
        return self._sign_up_form(query, secrets.token_urlsafe(24))

    def _confirm_form(self, query: dict[str, str], csrf: str, username: str, message: str = "",
                      *, status: int = 200) -> _Answer:
        inner = (f"{_note(message or 'We mailed you a code. Enter it to confirm your account.')}"
                 f"<form method=post action='{self.base}/confirm?{_e(urlencode(query))}'>{_CSRF}"
                 f"<input type=hidden name=username value='{_e(username)}'>"
                 "<label>Code <input name=code inputmode=numeric autocomplete=one-time-code required></label>"
                 "<button>Confirm</button></form>")
        return self._form_page("Confirm your account", inner, csrf, status=status)

    def _challenge_form(self, query: dict[str, str], csrf: str, c: Challenge, message: str = "",
                        *, status: int = 200) -> _Answer:
        fields = {"NEW_PASSWORD_REQUIRED": ("Choose a new password", "<label>New password <input name=password "
                                            "type=password autocomplete=new-password required></label>"),
                  "SOFTWARE_TOKEN_MFA": ("Enter your code", "<label>Code from your authenticator app <input "
                                         "name=code inputmode=numeric autocomplete=one-time-code required></label>"),
                  "MFA_SETUP": ("Set up an authenticator", "<p>Add this account to your authenticator app with the "
                                "key below, then enter the code it shows.</p>"
                                "<label>Code <input name=code inputmode=numeric autocomplete=one-time-code "
                                "required></label>")}
        title, body = fields[c.name]
        inner = (f"{_note(message)}<form method=post action='{self.base}/challenge?{_e(urlencode(query))}'>{_CSRF}"
                 f"<input type=hidden name=session value='{_e(c.session)}'>"
                 f"<input type=hidden name=challenge value='{_e(c.name)}'>"
                 f"<input type=hidden name=username value='{_e(c.parameters.get('USER_ID_FOR_SRP', ''))}'>"
                 f"{body}<button>Continue</button></form>")
        return self._form_page(title, inner, csrf, status=status)

    def _csrf(self, scope: Scope, form: dict[str, str]) -> str:
        """The form's double-submit token, checked against the cookie (a form posted from elsewhere lacks it)."""
        cookie = _cookies(header(scope, b"cookie") or "").get("XSRF-TOKEN", "")
        sent = form.get("_csrf", "")
        if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
            raise _Page("The form has expired or was not sent from this page; go back and try again.", 403)
        return cookie

    async def _setup_key(self, session: str, username: str) -> str:
        """The key (and its otpauth link) an MFA set-up shows: the one already shown while it is not verified."""
        secret, _ = await self._run(functools.partial(self.pool.associate_software_token, None, session,
                                                      hosted=True, keep=True))
        return f"Key: {secret} ({totp.uri(secret, username, f'{self.pool.app}-{self.pool.decl.name}')})"

    async def _finish(self, query: dict[str, str], csrf: str, result: SignedIn) -> _Answer:
        if isinstance(result, Challenge):
            shown = await self._setup_key(result.session, result.parameters.get("USER_ID_FOR_SRP", "")) \
                if result.name == "MFA_SETUP" else ""
            return self._challenge_form(query, csrf, result, shown)
        assert isinstance(result, AuthCode)
        back = {"code": result.code, **({"state": result.authorization.state}
                                        if result.authorization.state is not None else {})}
        return 302, b"", {"location": _with_query(result.authorization.redirect_uri, back),
                          "cache-control": "no-store"}, "text/plain"

    async def _login(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        auth = self._authorization(query)
        csrf = self._csrf(scope, form)
        username, password = form.get("username", ""), form.get("password", "")
        try:
            result = await self._run(self.pool.password_auth, auth.client_id, username, password, auth)
        except ServiceError as exc:
            if exc.code == "UserNotConfirmedException":
                return self._confirm_form(query, csrf, username, "Your account is not confirmed yet.")
            return self._sign_in_form(query, csrf, _said(exc), status=400)
        return await self._finish(query, csrf, result)

    async def _signup(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        auth = self._authorization(query)
        csrf = self._csrf(scope, form)
        username = form.get("username", "")
        try:
            await self._run(self.pool.sign_up, auth.client_id, username, form.get("password", ""), {})
        except ServiceError as exc:
            return self._sign_up_form(query, csrf, _said(exc), status=400)
        return self._confirm_form(query, csrf, username)

    async def _confirm(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        auth = self._authorization(query)
        csrf = self._csrf(scope, form)
        username = form.get("username", "")
        try:
            await self._run(self.pool.confirm_sign_up, auth.client_id, username, form.get("code", ""))
        except ServiceError as exc:
            return self._confirm_form(query, csrf, username, _said(exc), status=400)
        return self._sign_in_form(query, csrf, "Your account is confirmed. Sign in.")

    async def _challenge(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        auth = self._authorization(query)
        csrf = self._csrf(scope, form)
        session, name, username = form.get("session", ""), form.get("challenge", ""), form.get("username", "")
        pending = Challenge(name, session, {"USER_ID_FOR_SRP": username})
        pool, run = self.pool, self._run
        try:
            if name == "NEW_PASSWORD_REQUIRED":
                result: SignedIn = await run(functools.partial(pool.respond_new_password, auth.client_id, session,
                                                               username, form.get("password", ""), {}, hosted=True))
            elif name == "SOFTWARE_TOKEN_MFA":
                result = await run(functools.partial(pool.respond_mfa, auth.client_id, session, username,
                                                     form.get("code", ""), hosted=True))
            elif name == "MFA_SETUP":
                await run(functools.partial(pool.verify_software_token, None, session, form.get("code", ""),
                                            hosted=True))
                result = await run(functools.partial(pool.respond_mfa_setup, auth.client_id, session, username,
                                                     hosted=True))
            else:
                raise _Page("Unknown sign-in step.")
        except ServiceError as exc:
            if exc.code in ("CodeMismatchException", "EnableSoftwareTokenMFAException", "InvalidPasswordException",
                            "InvalidParameterException"):
                shown = await self._setup_key(session, username) if name == "MFA_SETUP" else ""
                return self._challenge_form(query, csrf, pending, " ".join(filter(None, (_said(exc), shown))),
                                            status=400)
            return self._sign_in_form(query, csrf, _said(exc), status=400)
        return await self._finish(query, csrf, result)

    # -- the token endpoint, userInfo, revoke, logout

    def _client_auth(self, scope: Scope, form: dict[str, str]) -> tuple[str, str | None]:
        """The client of a token request: HTTP Basic (id and secret, form-encoded as RFC 6749 says), or the form's
        ``client_id`` (and ``client_secret``)."""
        raw = header(scope, b"authorization") or ""
        if raw[:6].lower() == "basic ":
            try:
                cid, sep, secret = base64.b64decode(raw[6:].strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ServiceError("invalid_client", "the Basic authorization is malformed", 401) from None
            if not sep:
                raise ServiceError("invalid_client", "the Basic authorization is malformed", 401)
            return unquote(cid), unquote(secret)
        return form.get("client_id", ""), form.get("client_secret")

    async def _token(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        try:
            ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise ServiceError("invalid_request", "the body must be application/x-www-form-urlencoded")
            client_id, secret = self._client_auth(scope, form)
            grant = form.get("grant_type", "")
            out: dict[str, Any]
            if grant == "client_credentials":
                if client_id not in self.pool.machine_clients.values():
                    raise ServiceError("unauthorized_client" if client_id in self.pool.client_ids else
                                       "invalid_client", "this client may not use client_credentials",
                                       400 if client_id in self.pool.client_ids else 401)
                token, ttl = await self._run(self.pool.client_credentials, client_id, secret or "",
                                             form.get("scope", "").split() or None)
                out = {"access_token": token, "expires_in": ttl, "token_type": "Bearer"}
            elif grant in ("authorization_code", "refresh_token"):
                if client_id not in self.pool.clients.values():
                    raise ServiceError("invalid_client", "the client_id is not an app client of this pool", 401)
                if secret:
                    raise ServiceError("invalid_client", "this app client has no secret", 401)
                if grant == "authorization_code":
                    tokens = await self._run(self.pool.redeem_code, client_id, _needed(form, "code"),
                                             _needed(form, "redirect_uri"), form.get("code_verifier"))
                else:
                    try:
                        tokens = await self._run(self.pool.refresh_auth, client_id, _needed(form, "refresh_token"))
                    except ServiceError as exc:
                        raise ServiceError("invalid_grant", exc.message) from None
                out = _token_json(tokens)
            else:
                raise ServiceError("unsupported_grant_type", "grant_type must be authorization_code, refresh_token "
                                   "or client_credentials")
        except ServiceError as exc:
            headers = {**_CORS, "cache-control": "no-store"}
            if exc.status == 401:
                headers["www-authenticate"] = 'Basic realm="token"'
            return exc.status, orjson.dumps({"error": exc.code, "error_description": exc.message}), headers, \
                "application/json"
        return 200, orjson.dumps(out), {**_CORS, "cache-control": "no-store", "pragma": "no-cache"}, \
            "application/json"

    async def _user_info(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        raw = header(scope, b"authorization") or ""
        token = raw[7:].strip() if raw[:7].lower() == "bearer " else ""
        try:
            if not token:
                raise ServiceError("invalid_token", "an access token is required (Authorization: Bearer)", 401)
            claims = await self._run(self.pool.user_info, token)
        except ServiceError as exc:
            desc = exc.message.replace('"', "'")
            return 401, orjson.dumps({"error": exc.code, "error_description": exc.message}), \
                {**_CORS, "www-authenticate": f'Bearer error="invalid_token", error_description="{desc}"'}, \
                "application/json"
        return 200, orjson.dumps(claims), {**_CORS, "cache-control": "no-store"}, "application/json"

    async def _revoke(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        try:
            client_id, _ = self._client_auth(scope, form)
            await self._run(self.pool.revoke_token, client_id, _needed(form, "token"))
        except ServiceError as exc:
            code = {"ResourceNotFoundException": "invalid_client",
                    "UnsupportedTokenTypeException": "unsupported_token_type"}.get(exc.code, exc.code)
            return 401 if exc.status == 401 else 400, orjson.dumps({"error": code, "error_description": exc.message}), \
                _CORS, "application/json"
        return 200, b"", _CORS, "application/json"

    async def _logout(self, scope: Scope, query: dict[str, str], form: dict[str, str]) -> _Answer:
        if query.get("client_id") not in self.pool.clients.values():
            raise _Page("The client_id is not an app client of this user pool.")
        target = query.get("logout_uri")
        if target is None or target not in self.hosted.logout_urls:
            raise _Page("The logout_uri is not one of the client's sign-out URLs.")
        return 302, b"", {"location": target, "cache-control": "no-store"}, "text/plain"


_Answer = tuple[int, bytes, dict[str, str], str]
_CSRF = "<input type=hidden name=_csrf value='{csrf}'>"
# each credentials page: its title (and button), the password's autocomplete, the other page, and the link to it
_CREDENTIAL_PAGES = {"login": ("Sign in", "current-password", "signup", "No account?", "Sign up"),
                     "signup": ("Sign up", "new-password", "login", "Have an account?", "Sign in")}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _note(message: str) -> str:
    return f"<p class=note>{_e(message)}</p>" if message else ""


def _said(exc: ServiceError) -> str:
    return exc.message


def _needed(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise ServiceError("invalid_request", f"{name} is required")
    return value


def _token_json(tokens: Tokens) -> dict[str, Any]:
    """The token endpoint's answer: the ID token only for a sign-in that asked for ``openid``, as on Cognito."""
    out: dict[str, Any] = {"access_token": tokens.access_token, "expires_in": tokens.expires_in,
                           "token_type": "Bearer"}
    if "openid" in (tokens.scopes or "openid").split():
        out["id_token"] = tokens.id_token
    if tokens.refresh_token is not None:
        out["refresh_token"] = tokens.refresh_token
    return out


def _form(raw: bytes) -> dict[str, str]:
    """A query string or form body: each name's first value (ValueError for more than 32 fields or bad UTF-8)."""
    parsed = parse_qs(raw.decode("utf-8", "strict"), keep_blank_values=True, max_num_fields=32)
    return {k: v[0] for k, v in parsed.items()}


def _cookies(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in raw.split(";"):
        name, _, value = piece.strip().partition("=")
        out.setdefault(name, value)
    return out


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _page(title: str, inner: str) -> bytes:
    return (f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{_e(title)}</title><style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem "
            "auto;padding:0 1rem;color:#222}label{display:block;margin:.8rem 0}input{display:block;width:100%;"
            "padding:.5rem;margin-top:.3rem;box-sizing:border-box}button{padding:.5rem 1rem;margin:.5rem .5rem 0 0}"
            ".note{color:#555}.error{color:#a00}</style>"
            f"<h1>{_e(title)}</h1>{inner}</html>").encode()
