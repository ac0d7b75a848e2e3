"""Cursor pagination for the API's lists: `{"results": [...], "next": URL or null}`, newest first."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"
    ordering = "-pk"

    def decode_cursor(self, request):
        """A cursor that is not one of ours is bad input (400 `invalid`), not a missing page."""
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: str(exc.detail)}) from None

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["results", "next"],
                "properties": {"results": schema, "next": {"type": "string", "format": "uri", "nullable": True}}}
