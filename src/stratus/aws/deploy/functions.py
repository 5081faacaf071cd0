"""The functions synthesis makes: one per handler (a route's, a trigger's), each running the one entry point with
an environment naming what its handler uses and a role granting exactly that."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...graph import Resource
from ..runtime.kinds import env_var
from .bundle import LAMBDA_PYTHON
from .permissions import handler_policy
from .synth import Binding, StackBuilder

ENTRY = "stratus.aws.runtime.entry.handler"
# the network-interface actions Lambda uses for a function in a VPC; EC2 scopes them to no resource
VPC_ACTIONS = ("ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
               "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses")


def handler_function(b: StackBuilder, name: str, uses: tuple[Resource, ...], env_extra: dict[str, str],
                     timeout: float, role_description: str, description: str,
                     writes: Mapping[Resource, tuple[str, ...]] | None = None) -> Any:
    """A function running the one entry point for one handler (a route's, a trigger's): an environment naming what
    it ``uses`` (and ``env_extra``), a role granting exactly that (writing a resource only under the key prefixes
    ``writes`` gives it), its own log group, ``timeout`` seconds."""
    cdk_, iam, lambda_ = b.cdk, b.iam, b.lambda_
    bindings: dict[Any, Binding] = {r: b.bind(r) for r in uses}
    log_group = b.logs.LogGroup(b.stack, f"{name}-log", retention=b.retention(),
                                removal_policy=cdk_.RemovalPolicy.DESTROY)
    role = iam.Role(b.stack, f"{name}-role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description=role_description)
    env = {"STRATUS_APP": b.app_dir.resolve().name, **env_extra}
    shared: dict[str, str] = {}
    in_vpc = False
    for resource, binding in bindings.items():
        env[env_var(resource)] = binding.name
        env.update(binding.env)
        shared.update(binding.shared)
        in_vpc |= binding.vpc
    policy = handler_policy(uses, lambda r: bindings[r].arn, shared.get("dax"), writes)
    granted = iam.Policy(b.stack, f"{name}-uses", roles=[role], document=iam.PolicyDocument.from_json(policy)) \
        if policy["Statement"] else None
    role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                           resources=[log_group.log_group_arn]))
    vpc: dict[str, Any] = {}
    if in_vpc:
        vpc = {"vpc": b.shared("vpc"), "security_groups": [b.shared("function-sg")],
               "vpc_subnets": b.ec2.SubnetSelection(subnet_type=b.ec2.SubnetType.PRIVATE_ISOLATED)}
        # what Lambda needs to place the function in the VPC: AWS's AWSLambdaVPCAccessExecutionRole
        # without its logs actions on every resource (the function logs to its own group, above)
        role.add_to_policy(iam.PolicyStatement(actions=list(VPC_ACTIONS), resources=["*"]))
    fn = lambda_.Function(
        b.stack, name, runtime=getattr(lambda_.Runtime, "PYTHON_" + LAMBDA_PYTHON.replace(".", "_")),
        architecture=lambda_.Architecture.ARM_64, handler=ENTRY, code=b.code(), role=role, environment=env,
        log_group=log_group, memory_size=512, timeout=cdk_.Duration.seconds(max(1, math.ceil(timeout))),
        description=description, **vpc)
    if granted is not None:  # the function is not created before what it may do is attached
        fn.node.add_dependency(granted)
    return fn


