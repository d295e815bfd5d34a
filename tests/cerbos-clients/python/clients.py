"""Adapters that drive each of the PyPI `cerbos` clients through its own API and return what it answered in
Cerbos's REST JSON shape, so that one set of expectations (../expected.json) serves them all."""

import asyncio
import os

from cerbos.engine.v1 import engine_pb2
from cerbos.request.v1 import request_pb2
from cerbos.sdk import client as http_client
from cerbos.sdk import model
from cerbos.sdk.grpc import client as grpc_client
from google.protobuf import json_format

HTTP_URL = os.environ.get("CERBOS_HTTP", "http://127.0.0.1:3592")
GRPC_TARGET = os.environ.get("CERBOS_GRPC", "127.0.0.1:3593")


def http_principal(principal):
    return model.Principal(
        id=principal["id"],
        roles=set(principal["roles"]),
        attr=principal.get("attr", {}),
        policy_version=principal.get("policyVersion", "default"),
        scope=principal.get("scope", ""),
    )


def http_resource(resource):
    return model.Resource(
        id=resource["id"],
        kind=resource["kind"],
        attr=resource.get("attr", {}),
        policy_version=resource.get("policyVersion", "default"),
        scope=resource.get("scope", ""),
    )


def http_resource_desc(resource):
    return model.ResourceDesc(
        kind=resource["kind"],
        attr=resource.get("attr", {}),
        policy_version=resource.get("policyVersion", "default"),
        scope=resource.get("scope", ""),
    )


def http_resource_list(entries):
    resources = model.ResourceList()
    for resource, actions in entries:
        resources.add(http_resource(resource), set(actions))
    return resources


def http_results(response):
    response.raise_if_failed()
    return [
        {
            "id": result.resource.id,
            "actions": {action: effect.value for action, effect in result.actions.items()},
            "outputs": [{"src": o.src, "val": o.val, "action": o.action} for o in result.outputs or []],
        }
        for result in response.results or []
    ]


def http_operand(operand):
    if isinstance(operand, model.PlanResourcesExpression):
        expression = operand.expression
        return {
            "expression": {
                "operator": expression.operator,
                "operands": [http_operand(o) for o in expression.operands],
            }
        }
    if isinstance(operand, model.PlanResourcesVariable):
        return {"variable": operand.variable}
    assert isinstance(operand, model.PlanResourcesValue), operand
    return {"value": operand.value}


def http_plan(response):
    response.raise_if_failed()
    plan = {"kind": response.filter.kind.value}
    if response.filter.condition is not None:
        plan["condition"] = http_operand(response.filter.condition)
    return plan


class SyncHttp:
    """cerbos.sdk.client.CerbosClient: synchronous, over HTTP."""

    name = "http-sync"

    def check(self, principal, entries):
        with http_client.CerbosClient(HTTP_URL) as cerbos:
            return http_results(cerbos.check_resources(http_principal(principal), http_resource_list(entries)))

    def is_allowed(self, principal, resource, action):
        with http_client.CerbosClient(HTTP_URL) as cerbos:
            return cerbos.is_allowed(action, http_principal(principal), http_resource(resource))

    def plan(self, principal, resource, actions):
        with http_client.CerbosClient(HTTP_URL) as cerbos:
            return http_plan(cerbos.plan_resources(actions, http_principal(principal), http_resource_desc(resource)))

    def healthy(self):
        with http_client.CerbosClient(HTTP_URL) as cerbos:
            return cerbos.is_healthy()

    def server_version(self):
        return None


class AsyncHttp:
    """cerbos.sdk.client.AsyncCerbosClient: asyncio, over HTTP."""

    name = "http-async"

    def check(self, principal, entries):
        async def call():
            async with http_client.AsyncCerbosClient(HTTP_URL) as cerbos:
                return await cerbos.check_resources(http_principal(principal), http_resource_list(entries))

        return http_results(asyncio.run(call()))

    def is_allowed(self, principal, resource, action):
        async def call():
            async with http_client.AsyncCerbosClient(HTTP_URL) as cerbos:
                return await cerbos.is_allowed(action, http_principal(principal), http_resource(resource))

        return asyncio.run(call())

    def plan(self, principal, resource, actions):
        async def call():
            async with http_client.AsyncCerbosClient(HTTP_URL) as cerbos:
                return await cerbos.plan_resources(actions, http_principal(principal), http_resource_desc(resource))

        return http_plan(asyncio.run(call()))

    def healthy(self):
        async def call():
            async with http_client.AsyncCerbosClient(HTTP_URL) as cerbos:
                return await cerbos.is_healthy()

        return asyncio.run(call())

    def server_version(self):
        return None


