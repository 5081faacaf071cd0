"""Evaluating the subset of the IAM policy language our apps' identity policies use.

Credentials handed out locally (e.g. by the identity pool) carry IAM policies; so
that local S3 refuses exactly what AWS would, every request is judged here, by
AWS's documented rules: default deny, an explicit Deny anywhere wins, otherwise a
matching Allow allows. Actions match case-insensitively, resources case-sensitively,
both with ``*``/``?`` wildcards (``*`` crosses ``/``). Policy variables (``${key}``,
``${key, 'default'}``, ``${*}``...) fill resources and condition values; one with no
single value in the request makes that value match nothing. A condition key the
request lacks fails the condition, except that negated operators then hold, as do
``...IfExists``, ``ForAllValues:`` and ``Null``.

:func:`check_policy` runs up front and fails loudly (a ConfigError) on anything this
evaluator does not understand, rather than guessing; :func:`evaluate` runs on every
request, so wildcard patterns are compiled once and cached.
"""

from __future__ import annotations

import ipaddress
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple, cast

from ...errors import ConfigError

Decision = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]
Keys = Mapping[str, str | list[str]]


class PolicyError(ConfigError):
    """A policy document this evaluator refuses: malformed, or using something it does not support."""


@dataclass(frozen=True)
class RequestContext:
    """What is being attempted: the action, the resource ARN, and the condition keys (also the policy variables)."""

    action: str
    resource: str
    keys: Mapping[str, str | list[str]] = field(default_factory=dict)


# --- policy variables and wildcards -------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"'(.*)'", re.DOTALL)


class _Part(NamedTuple):
    kind: Literal["text", "literal", "variable"]
    value: str  # the text, the escaped character, or the lower-cased key name
    default: str | None = None


@lru_cache(maxsize=4096)
def _template(text: str) -> tuple[_Part, ...]:
    """Split a resource or condition value into plain text (wildcards live) and variables."""
    parts: list[_Part] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        parts.append(_Part("text", text[pos:m.start()]))
        pos = m.end()
        inner = m.group(1).strip()
        if inner in ("*", "?", "$"):
            parts.append(_Part("literal", inner))
            continue
        key, comma, default = inner.partition(",")
        quoted = _DEFAULT.fullmatch(default.strip())
        if not key.strip() or "{" in key or "$" in key or (comma and quoted is None):
            raise PolicyError(f"malformed policy variable {m.group(0)!r} in {text!r}")
        parts.append(_Part("variable", key.strip().lower(), quoted.group(1) if quoted else None))
    parts.append(_Part("text", text[pos:]))
    if any(p.kind == "text" and "${" in p.value for p in parts):
        raise PolicyError(f"unterminated policy variable ('${{' without '}}') in {text!r}")
    return tuple(p for p in parts if p.kind != "text" or p.value)


def _variable(part: _Part, keys: Keys) -> str | None:
    # A list is a multivalued key, which AWS does not allow as a variable: treated as absent.
    value = keys.get(part.value)
    return value if isinstance(value, str) else part.default


def _substitute(text: str, keys: Keys) -> str | None:
    """The value with its variables filled in, or None when one has no value."""
    out: list[str] = []
    for part in _template(text):
        value = _variable(part, keys) if part.kind == "variable" else part.value
        if value is None:
            return None
        out.append(value)
    return "".join(out)


@lru_cache(maxsize=4096)
def _glob(text: str, arn_colons: int = -1) -> str:
    """Regex source for IAM wildcards. With ``arn_colons`` >= 0, ``*``/``?`` stay inside the ARN component until
    the fifth colon (counting from ``arn_colons`` already seen), as ArnLike checks each component separately."""
    out: list[str] = []
    for ch in text:
        inside = 0 <= arn_colons < 5
        if ch == "*":
            out.append("[^:]*" if inside else ".*")
        elif ch == "?":
            out.append("[^:]" if inside else ".")
        else:
            out.append(re.escape(ch))
        if ch == ":" and arn_colons >= 0:
            arn_colons += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _pattern(text: str, keys: Keys, *, arn: bool = False) -> re.Pattern[str] | None:
    """A compiled wildcard pattern for a resource or condition value, or None when a variable has no value."""
    source: list[str] = []
    colons = 0 if arn else -1
    for part in _template(text):
        if part.kind == "text":
            source.append(_glob(part.value, colons))
            if arn:
                colons += part.value.count(":")
            continue
        value = _variable(part, keys) if part.kind == "variable" else part.value
        if value is None:
            return None
        source.append(re.escape(value))
    return _compile("".join(source))


# --- condition operators ------------------------------------------------------------------------------------------

