"""The OpenAPI schema's house rules: every operation documents the API's error answers (one shape,
apps.api.errors), and a list documents its envelope `{"results": [...], "next": URL or null}`.

`PortalAutoSchema` is drf-spectacular's DEFAULT_SCHEMA_CLASS. It adds to each operation the errors it
can answer, judged from what the operation takes: 401, 403 and 429 always (every resource needs a
token or a session and a role, and is throttled); 400 when it takes a body, a query parameter or a
path parameter (the guard refuses a bad job id); 404 when it names something in its path; 503 when
its view says when it may be unavailable (`unavailable = "..."`, e.g. no warehouse worker).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "invalid, refused, not_authenticated, authentication_failed, "
                                                      "permission_denied, not_found, throttled, unavailable"},
            "message": {"type": "string", "description": "one line a person can act on"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "what is wrong with each field given (invalid input)"},
        },
    }},
}
ERRORS = {
    "400": "invalid input (`invalid`, each bad field in `fields`) or a refusal (`refused`, with the reason)",
    "401": "no credentials, or a token that is not valid (`not_authenticated`, `authentication_failed`)",
    "403": "your role may not do this (`permission_denied`, naming the permission)",
    "404": "nothing of that id (`not_found`)",
    "429": "too many requests (`throttled`); try again after the time it names",
    "503": "",  # the view's own words
}


class PortalAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA)
        registry.register_on_missing(component)
        where = {p["in"] for p in operation.get("parameters", [])}
        codes = ["401", "403", "429"]
        if "requestBody" in operation or where & {"query", "path"}:
            codes.append("400")
        if "path" in where:
            codes.append("404")
        unavailable = getattr(self.view, "unavailable", None)
        if unavailable:
            codes.append("503")
        for code in sorted(codes):
            operation["responses"].setdefault(code, {
                "description": ERRORS[code] or f"not available now (`unavailable`): {unavailable}",
                "content": {"application/json": {"schema": component.ref}}})
        return operation


def page_of(item: type[serializers.Serializer] | None, name: str, **more: serializers.Field) -> serializers.Serializer:
    """The response of a list: `{"results": [item, ...], "next": URL or null}` (and `more` fields);
    `item` None: objects described in docs/api.md rather than here."""
    results = item(many=True) if item is not None else serializers.ListField(child=serializers.DictField())
    fields = {"results": results,
              "next": serializers.URLField(allow_null=True, help_text="the next page, or null at the end"), **more}
    page = type(name, (serializers.Serializer,), fields)
    return extend_schema_serializer(many=False)(page)()