def grpc_principal(principal):
    return json_format.ParseDict(principal, engine_pb2.Principal())


def grpc_resource(resource):
    return json_format.ParseDict(resource, engine_pb2.Resource())


def grpc_entries(entries):
    return [
        request_pb2.CheckResourcesRequest.ResourceEntry(resource=grpc_resource(resource), actions=actions)
        for resource, actions in entries
    ]


def grpc_plan_resource(resource):
    return json_format.ParseDict(resource, engine_pb2.PlanResourcesInput.Resource())


def grpc_results(response):
    answer = json_format.MessageToDict(response)
    return [
        {
            "id": result["resource"]["id"],
            "actions": result.get("actions", {}),
            "outputs": [
                {"src": o["src"], "val": o.get("val"), "action": o["action"]} for o in result.get("outputs", [])
            ],
        }
        for result in answer.get("results", [])
    ]


def grpc_plan(response):
    answer = json_format.MessageToDict(response)
    plan = {"kind": answer["filter"]["kind"]}
    if "condition" in answer["filter"]:
        plan["condition"] = answer["filter"]["condition"]
    return plan


def single_or_list(actions):
    # The gRPC client sends `action` for one action and `actions` for a list: use both forms.
    return actions[0] if len(actions) == 1 else list(actions)


class SyncGrpc:
    """cerbos.sdk.grpc.client.CerbosClient: synchronous, over gRPC."""

    name = "grpc-sync"

    def check(self, principal, entries):
        with grpc_client.CerbosClient(GRPC_TARGET) as cerbos:
            return grpc_results(cerbos.check_resources(grpc_principal(principal), grpc_entries(entries)))

    def is_allowed(self, principal, resource, action):
        with grpc_client.CerbosClient(GRPC_TARGET) as cerbos:
            return cerbos.is_allowed(action, grpc_principal(principal), grpc_resource(resource))

    def plan(self, principal, resource, actions):
        with grpc_client.CerbosClient(GRPC_TARGET) as cerbos:
            return grpc_plan(
                cerbos.plan_resources(single_or_list(actions), grpc_principal(principal), grpc_plan_resource(resource))
            )

    def healthy(self):
        return None

    def server_version(self):
        with grpc_client.CerbosClient(GRPC_TARGET) as cerbos:
            return cerbos.server_info().version


class AsyncGrpc:
    """cerbos.sdk.grpc.client.AsyncCerbosClient: asyncio, over gRPC."""

    name = "grpc-async"

    def check(self, principal, entries):
        async def call():
            async with grpc_client.AsyncCerbosClient(GRPC_TARGET) as cerbos:
                return await cerbos.check_resources(grpc_principal(principal), grpc_entries(entries))

        return grpc_results(asyncio.run(call()))

    def is_allowed(self, principal, resource, action):
        async def call():
            async with grpc_client.AsyncCerbosClient(GRPC_TARGET) as cerbos:
                return await cerbos.is_allowed(action, grpc_principal(principal), grpc_resource(resource))

        return asyncio.run(call())

    def plan(self, principal, resource, actions):
        async def call():
            async with grpc_client.AsyncCerbosClient(GRPC_TARGET) as cerbos:
                return await cerbos.plan_resources(
                    single_or_list(actions), grpc_principal(principal), grpc_plan_resource(resource)
                )

        return grpc_plan(asyncio.run(call()))

    def healthy(self):
        return None

    def server_version(self):
        async def call():
            async with grpc_client.AsyncCerbosClient(GRPC_TARGET) as cerbos:
                return (await cerbos.server_info()).version

        return asyncio.run(call())


ALL_CLIENTS = [SyncHttp(), AsyncHttp(), SyncGrpc(), AsyncGrpc()]