def _lenient(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, answering None for text it cannot read instead of raising ValueError."""
    def lenient(text: str) -> Any:
        try:
            return parse(text)
        except ValueError:
            return None
    return lenient


_int, _float, _iso = _lenient(int), _lenient(float), _lenient(datetime.fromisoformat)


def _number(text: str) -> float | None:
    value = _int(text)
    if value is None:
        value = _float(text)
    return value if value is not None and math.isfinite(value) else None


def _timestamp(text: str) -> float | None:
    """ISO 8601 (naive means UTC) or epoch seconds, as epoch seconds."""
    seconds = _number(text)
    if seconds is not None:
        return float(seconds)
    moment = _iso(text)
    return None if moment is None else float((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


_address = _lenient(ipaddress.ip_address)
_network = lru_cache(maxsize=1024)(_lenient(lambda text: ipaddress.ip_network(text, strict=False)))


def _then(parse: Callable[[str], Any]) -> Callable[[str, Keys], Any]:
    """A policy-side parser that substitutes variables first."""
    def policy_side(text: str, keys: Keys) -> Any:
        value = _substitute(text, keys)
        return None if value is None else parse(value)
    return policy_side


class _Family(NamedTuple):
    request: Callable[[str], Any]       # the request's value -> comparable, or None when it cannot be read
    policy: Callable[[str, Keys], Any]  # the policy's value (with variables) -> comparable, or None
    compare: Callable[[Any, Any], bool]


_STRING = _Family(str, _then(str), operator.eq)
_FOLDED = _Family(str.casefold, _then(str.casefold), operator.eq)
_LIKE = _Family(str, _pattern, lambda value, pattern: pattern.fullmatch(value) is not None)
_ARN = _LIKE._replace(policy=lambda text, keys: _pattern(text, keys, arn=True))
_BOOL = _Family(_bool, _then(_bool), operator.eq)
_IP = _Family(_address, _then(_network), lambda address, network: address.version == network.version and address in network)


# name -> (family, negated). "Null" is handled apart: it tests presence, not values.
_OPERATORS: dict[str, tuple[_Family, bool]] = {
    "StringEquals": (_STRING, False), "StringNotEquals": (_STRING, True),
    "StringEqualsIgnoreCase": (_FOLDED, False), "StringNotEqualsIgnoreCase": (_FOLDED, True),
    "StringLike": (_LIKE, False), "StringNotLike": (_LIKE, True),
    "Bool": (_BOOL, False),
    "IpAddress": (_IP, False), "NotIpAddress": (_IP, True),
    "ArnEquals": (_ARN, False), "ArnLike": (_ARN, False), "ArnNotEquals": (_ARN, True), "ArnNotLike": (_ARN, True),
}
_COMPARISONS: tuple[tuple[str, Callable[[Any, Any], bool], bool], ...] = (
    ("Equals", operator.eq, False), ("NotEquals", operator.eq, True), ("LessThan", operator.lt, False),
    ("LessThanEquals", operator.le, False), ("GreaterThan", operator.gt, False), ("GreaterThanEquals", operator.ge, False))
_OPERATORS.update({prefix + suffix: (_Family(parse, _then(parse), compare), negated)
                   for prefix, parse in (("Numeric", _number), ("Date", _timestamp))
                   for suffix, compare, negated in _COMPARISONS})


class _Operator(NamedTuple):
    base: str
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool


@lru_cache(maxsize=256)
def _operator(name: str) -> _Operator:
    qualifier, _, base = name.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    known = base in _OPERATORS or (base == "Null" and not if_exists and not qualifier)
    if not known or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyError(f"unsupported condition operator {name}")
    return _Operator(base, qualifier, if_exists)


def _values(raw: object) -> list[str]:
    """A condition's policy values as strings (bools as "true"/"false", numbers as written)."""
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(v, str | int | float) for v in items):
        raise PolicyError(f"condition values must be a string, number, bool or a non-empty list of them, not {raw!r}")
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]


def _key_matches(op: _Operator, key: str, raw: object, keys: Keys) -> bool:
    present = keys.get(key.lower())
    values = _values(raw)
    if op.base == "Null":
        absent = present is None or present == [] or present == ""
        return any(_bool(v) is absent for v in values)
    if present is None or present == []:
        if op.if_exists or op.qualifier == "ForAllValues":
            return True
        return _OPERATORS[op.base][1] and not op.qualifier  # AWS: a missing key satisfies negated operators
    family, negated = _OPERATORS[op.base]
    wanted = [family.policy(v, keys) for v in values]
    outcomes: list[bool] = []
    for text in [present] if isinstance(present, str) else present:
        actual = family.request(text)
        if actual is None:  # not a number / date / address / bool: the comparison cannot hold either way
            return False
        hit = any(w is not None and family.compare(actual, w) for w in wanted)
        outcomes.append(hit != negated)
    if op.qualifier == "ForAllValues" or (negated and not op.qualifier):
        return all(outcomes)  # a negated plain operator holds only when no request value matches
    return any(outcomes)


