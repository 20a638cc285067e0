"""Reading events: query parsing, pages, gets, exports, the query cache, self-audit."""
