"""Cursor pagination for the API's lists: `{"results": [...], "next": URL or null}`, newest first."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"
    ordering = "-pk"

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["results", "next"],
                "properties": {"results": schema, "next": {"type": "string", "format": "uri", "nullable": True}}}