def _conditions_hold(condition: Mapping[str, Mapping[str, object]], keys: Keys) -> bool:
    return all(_key_matches(_operator(name), key, raw, keys)
               for name, block in condition.items() for key, raw in block.items())


# --- documents ----------------------------------------------------------------------------------------------------

_VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"})


def _strings(raw: object, what: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise PolicyError(f"{what} must be a non-empty string or a non-empty list of them, not {raw!r}")
    return cast(list[str], items)


def _one_of(statement: Mapping[str, Any], name: str, where: str) -> str:
    given = [k for k in (name, "Not" + name) if k in statement]
    if len(given) != 1:
        raise PolicyError(f"{where} needs exactly one of {name} and Not{name}")
    return given[0]


_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


def _check_principal(raw: object, where: str) -> None:
    if raw == "*":
        return
    if not isinstance(raw, dict) or not raw or any(k not in _PRINCIPAL_TYPES for k in raw):
        raise PolicyError(f'{where}: a principal is "*" or an object of {", ".join(_PRINCIPAL_TYPES)}, not {raw!r}')
    for kind, values in raw.items():
        for value in _strings(values, f"{where}.{kind}"):
            if kind == "AWS" and not (value == "*" or re.fullmatch(r"\d{12}", value) or value.startswith("arn:aws:")):
                raise PolicyError(f"{where}: Invalid principal in policy: {value!r}")


def _check_statement(statement: object, where: str, variables: bool, resource_policy: bool = False) -> None:
    if not isinstance(statement, dict):
        raise PolicyError(f"{where} must be an object, not {statement!r}")
    for key in statement:
        if key in ("Principal", "NotPrincipal"):
            if not resource_policy:
                raise PolicyError(f"{where}: {key} is not allowed in an identity policy")
            continue
        if key not in _STATEMENT_KEYS:
            raise PolicyError(f"{where}: unknown key {key!r}")
    if resource_policy:
        _check_principal(statement[_one_of(statement, "Principal", where)], where)
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {statement.get('Effect')!r}")
    action_key = _one_of(statement, "Action", where)
    if any("${" in a for a in _strings(statement[action_key], f"{where}.{action_key}")):
        raise PolicyError(f"{where}: policy variables are not allowed in {action_key}")
    resource_key = _one_of(statement, "Resource", where)
    templated = list(_strings(statement[resource_key], f"{where}.{resource_key}"))
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict):
        raise PolicyError(f"{where}: Condition must be an object, not {condition!r}")
    for name, block in condition.items():
        op = _operator(name)
        if not isinstance(block, dict) or not block:
            raise PolicyError(f"{where}: Condition {name} must map condition keys to values, not {block!r}")
        for key, raw in block.items():
            if not key:
                raise PolicyError(f"{where}: Condition {name} has an empty key")
            for value in _values(raw):
                templated.append(value)
                if op.base == "Null":
                    ok = _bool(value) is not None
                elif "${" in value:
                    ok = True  # checked once the variables have values
                elif op.base.startswith("Arn"):
                    ok = value.count(":") >= 5
                else:
                    ok = _OPERATORS[op.base][0].policy(value, {}) is not None
                if not ok:
                    raise PolicyError(f"{where}: {value!r} is not a valid value for {name} (key {key})")
    for text in templated:
        _template(text)  # raises on malformed variables
        if "${" in text and not variables:
            raise PolicyError(f"{where}: policy variable in {text!r} needs \"Version\": \"2012-10-17\"")


