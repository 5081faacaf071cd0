"""Tables on AWS: DynamoDB, on demand, point-in-time recovery, encrypted, a stream where declared, kept on
destroy; a global table is a ``TableV2`` with a replica in each of its other regions (the stack is in its home
region). Tables that declare a cache share one DAX cluster per app, in a VPC of its own with no route out;
functions using a cached table run in that VPC and reach the table only through the cluster."""

from __future__ import annotations

from typing import Any

from ....errors import ConfigError
from ....graph import Table
from ..synth import Binding, StackBuilder, SynthKind

DAX_PORT = 9111  # DAX's TLS port


class TableKind(SynthKind[Table]):
    def vendor(self, b: StackBuilder, decl: Table) -> list[str]:
        return ["amazon-dax-client"] if decl.cache is not None and b.options.dax else []

    def build(self, b: StackBuilder, decl: Table) -> Any:
        if decl.cache is not None and b.options.dax:  # the cluster exists once the app has a cached table
            b.later(lambda: b.shared("dax", lambda: build_dax(b)))
        d = b.ddb
        attr = {str: d.AttributeType.STRING, int: d.AttributeType.NUMBER}
        sort = decl.sort_key
        if decl.regions:  # a global table: a replica in each other region, last writer wins between them
            return d.TableV2(
                b.stack, b.id(decl),
                partition_key=d.Attribute(name=decl.partition_key.name, type=attr[decl.partition_key.type]),
                sort_key=d.Attribute(name=sort.name, type=attr[sort.type]) if sort else None,
                billing=d.Billing.on_demand(), encryption=d.TableEncryptionV2.aws_managed_key(),
                point_in_time_recovery_specification=d.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True),
                dynamo_stream=d.StreamViewType.NEW_AND_OLD_IMAGES,
                replicas=[d.ReplicaTableProps(region=r) for r in decl.regions[1:]],
                removal_policy=b.cdk.RemovalPolicy.RETAIN)
        return d.Table(
            b.stack, b.id(decl),
            partition_key=d.Attribute(name=decl.partition_key.name, type=attr[decl.partition_key.type]),
            sort_key=d.Attribute(name=sort.name, type=attr[sort.type]) if sort else None,
            billing_mode=d.BillingMode.PAY_PER_REQUEST, encryption=d.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=d.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            stream=d.StreamViewType.NEW_AND_OLD_IMAGES if decl.stream else None,
            removal_policy=b.cdk.RemovalPolicy.RETAIN)

    def bind(self, b: StackBuilder, decl: Table, built: Any) -> Binding:
        binding = Binding(built.table_name, built.table_arn)
        if decl.cache is not None and b.options.dax:
            dax = b.shared("dax", lambda: build_dax(b))
            binding.env["STRATUS_DAX_ENDPOINT"] = dax.attr_cluster_discovery_endpoint_url
            binding.shared["dax"] = dax.attr_arn
            binding.vpc = True
        return binding


def build_dax(b: StackBuilder) -> Any:
    """One DAX cluster for the app's cached tables, in a VPC of its own with no internet route."""
    cached = [t for t in b.graph.of_kind(Table) if t.cache is not None]
    ttls = {(t.cache.item_ttl, t.cache.query_ttl) for t in cached if t.cache is not None}
    if len(ttls) > 1:
        raise ConfigError(f"app {b.graph.name!r}: one DAX cluster serves an app's cached tables, so "
                          f"their cache TTLs must agree ({', '.join(t.name for t in cached)} differ)")
    item_ttl, query_ttl = ttls.pop()
    ec2, iam, dax_ = b.ec2, b.iam, b.dax_
    vpc = b.shared("vpc", lambda: ec2.Vpc(
        b.stack, "vpc", max_azs=3, nat_gateways=0, restrict_default_security_group=False,
        subnet_configuration=[ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                                      cidr_mask=24)],
        gateway_endpoints={"dynamodb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                           "s3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)}))
    dax_sg = ec2.SecurityGroup(b.stack, "dax-sg", vpc=vpc, allow_all_outbound=False,
                               description="DAX - TLS from the app functions only")
    # the subnets have no route out of the VPC: egress reaches DAX and, through the gateway
    # endpoints, DynamoDB and S3, nothing else
    function_sg = b.shared("function-sg", lambda: ec2.SecurityGroup(
        b.stack, "function-sg", vpc=vpc, allow_all_outbound=True,
        description="the app functions - no route leaves the VPC"))
    dax_sg.add_ingress_rule(function_sg, ec2.Port.tcp(DAX_PORT), "functions to DAX over TLS")
    role = iam.Role(b.stack, "dax-role", assumed_by=iam.ServicePrincipal("dax.amazonaws.com"),
                    description="DAX reads and writes the cached tables")
    role.add_to_policy(iam.PolicyStatement(
        actions=["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                 "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
                 "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"],
        resources=[b.construct(t).table_arn for t in cached]))
    subnets = dax_.CfnSubnetGroup(b.stack, "dax-subnets", description=f"{b.graph.name} DAX",
                                  subnet_ids=[s.subnet_id for s in vpc.isolated_subnets])
    params = dax_.CfnParameterGroup(b.stack, "dax-params", description=f"{b.graph.name} cache TTLs",
                                    parameter_name_values={"record-ttl-millis": str(int(item_ttl * 1000)),
                                                           "query-ttl-millis": str(int(query_ttl * 1000))})
    dax = dax_.CfnCluster(
        b.stack, "dax", iam_role_arn=role.role_arn, node_type=b.options.dax_node_type,
        replication_factor=b.options.dax_nodes, subnet_group_name=subnets.ref,
        parameter_group_name=params.ref, security_group_ids=[dax_sg.security_group_id],
        sse_specification=dax_.CfnCluster.SSESpecificationProperty(sse_enabled=True),
        cluster_endpoint_encryption_type="TLS", description=f"{b.graph.name}: cache for "
                                                            + ", ".join(t.name for t in cached))
    dax.node.add_dependency(role)
    return dax


KIND = TableKind()
