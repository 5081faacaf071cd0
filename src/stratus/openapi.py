"""The OpenAPI 3.1 document of a declared ``RestApi``, derived from its routes.

Bodies and responses appear as their JSON Schema, whether a route declared a schema dict or a
dataclass / TypedDict it was derived from; the statuses a route declares it answers
(``responses={409: ...}``) appear beside the ones every route may give.
"""

from __future__ import annotations

from typing import Any

from .graph import RestApi

_ERROR = {"type": "object", "properties": {"message": {"type": "string"},
                                           "errors": {"type": "array", "items": {"type": "string"}}},
          "required": ["message"]}


def openapi_document(api: RestApi, base_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in api.routes:
        op: dict[str, Any] = {"operationId": r.operation_id, "responses": {}}
        if r.summary:
            op["summary"] = r.summary
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in r.params]
        params += [{"name": n, "in": "query", "required": False, "schema": s} for n, s in r.query.items()]
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
        success: dict[str, Any] = {"description": "success"}
        if r.response is not None:
            success["content"] = {"application/json": {"schema": r.response}}
        op["responses"][str(r.status)] = success
        errors = {"400": "invalid request", "404": "not found", "413": "body too large"}
        if not r.public:
            op["security"] = [{"userPool": []}]
            errors["401"] = "missing or invalid access token"
        for status, why in r.responses.items():  # what the route declares it answers
            if status >= 400:
                errors[str(status)] = why
            else:
                op["responses"].setdefault(str(status), {"description": why})
        for code, desc in sorted(errors.items()):
            op["responses"][code] = {"description": desc,
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": api.title or api.name, "version": api.version},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }
    if api.authorizer is not None:
        doc["components"]["securitySchemes"] = {"userPool": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                             "description": f"access token of user pool {api.authorizer.name!r}"}}
    return doc