def _statements(doc: Mapping[str, Any]) -> list[Any]:
    raw = doc.get("Statement")
    return [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []


def check_policy(doc: dict[str, Any], resource_policy: bool = False) -> dict[str, Any]:
    """Validate a policy document before it is used (an identity policy, or with ``resource_policy`` one attached
    to a resource, whose statements name their principals); return it unchanged or raise :class:`PolicyError`."""
    if not isinstance(doc, dict):
        raise PolicyError(f"a policy must be a JSON object, not {type(doc).__name__}")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise PolicyError(f"unknown top-level policy key(s) {', '.join(unknown)}")
    # AWS reads a missing Version as 2008-10-17, where ${...} is plain text; we refuse that rather than surprise.
    version = doc.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise PolicyError(f"unsupported policy Version {version!r} (use \"2012-10-17\")")
    if not isinstance(doc.get("Statement"), dict | list):
        raise PolicyError("Statement must be an object or a list of objects")
    for i, statement in enumerate(_statements(doc)):
        _check_statement(statement, f"Statement[{i}]", version == "2012-10-17", resource_policy)
    return doc


def _principal_matches(raw: object, names: Mapping[str, Sequence[str]]) -> bool:
    """Whether a statement's Principal value names the caller (``names``: the caller's names by principal type;
    an anonymous caller has none, and only ``*`` names it)."""
    if raw == "*":
        return True
    assert isinstance(raw, dict)
    for kind, values in raw.items():
        mine = names.get(kind, ())
        for value in _strings(values, kind):
            if (kind == "AWS" and value == "*") or value in mine:
                return True
    return False


def evaluate_resource(doc: Mapping[str, Any], ctx: RequestContext, names: Mapping[str, Sequence[str]],
                      account_names: Sequence[str] = ()) -> Decision:
    """Decide a request against a resource policy (already checked): its statements that name the caller.

    ``names`` are what an Allow must name (the role, the service, ...); a Deny also reaches the caller through
    ``account_names`` (its account), since a same-account allow for the account only delegates to the account's
    own identity policies, while a deny for the account denies everyone in it."""
    keys = {k.lower(): v for k, v in ctx.keys.items()}
    account = {"AWS": list(account_names)}
    allowed = False
    for statement in _statements(doc):
        deny = statement["Effect"] == "Deny"
        if "Principal" in statement:
            reach = {**names, "AWS": [*names.get("AWS", ()), *account_names]} if deny else names
            named = _principal_matches(statement["Principal"], reach)
        else:  # NotPrincipal: spared only if it names the caller, and (for a Deny) the caller's account as well
            spared = _principal_matches(statement["NotPrincipal"], names)
            if spared and deny and account_names:
                spared = _principal_matches(statement["NotPrincipal"], account)
            named = not spared
        if named and _applies(statement, ctx, keys):
            if deny:
                return "ExplicitDeny"
            allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def _applies(statement: Mapping[str, Any], ctx: RequestContext, keys: Keys) -> bool:
    actions = _strings(statement.get("Action") or statement.get("NotAction"), "Action")
    if any(_compile(_glob(a), True).fullmatch(ctx.action) for a in actions) != ("Action" in statement):
        return False
    patterns = [_pattern(r, keys) for r in _strings(statement.get("Resource") or statement.get("NotResource"), "Resource")]
    if "Resource" in statement:
        if not any(p is not None and p.fullmatch(ctx.resource) for p in patterns):
            return False
    elif any(p is None or p.fullmatch(ctx.resource) for p in patterns):
        return False  # NotResource: an unresolvable variable makes the statement not match (AWS), not exclude nothing
    return _conditions_hold(statement.get("Condition", {}), keys)


def evaluate(policies: Sequence[dict[str, Any]], ctx: RequestContext) -> Decision:
    """Decide a request against identity policies (each already passed through :func:`check_policy`)."""
    keys = {k.lower(): v for k, v in ctx.keys.items()}
    allowed = False
    for doc in policies:
        for statement in _statements(doc):
            if _applies(statement, ctx, keys):
                if statement["Effect"] == "Deny":
                    return "ExplicitDeny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


# condition keys that, tested for a fixed value, make an Allow for everyone no longer public (S3's rule)
_NARROWING = {k.lower() for k in ("aws:SourceIp", "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce",
                                  "aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalOrgID", "aws:PrincipalAccount",
                                  "aws:PrincipalArn", "aws:userid", "s3:DataAccessPointArn",
                                  "s3:DataAccessPointAccount")}


def policy_is_public(doc: Mapping[str, Any] | None) -> bool:
    """Whether a bucket policy grants anything to everyone: an Allow for ``*`` that no fixed source or principal
    condition narrows."""
    if not doc:
        return False
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        if "NotPrincipal" not in st:  # an Allow for everyone but some is an Allow for everyone
            principal = st.get("Principal")
            names = principal.get("AWS", []) if isinstance(principal, dict) else principal
            if "*" not in (names if isinstance(names, list) else [names]):
                continue
        narrowed = any(_narrows(op, k, v) for op, keys in (st.get("Condition") or {}).items()
                       for k, v in keys.items())
        if not narrowed:
            return True
    return False


_FIXED = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}


def _narrows(operator: str, key: str, value: object) -> bool:
    """Whether one condition confines a statement to fixed sources: a narrowing key tested for equality with
    values that hold no wildcard (an address range no wider than /8, or /32 for IPv6)."""
    if key.lower() not in _NARROWING or operator.lower() not in _FIXED:
        return False
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v and "*" not in v and "?" not in v and "${" not in v
                             for v in values):  # a policy variable is whatever the caller brings: not fixed
        return False
    if operator.lower() == "ipaddress":  # all the ranges together no wider than one /8 (a /32 of IPv6)
        try:
            nets = [ipaddress.ip_network(str(v), strict=False) for v in values]
        except ValueError:
            return False
        v4 = sum(n.num_addresses for n in nets if n.version == 4)
        v6 = sum(n.num_addresses for n in nets if n.version == 6)
        return v4 <= 2 ** 24 and v6 <= 2 ** 96
    return True
