"""The IAM evaluator: the todo app's identity-pool policy, AWS's evaluation rules, and check_policy's refusals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from stratus.errors import ConfigError
from stratus.local.protocols.iam import Decision, PolicyError, RequestContext, check_policy, evaluate

SUB = "us-east-1:1234-abcd"
OTHER = "us-east-1:9999-ffff"
BUCKET = "arn:aws:s3:::todo-files-abc123"

TODO_POLICY = {"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
   "Resource": ["arn:aws:s3:::todo-files-abc123/${cognito-identity.amazonaws.com:sub}/*"]},
  {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::todo-files-abc123",
   "Condition": {"StringLike": {"s3:prefix": ["${cognito-identity.amazonaws.com:sub}/*"]}}}]}


def todo(action: str, resource: str, **extra: str) -> Decision:
    keys: dict[str, str | list[str]] = {"cognito-identity.amazonaws.com:sub": SUB, **extra}
    return evaluate([check_policy(TODO_POLICY)], RequestContext(action, resource, keys))


def allow(statement: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}], **more}


def decide(policy: dict[str, Any], action: str = "s3:GetObject", resource: str = "arn:aws:s3:::b/k",
           keys: Mapping[str, str | list[str]] | None = None) -> Decision:
    return evaluate([check_policy(policy)], RequestContext(action, resource, keys or {}))


def when(operator: str, key: str, values: Any, keys: Mapping[str, str | list[str]]) -> Decision:
    """Decision for an Allow-everything statement guarded by one condition."""
    return decide(allow({"Action": "*", "Resource": "*", "Condition": {operator: {key: values}}}), keys=keys)


# --- the todo app's authenticated role ----------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_todo_policy_allows_own_folder(action: str) -> None:
    assert todo(action, f"{BUCKET}/{SUB}/photo.jpg") == "Allow"
    assert todo(action, f"{BUCKET}/{SUB}/nested/deeper/photo.jpg") == "Allow"


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_todo_policy_denies_another_identitys_folder(action: str) -> None:
    assert todo(action, f"{BUCKET}/{OTHER}/photo.jpg") == "ImplicitDeny"
    assert todo(action, f"{BUCKET}/{SUB}") == "ImplicitDeny"  # the folder marker itself is outside "<sub>/*"
    assert todo(action, f"{BUCKET}/photo.jpg") == "ImplicitDeny"


def test_todo_policy_lists_only_own_prefix() -> None:
    assert todo("s3:ListBucket", BUCKET, **{"s3:prefix": f"{SUB}/"}) == "Allow"
    assert todo("s3:ListBucket", BUCKET, **{"s3:prefix": f"{SUB}/2024/"}) == "Allow"
    assert todo("s3:ListBucket", BUCKET, **{"s3:prefix": ""}) == "ImplicitDeny"
    assert todo("s3:ListBucket", BUCKET, **{"s3:prefix": f"{OTHER}/"}) == "ImplicitDeny"
    assert todo("s3:ListBucket", BUCKET, **{"s3:prefix": SUB}) == "ImplicitDeny"
    assert todo("s3:ListBucket", BUCKET) == "ImplicitDeny"  # no prefix key at all


def test_todo_policy_denies_other_buckets_and_bucket_level_actions() -> None:
    assert todo("s3:GetObject", f"arn:aws:s3:::other-bucket/{SUB}/photo.jpg") == "ImplicitDeny"
    assert todo("s3:ListBucket", "arn:aws:s3:::other-bucket", **{"s3:prefix": f"{SUB}/"}) == "ImplicitDeny"
    for action in ("s3:DeleteBucket", "s3:PutBucketPolicy", "s3:GetBucketAcl", "s3:ListAllMyBuckets"):
        assert todo(action, BUCKET, **{"s3:prefix": f"{SUB}/"}) == "ImplicitDeny"
    assert todo("s3:PutObjectAcl", f"{BUCKET}/{SUB}/photo.jpg") == "ImplicitDeny"


def test_todo_policy_without_identity_matches_nothing() -> None:
    ctx = RequestContext("s3:GetObject", f"{BUCKET}/{SUB}/photo.jpg", {})
    assert evaluate([TODO_POLICY], ctx) == "ImplicitDeny"
    # a multivalued key cannot serve as a policy variable either
    ctx = RequestContext("s3:GetObject", f"{BUCKET}/{SUB}/photo.jpg", {"cognito-identity.amazonaws.com:sub": [SUB]})
    assert evaluate([TODO_POLICY], ctx) == "ImplicitDeny"


def test_policy_variable_names_are_case_insensitive() -> None:
    ctx = RequestContext("s3:GetObject", f"{BUCKET}/{SUB}/a", {"Cognito-Identity.AmazonAWS.com:SUB": SUB})
    assert evaluate([TODO_POLICY], ctx) == "Allow"


# --- combining statements and policies ----------------------------------------------------------------------------

def test_default_is_implicit_deny() -> None:
    assert evaluate([], RequestContext("s3:GetObject", "arn:aws:s3:::b/k", {})) == "ImplicitDeny"


def test_explicit_deny_beats_allow_across_policies_and_order() -> None:
    allow_all = allow({"Action": "*", "Resource": "*"})
    deny = {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}}
    ctx = RequestContext("s3:DeleteObject", "arn:aws:s3:::b/k", {})
    assert evaluate([allow_all, deny], ctx) == "ExplicitDeny"
    assert evaluate([deny, allow_all], ctx) == "ExplicitDeny"
    assert evaluate([allow_all, deny], RequestContext("s3:GetObject", "arn:aws:s3:::b/k", {})) == "Allow"
    assert evaluate([deny], RequestContext("s3:GetObject", "arn:aws:s3:::b/k", {})) == "ImplicitDeny"


def test_not_action() -> None:
    policy = allow({"NotAction": ["s3:Delete*", "iam:*"], "Resource": "*"})
    assert decide(policy, "s3:GetObject") == "Allow"
    assert decide(policy, "s3:DeleteObject") == "ImplicitDeny"
    assert decide(policy, "IAM:CreateUser") == "ImplicitDeny"


def test_not_resource() -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::public/*", "arn:aws:s3:::public"]}]}
    assert decide(policy, resource="arn:aws:s3:::public/a/b") == "Allow"
    assert decide(policy, resource="arn:aws:s3:::public") == "Allow"
    assert decide(policy, resource="arn:aws:s3:::private/a") == "ExplicitDeny"


def test_not_resource_with_unresolved_variable_does_not_apply() -> None:
    policy = allow({"Action": "*", "NotResource": "arn:aws:s3:::b/${aws:username}/*"})
    assert decide(policy, resource="arn:aws:s3:::b/x/k", keys={"aws:username": "alice"}) == "Allow"
    assert decide(policy, resource="arn:aws:s3:::b/alice/k", keys={"aws:username": "alice"}) == "ImplicitDeny"
    assert decide(policy, resource="arn:aws:s3:::b/x/k") == "ImplicitDeny"


# --- wildcards and case ---------------------------------------------------------------------------------------------

def test_actions_are_case_insensitive_resources_case_sensitive() -> None:
    policy = allow({"Action": "S3:getobject", "Resource": "arn:aws:s3:::Bucket/Key"})
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::Bucket/Key") == "Allow"
    assert decide(policy, "S3:GETOBJECT", "arn:aws:s3:::Bucket/Key") == "Allow"
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::bucket/key") == "ImplicitDeny"


def test_action_wildcards() -> None:
    assert decide(allow({"Action": "s3:Get*", "Resource": "*"}), "s3:GetObjectTagging") == "Allow"
    assert decide(allow({"Action": "s3:Get*", "Resource": "*"}), "s3:PutObject") == "ImplicitDeny"
    assert decide(allow({"Action": "s3:*", "Resource": "*"}), "dynamodb:GetItem") == "ImplicitDeny"
    assert decide(allow({"Action": "*", "Resource": "*"}), "dynamodb:GetItem") == "Allow"
    assert decide(allow({"Action": "s3:?etObject", "Resource": "*"}), "s3:GetObject") == "Allow"
    assert decide(allow({"Action": "s3:?etObject", "Resource": "*"}), "s3:PutObject") == "ImplicitDeny"
    assert decide(allow({"Action": "s3:?etObject", "Resource": "*"}), "s3:GetObjects") == "ImplicitDeny"


def test_resource_wildcards() -> None:
    star = allow({"Action": "*", "Resource": "arn:aws:s3:::b/*.jpg"})
    assert decide(star, resource="arn:aws:s3:::b/a/b/c.jpg") == "Allow"  # * crosses "/"
    assert decide(star, resource="arn:aws:s3:::b/a/b/c.png") == "ImplicitDeny"
    one = allow({"Action": "*", "Resource": "arn:aws:s3:::b/file?.txt"})
    assert decide(one, resource="arn:aws:s3:::b/file1.txt") == "Allow"
    assert decide(one, resource="arn:aws:s3:::b/file12.txt") == "ImplicitDeny"
    assert decide(one, resource="arn:aws:s3:::b/file.txt") == "ImplicitDeny"
    dots = allow({"Action": "*", "Resource": "arn:aws:s3:::b/a.c"})  # regex metacharacters are literal
    assert decide(dots, resource="arn:aws:s3:::b/abc") == "ImplicitDeny"
    newline = allow({"Action": "*", "Resource": "arn:aws:s3:::b/*"})
    assert decide(newline, resource="arn:aws:s3:::b/line1\nline2") == "Allow"


def test_escaped_wildcards_are_literal() -> None:
    policy = allow({"Action": "*", "Resource": "arn:aws:s3:::b/${*}${?}${$}x"})
    assert decide(policy, resource="arn:aws:s3:::b/*?$x") == "Allow"
    assert decide(policy, resource="arn:aws:s3:::b/ab$x") == "ImplicitDeny"
    cond = {"Action": "*", "Resource": "*", "Condition": {"StringLike": {"k": "a${*}"}}}
    assert decide(allow(cond), keys={"k": "a*"}) == "Allow"
    assert decide(allow(cond), keys={"k": "abc"}) == "ImplicitDeny"


def test_variable_values_are_literal_not_wildcards() -> None:
    policy = allow({"Action": "*", "Resource": "arn:aws:s3:::b/${aws:username}/k"})
    assert decide(policy, resource="arn:aws:s3:::b/al*/k", keys={"aws:username": "al*"}) == "Allow"
    assert decide(policy, resource="arn:aws:s3:::b/alice/k", keys={"aws:username": "al*"}) == "ImplicitDeny"


def test_variable_default() -> None:
    policy = allow({"Action": "*", "Resource": "arn:aws:s3:::b/${aws:username, 'shared'}/*"})
    assert decide(policy, resource="arn:aws:s3:::b/shared/k") == "Allow"
    assert decide(policy, resource="arn:aws:s3:::b/bob/k", keys={"aws:username": "bob"}) == "Allow"
    assert decide(policy, resource="arn:aws:s3:::b/shared/k", keys={"aws:username": "bob"}) == "ImplicitDeny"
    cond = {"Action": "*", "Resource": "*", "Condition": {"StringEquals": {"team": "${aws:PrincipalTag/team,'ops'}"}}}
    assert decide(allow(cond), keys={"team": "ops"}) == "Allow"
    assert decide(allow(cond), keys={"team": "dev"}) == "ImplicitDeny"
    assert decide(allow(cond), keys={"team": "dev", "aws:PrincipalTag/team": "dev"}) == "Allow"


# --- condition operators ------------------------------------------------------------------------------------------

def test_string_operators() -> None:
    assert when("StringEquals", "k", ["x", "y"], {"k": "y"}) == "Allow"
    assert when("StringEquals", "k", "x", {"k": "X"}) == "ImplicitDeny"
    assert when("StringEquals", "k", "x*", {"k": "xyz"}) == "ImplicitDeny"  # no wildcards in Equals
    assert when("StringNotEquals", "k", ["x", "y"], {"k": "z"}) == "Allow"
    assert when("StringNotEquals", "k", ["x", "y"], {"k": "x"}) == "ImplicitDeny"
    assert when("StringEqualsIgnoreCase", "k", "HeLLo", {"k": "hello"}) == "Allow"
    assert when("StringNotEqualsIgnoreCase", "k", "HeLLo", {"k": "hello"}) == "ImplicitDeny"
    assert when("StringLike", "k", "a*c?", {"k": "a/b/cd"}) == "Allow"
    assert when("StringLike", "k", "a*c?", {"k": "A/b/cd"}) == "ImplicitDeny"
    assert when("StringNotLike", "k", ["a*", "b*"], {"k": "cat"}) == "Allow"
    assert when("StringNotLike", "k", ["a*", "b*"], {"k": "bat"}) == "ImplicitDeny"


def test_condition_key_names_are_case_insensitive_values_are_not() -> None:
    assert when("StringEquals", "AWS:UserName", "alice", {"aws:username": "alice"}) == "Allow"
    assert when("StringEquals", "aws:username", "alice", {"AWS:USERNAME": "Alice"}) == "ImplicitDeny"


def test_condition_values_may_be_numbers_and_bools() -> None:
    assert when("NumericEquals", "n", 5, {"n": "5"}) == "Allow"
    assert when("StringEquals", "k", [True, 7], {"k": "true"}) == "Allow"
    assert when("Bool", "aws:SecureTransport", False, {"aws:SecureTransport": "false"}) == "Allow"


def test_missing_key_fails_positive_and_satisfies_negated_operators() -> None:
    assert when("StringEquals", "k", "x", {}) == "ImplicitDeny"
    assert when("StringLike", "k", "*", {}) == "ImplicitDeny"
    assert when("NumericLessThan", "n", 5, {}) == "ImplicitDeny"
    assert when("IpAddress", "aws:SourceIp", "0.0.0.0/0", {}) == "ImplicitDeny"
    assert when("StringNotEquals", "k", "x", {}) == "Allow"  # AWS: a negated operator holds when the key is absent
    assert when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {}) == "Allow"


def test_if_exists() -> None:
    assert when("StringEqualsIfExists", "k", "x", {}) == "Allow"
    assert when("StringEqualsIfExists", "k", "x", {"k": "x"}) == "Allow"
    assert when("StringEqualsIfExists", "k", "x", {"k": "y"}) == "ImplicitDeny"
    assert when("NumericLessThanIfExists", "n", 10, {"n": "11"}) == "ImplicitDeny"
    assert when("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", {}) == "Allow"
    assert when("DateLessThanIfExists", "aws:CurrentTime", "2026-01-01T00:00:00Z", {}) == "Allow"
    assert when("BoolIfExists", "aws:MultiFactorAuthPresent", "true", {"aws:MultiFactorAuthPresent": "false"}) \
        == "ImplicitDeny"


def test_numeric_operators() -> None:
    keys: dict[str, str | list[str]] = {"n": "10"}
    assert when("NumericEquals", "n", "10", keys) == "Allow"
    assert when("NumericEquals", "n", "10.0", keys) == "Allow"
    assert when("NumericNotEquals", "n", "10", keys) == "ImplicitDeny"
    assert when("NumericNotEquals", "n", ["1", "2"], keys) == "Allow"
    assert when("NumericLessThan", "n", "10", keys) == "ImplicitDeny"
    assert when("NumericLessThanEquals", "n", "10", keys) == "Allow"
    assert when("NumericGreaterThan", "n", "9.5", keys) == "Allow"
    assert when("NumericGreaterThanEquals", "n", "11", keys) == "ImplicitDeny"
    assert when("NumericEquals", "n", "10", {"n": "ten"}) == "ImplicitDeny"
    assert when("NumericNotEquals", "n", "10", {"n": "ten"}) == "ImplicitDeny"  # unreadable request value


def test_date_operators_with_iso_and_epoch() -> None:
    now = {"aws:CurrentTime": "2026-11-23T04:00:00Z", "aws:EpochTime": "1795000000"}
    assert when("DateLessThan", "aws:CurrentTime", "2026-12-01T00:00:00Z", now) == "Allow"
    assert when("DateLessThan", "aws:CurrentTime", "2026-11-23T03:59:59Z", now) == "ImplicitDeny"
    assert when("DateLessThan", "aws:CurrentTime", "1795000000", now) == "ImplicitDeny"  # 2026-11-18: earlier
    assert when("DateLessThan", "aws:EpochTime", "2026-11-23T04:00:00Z", now) == "Allow"  # epoch vs ISO
    assert when("DateLessThan", "aws:EpochTime", 1795000000, now) == "ImplicitDeny"
    assert when("DateLessThanEquals", "aws:EpochTime", 1795000000, now) == "Allow"
    assert when("DateEquals", "aws:CurrentTime", "2026-11-23T05:00:00+01:00", now) == "Allow"
    assert when("DateNotEquals", "aws:CurrentTime", "2026-11-23", now) == "Allow"
    assert when("DateGreaterThan", "aws:CurrentTime", "2026-11-23", now) == "Allow"
    assert when("DateGreaterThanEquals", "aws:CurrentTime", "2027-01-01", now) == "ImplicitDeny"
    assert when("DateLessThan", "aws:CurrentTime", "2027-01-01", {"aws:CurrentTime": "yesterday"}) == "ImplicitDeny"


def test_bool() -> None:
    assert when("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "true"}) == "Allow"
    assert when("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "TRUE"}) == "Allow"
    assert when("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "false"}) == "ImplicitDeny"
    assert when("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "yes"}) == "ImplicitDeny"
    assert when("Bool", "aws:SecureTransport", "true", {}) == "ImplicitDeny"


def test_ip_address_v4_and_v6() -> None:
    ranges = ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::/32"]
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "127.0.0.1"}) == "Allow"
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "10.20.30.40"}) == "Allow"
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "2001:db8::1"}) == "Allow"
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "2001:db9::1"}) == "ImplicitDeny"
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "192.168.1.1"}) == "ImplicitDeny"
    assert when("IpAddress", "aws:SourceIp", "::/0", {"aws:SourceIp": "192.168.1.1"}) == "ImplicitDeny"
    assert when("IpAddress", "aws:SourceIp", "203.0.113.7", {"aws:SourceIp": "203.0.113.7"}) == "Allow"
    assert when("IpAddress", "aws:SourceIp", "10.1.2.3/8", {"aws:SourceIp": "10.9.9.9"}) == "Allow"  # host bits ok
    assert when("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "192.168.1.1"}) == "Allow"
    assert when("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "::1"}) == "Allow"
    assert when("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "10.0.0.1"}) == "ImplicitDeny"
    assert when("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "not-an-ip"}) == "ImplicitDeny"


def test_arn_operators() -> None:
    source = {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic/orders"}
    assert when("ArnEquals", "aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic/orders", source) == "Allow"
    assert when("ArnLike", "aws:SourceArn", "arn:aws:sns:*:123456789012:topic/*", source) == "Allow"
    assert when("ArnLike", "aws:SourceArn", "arn:aws:sns:us-east-?:*:*", source) == "Allow"
    assert when("ArnLike", "aws:SourceArn", "arn:aws:sqs:*:*:*", source) == "ImplicitDeny"
    # a wildcard stays inside its ARN component: "*" for the service cannot swallow the region too
    colons = {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic:orders"}
    assert when("ArnLike", "aws:SourceArn", "arn:aws:*:123456789012:*:*", colons) == "ImplicitDeny"
    assert when("ArnLike", "aws:SourceArn", "arn:aws:*:*:123456789012:*", colons) == "Allow"  # resource takes the rest
    assert when("ArnNotEquals", "aws:SourceArn", "arn:aws:sns:*:*:other", source) == "Allow"
    assert when("ArnNotLike", "aws:SourceArn", "arn:aws:sns:*:*:*", source) == "ImplicitDeny"
    assert when("ArnLike", "aws:SourceArn", "arn:aws:sns:*:*:*", {"aws:SourceArn": "not:an:arn"}) == "ImplicitDeny"


def test_null() -> None:
    assert when("Null", "aws:TokenIssueTime", "true", {}) == "Allow"
    assert when("Null", "aws:TokenIssueTime", "true", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}) == "ImplicitDeny"
    assert when("Null", "aws:TokenIssueTime", False, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}) == "Allow"
    assert when("Null", "aws:TokenIssueTime", "false", {}) == "ImplicitDeny"
    assert when("Null", "aws:TagKeys", "true", {"aws:TagKeys": []}) == "Allow"


def test_multivalued_keys_and_set_operators() -> None:
    tags: dict[str, str | list[str]] = {"aws:TagKeys": ["env", "owner"]}
    assert when("StringEquals", "aws:TagKeys", "env", tags) == "Allow"  # plain operator: any request value
    assert when("StringNotEquals", "aws:TagKeys", "env", tags) == "ImplicitDeny"  # ...negated: none may match
    assert when("ForAnyValue:StringEquals", "aws:TagKeys", ["env", "cost"], tags) == "Allow"
    assert when("ForAnyValue:StringEquals", "aws:TagKeys", ["cost"], tags) == "ImplicitDeny"
    assert when("ForAllValues:StringEquals", "aws:TagKeys", ["env", "owner", "cost"], tags) == "Allow"
    assert when("ForAllValues:StringEquals", "aws:TagKeys", ["env", "cost"], tags) == "ImplicitDeny"
    assert when("ForAllValues:StringLike", "aws:TagKeys", ["e*", "o*"], tags) == "Allow"
    assert when("ForAnyValue:StringNotLike", "aws:TagKeys", "env", tags) == "Allow"  # "owner" is not like env
    assert when("ForAllValues:StringNotLike", "aws:TagKeys", "env", tags) == "ImplicitDeny"
    assert when("ForAllValues:StringEquals", "aws:TagKeys", "env", {}) == "Allow"  # AWS: true without the key
    assert when("ForAnyValue:StringEquals", "aws:TagKeys", "env", {}) == "ImplicitDeny"
    assert when("ForAnyValue:StringNotEquals", "aws:TagKeys", "env", {}) == "ImplicitDeny"
    assert when("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", "env", {}) == "Allow"


def test_conditions_and_across_operators_and_keys() -> None:
    condition = {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"aws:SecureTransport": "true"}}
    policy = allow({"Action": "*", "Resource": "*", "Condition": condition})
    assert decide(policy, keys={"a": "1", "b": "2", "aws:SecureTransport": "true"}) == "Allow"
    assert decide(policy, keys={"a": "1", "b": "3", "aws:SecureTransport": "true"}) == "ImplicitDeny"
    assert decide(policy, keys={"a": "1", "b": "2", "aws:SecureTransport": "false"}) == "ImplicitDeny"


def test_deny_with_condition() -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert decide(policy, keys={"aws:SecureTransport": "true"}) == "Allow"
    assert decide(policy, keys={"aws:SecureTransport": "false"}) == "ExplicitDeny"


def test_variable_in_condition_value_without_value_matches_nothing() -> None:
    assert when("StringEquals", "s3:prefix", "${aws:username}/", {"s3:prefix": "/"}) == "ImplicitDeny"
    assert when("StringEquals", "s3:prefix", ["${aws:username}/", "public/"], {"s3:prefix": "public/"}) == "Allow"
    assert when("StringEquals", "s3:prefix", "${aws:username}/", {"s3:prefix": "al/", "aws:username": "al"}) == "Allow"
    assert when("NumericLessThan", "n", "${max}", {"n": "3", "max": "5"}) == "Allow"
    assert when("NumericLessThan", "n", "${max}", {"n": "3", "max": "five"}) == "ImplicitDeny"


# --- check_policy -----------------------------------------------------------------------------------------------------

def test_check_policy_returns_the_document_and_accepts_both_versions() -> None:
    assert check_policy(TODO_POLICY) is TODO_POLICY
    old = {"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
    assert check_policy(old) is old
    assert check_policy({"Statement": [], "Id": "x"}) == {"Statement": [], "Id": "x"}
    assert issubclass(PolicyError, ConfigError)


STATEMENT: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"Version": "2012-10-17", "Statement": [], "Extra": 1}, "unknown top-level policy key(s) Extra"),
    ({"Version": "2021-01-01", "Statement": []}, "unsupported policy Version '2021-01-01'"),
    ({"Version": "2012-10-17"}, "Statement must be"),
    ({"Version": "2012-10-17", "Statement": "Allow"}, "Statement must be"),
    ({"Version": "2012-10-17", "Statement": ["Allow"]}, "Statement[0] must be an object"),
    (allow({"Action": "*", "Resource": "*", "Sids": "x"}), "unknown key 'Sids'"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Effect": "allow"}}, "Effect must be Allow or Deny"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotAction": "s3:Put*"}}, "exactly one of Action and NotAction"),
    (allow({"Resource": "*"}), "exactly one of Action and NotAction"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotResource": "*"}},
     "exactly one of Resource and NotResource"),
    (allow({"Action": "*"}), "exactly one of Resource and NotResource"),
    (allow({"Action": [], "Resource": "*"}), "Action must be a non-empty string"),
    (allow({"Action": "*", "Resource": ["*", 3]}), "Resource must be a non-empty string"),
    (allow({"Action": "s3:${x}", "Resource": "*"}), "policy variables are not allowed in Action"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Principal": "*"}}, "Principal is not allowed"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotPrincipal": {"AWS": "*"}}}, "NotPrincipal is not allowed"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"StringEqualz": {"k": "v"}}}},
     "unsupported condition operator StringEqualz"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"ForSomeValues:StringLike": {"k": "v"}}}},
     "unsupported condition operator ForSomeValues:StringLike"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"NullIfExists": {"k": "true"}}}},
     "unsupported condition operator NullIfExists"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"BinaryEquals": {"k": "AA=="}}}},
     "unsupported condition operator BinaryEquals"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"stringequals": {"k": "v"}}}},
     "unsupported condition operator stringequals"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": ["StringEquals"]}}, "Condition must be an object"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"StringEquals": "k"}}},
     "Condition StringEquals must map condition keys to values"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"StringEquals": {}}}},
     "Condition StringEquals must map condition keys to values"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"StringEquals": {"k": {"a": 1}}}}},
     "condition values must be"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"StringEquals": {"k": []}}}},
     "condition values must be"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"NumericLessThan": {"n": "ten"}}}},
     "'ten' is not a valid value for NumericLessThan"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"DateLessThan": {"t": "soon"}}}},
     "'soon' is not a valid value for DateLessThan"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"Bool": {"b": "yes"}}}},
     "'yes' is not a valid value for Bool"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}}},
     "'10.0.0.300/8' is not a valid value for IpAddress"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"Null": {"k": "maybe"}}}},
     "'maybe' is not a valid value for Null"),
    ({"Version": "2012-10-17", "Statement": {**STATEMENT, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns"}}}},
     "'arn:aws:sns' is not a valid value for ArnLike"),
    (allow({"Action": "*", "Resource": "arn:aws:s3:::b/${aws:username/*"}), "unterminated policy variable"),
    (allow({"Action": "*", "Resource": "arn:aws:s3:::b/${}/*"}), "malformed policy variable '${}'"),
    (allow({"Action": "*", "Resource": "arn:aws:s3:::b/${aws:username, default}/*"}),
     "malformed policy variable '${aws:username, default}'"),
    (allow({"Action": "*", "Resource": "*", "Condition": {"StringLike": {"k": "${a${b}"}}}), "malformed policy variable"),
    ({"Version": "2008-10-17", "Statement": {**STATEMENT, "Resource": "arn:aws:s3:::b/${aws:username}"}},
     "needs \"Version\": \"2012-10-17\""),
    ({"Statement": {**STATEMENT, "Condition": {"StringEquals": {"k": "${aws:username}"}}}},
     "needs \"Version\": \"2012-10-17\""),
])
def test_check_policy_refuses(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        check_policy(doc)
    assert message in str(caught.value)


def test_check_policy_refuses_a_non_object() -> None:
    not_a_dict: Any = [STATEMENT]
    with pytest.raises(PolicyError, match="must be a JSON object"):
        check_policy(not_a_dict)


def test_evaluate_refuses_an_unchecked_unsupported_operator() -> None:
    policy = allow({"Action": "*", "Resource": "*", "Condition": {"ForAnyValue:Null": {"k": "true"}}})
    with pytest.raises(PolicyError, match="unsupported condition operator ForAnyValue:Null"):
        evaluate([policy], RequestContext("s3:GetObject", "arn:aws:s3:::b/k", {}))


# -- resource policies (a bucket's), with the identity policies, as the Authorizer decides

DISTRIBUTION = "arn:aws:cloudfront::000000000000:distribution/EDFDVBD6EXAMPLE"
ORIGIN_ACCESS = {"Version": "2012-10-17", "Statement": [{
    "Sid": "AllowCloudFrontServicePrincipalReadOnly", "Effect": "Allow",
    "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::site-bucket/*",
    "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}}]}


def test_a_service_principal_is_admitted_for_its_source_only() -> None:
    from stratus.clock import ManualClock
    from stratus.local.protocols.principals import Anonymous, Authorizer, Operator, ServicePrincipal
    policy = check_policy(ORIGIN_ACCESS, resource_policy=True)
    auth = Authorizer(ManualClock(1000.0))
    edge = ServicePrincipal("cloudfront.amazonaws.com", DISTRIBUTION)
    assert auth.allowed(edge, "s3:GetObject", "arn:aws:s3:::site-bucket/index.html", resource_policy=policy)
    other = ServicePrincipal("cloudfront.amazonaws.com", DISTRIBUTION.replace("EDFDVBD6EXAMPLE", "E2OTHER"))
    assert not auth.allowed(other, "s3:GetObject", "arn:aws:s3:::site-bucket/index.html", resource_policy=policy)
    lambda_ = ServicePrincipal("lambda.amazonaws.com", DISTRIBUTION)  # the right source, the wrong service
    assert not auth.allowed(lambda_, "s3:GetObject", "arn:aws:s3:::site-bucket/index.html", resource_policy=policy)
    assert not auth.allowed(edge, "s3:PutObject", "arn:aws:s3:::site-bucket/index.html", resource_policy=policy)
    assert not auth.allowed(edge, "s3:GetObject", "arn:aws:s3:::site-bucket/index.html")  # no policy: nothing
    assert not auth.allowed(Anonymous(), "s3:GetObject", "arn:aws:s3:::site-bucket/index.html",
                            resource_policy=policy)
    assert auth.allowed(Operator(), "s3:GetObject", "arn:aws:s3:::site-bucket/index.html", resource_policy=policy)


def test_resource_policies_must_name_principals() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    with pytest.raises(PolicyError, match="exactly one of Principal and NotPrincipal"):
        check_policy({"Version": "2012-10-17", "Statement": [statement]}, resource_policy=True)
    with pytest.raises(PolicyError, match="not allowed in an identity policy"):
        check_policy({"Version": "2012-10-17", "Statement": [{**statement, "Principal": "*"}]})
    with pytest.raises(PolicyError, match="a principal is"):
        check_policy({"Version": "2012-10-17", "Statement": [{**statement, "Principal": {"Group": "x"}}]},
                     resource_policy=True)


def test_a_deny_with_not_principal_spares_only_what_names_both_the_caller_and_its_account() -> None:
    from stratus.clock import ManualClock
    from stratus.local.protocols.principals import Authorizer, Operator
    role = "arn:aws:iam::000000000000:role/todo-identities-authenticated"

    class Role(Operator):  # a principal of the account named by its role, with no identity policy of its own
        def policies(self) -> list[dict[str, Any]]:
            return []

        def names(self) -> dict[str, list[str]]:
            return {"AWS": [role]}
    allow = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
    auth = Authorizer(ManualClock(1000.0))
    for spared, expected in (([role], False), (["arn:aws:iam::000000000000:root"], False),
                             ([role, "arn:aws:iam::000000000000:root"], True)):
        deny = {"Effect": "Deny", "NotPrincipal": {"AWS": spared}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
        policy = check_policy({"Version": "2012-10-17", "Statement": [allow, deny]}, resource_policy=True)
        assert auth.allowed(Role(), "s3:PutObject", "arn:aws:s3:::b/k", resource_policy=policy) is expected, spared
