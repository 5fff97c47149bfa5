"""The OpenAPI 3.1 document of a model server: every route, with the request bodies of both
protocols described for the model it serves (its columns by name and kind), so a client
generator or a property-based tester knows exactly what is accepted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServingState

_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "float": {"type": "number"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "str": {"type": "string"},
    "any": {"type": ["number", "string"]},
}


def _error(schema: str) -> dict[str, Any]:
    return {"description": "Refused", "content": {"application/json": {"schema": {"$ref": schema}}}}


def _json_ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(state: ServingState) -> dict[str, Any]:
    predictor = state.predictor
    columns = predictor.spec.describe() if predictor is not None else []
    names = [c["name"] for c in columns]
    row = {
        "type": "object",
        "properties": {c["name"]: _KIND_SCHEMA[c["kind"]] for c in columns},
        "required": names,
        "additionalProperties": False,
    }
    value = {"anyOf": [_KIND_SCHEMA[c["kind"]] for c in columns] or [{"type": "number"}]}
    positional = {"type": "array", "items": value, "minItems": len(names), "maxItems": len(names)}
    params = {
        "type": "object",
        "properties": {
            "predict_proba": {"type": "boolean"},
            "method": {"enum": ["predict", "predict_proba"]},
        },
        "additionalProperties": False,
    }
    invocations_body = {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"enum": names or ["0"]}},
                            "data": {"type": "array", "items": positional, "minItems": 1},
                        },
                        "required": ["data"],
                    },
                    "params": params,
                },
                "required": ["dataframe_split"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "dataframe_records": {"type": "array", "items": row, "minItems": 1},
                    "params": params,
                },
                "required": ["dataframe_records"],
                "additionalProperties": False,
            },
            *(
                {
                    "type": "object",
                    "properties": {
                        key: {
                            "oneOf": [
                                {"type": "array", "items": positional, "minItems": 1},
                                {"type": "array", "items": row, "minItems": 1},
                            ]
                        },
                        "params": params,
                    },
                    "required": [key],
                    "additionalProperties": False,
                }
                for key in ("instances", "inputs")
            ),
        ]
    }
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {
                "enum": ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16",
                         "UINT32", "UINT64", "FP16", "FP32", "FP64", "BYTES"]
            },
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
        "required": ["name", "shape", "datatype", "data"],
    }  # fmt: skip
    infer_body = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"enum": ["predict", "predict_proba"]}},
                    "required": ["name"],
                },
            },
            "parameters": {"type": "object"},
        },
        "required": ["inputs"],
    }
    feedback_item = {
        "type": "object",
        "properties": {
            "request_id": {"type": "string", "maxLength": 64},
            "label": {"type": ["number", "string", "boolean"]},
            "labels": {"type": "array", "items": {"type": ["number", "string", "boolean"]}},
        },
        "required": ["request_id"],
    }
    feedback_body = {
        "oneOf": [
            feedback_item,
            {
                "type": "object",
                "properties": {"feedback": {"type": "array", "items": feedback_item}},
                "required": ["feedback"],
            },
        ]
    }
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    # The binary tensor extension: this many bytes of JSON, then the inputs' raw bytes.
    binary_header = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    mlflow_error = "#/components/schemas/MlflowError"
    v2_error = "#/components/schemas/V2Error"
    error = "#/components/schemas/Error"

    def get(summary: str, schema: dict[str, Any], err: str = error, **extra: Any) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "responses": {"200": _json_ok(schema), "4XX": _error(err)},
                **extra,
            }
        }

    def v2_model_paths(prefix: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            prefix: get("Model metadata", {"type": "object"}, v2_error, parameters=params),
            f"{prefix}/ready": get(
                "Model readiness", {"type": "object"}, v2_error, parameters=params
            ),
            f"{prefix}/infer": {
                "post": {
                    "summary": "Predict (Open Inference Protocol v2)",
                    "parameters": [*params, binary_header],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": infer_body}},
                    },
                    "responses": {"200": _json_ok({"type": "object"}), "4XX": _error(v2_error)},
                }
            },
        }

    text_ok = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    paths: dict[str, Any] = {
        "/": get("What this server serves", {"type": "object"}),
        "/invocations": {
            "post": {
                "summary": "Predict (MLflow's scoring protocol)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": invocations_body},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": _json_ok(
                        {"type": "object", "properties": {"predictions": {"type": "array"}}}
                    ),
                    "4XX": _error(mlflow_error),
                },
            }
        },
        "/ping": {"get": {"summary": "Health", "responses": {"200": text_ok}}},
        "/health": {"get": {"summary": "Health", "responses": {"200": text_ok}}},
        "/version": get("Model, version and server", {"type": "object"}),
        "/feedback": {
            "post": {
                "summary": "True labels of recorded predictions, by request id",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": feedback_body}},
                },
                "responses": {"200": _json_ok({"type": "object"}), "4XX": _error(error)},
            }
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": text_ok}}},
        "/openapi.json": get("This document", {"type": "object"}),
        "/v2": get("Server metadata (Open Inference Protocol v2)", {"type": "object"}, v2_error),
        "/v2/health/live": get("Liveness", {"type": "object"}, v2_error),
        "/v2/health/ready": get("Readiness", {"type": "object"}, v2_error),
        **v2_model_paths("/v2/models/{name}", [name_param]),
        **v2_model_paths("/v2/models/{name}/versions/{version}", [name_param, version_param]),
    }
    security: list[dict[str, list[str]]] = [{"bearer": []}] if state.token is not None else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{state.name} (jupyter-mlops model server)",
            "version": state.server_version,
            "description": f"Serves models:/{state.name}{state.ref}"
            + (f", now version {predictor.version}" if predictor is not None else ""),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
                "MlflowError": {
                    "type": "object",
                    "properties": {
                        "error_code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
                "V2Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": security,
    }
