"""The OpenAPI 3.1 document of the admin API, served at /api/admin/openapi.json.

Written by hand, next to the routes it describes; the API tests validate every real
response against it (tests/integration/test_admin_api.py), so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from mailbridge import __version__

__all__ = ["document"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {400: "Bad request", 401: "No valid token", 403: "Token lacks the scope",
             404: "Not found", 409: "Someone answered it"}  # fmt: skip
    return {
        str(s): {"description": words[s], "content": {"application/json": {"schema": _ERROR}}}
        for s in statuses
    }


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def document() -> dict[str, Any]:
    comment_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailbridge admin API",
            "version": __version__,
            "description": "For software that integrates with mailbridge (docs/api.md). "
            "Create a token with `mailbridge token create --name NAME`.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/admin/comments": {
                "get": {
                    "summary": "Comments, newest first, by status and thread",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"$ref": "#/components/schemas/Status"},
                        },
                        {"name": "thread", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 200,
                                "default": 50,
                            },
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "next_cursor of the previous page",
                        },
                    ],
                    "responses": {**_ok("CommentPage", "One page"), **_errors(400, 401, 403, 404)},
                }
            },
            "/api/admin/comments/{id}": {
                "get": {
                    "summary": "One comment",
                    "parameters": [comment_id],
                    "responses": {**_ok("Comment", "The comment"), **_errors(401, 403, 404)},
                },
                "patch": {
                    "summary": "Edit the text (needs moderate); the text before is kept",
                    "parameters": [comment_id],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("BodyInput")}},
                    },
                    "responses": {
                        **_ok("Edited", "The comment, with the texts before each edit"),
                        **_errors(400, 401, 403, 404),
                    },
                },
                "delete": {
                    "summary": "Delete a comment nobody answered (needs moderate)",
                    "parameters": [comment_id],
                    "responses": {
                        **_ok("Deleted", "Deleted"),
                        **_errors(401, 403, 404, 409),
                    },
                },
            },
            "/api/admin/comments/{id}/history": {
                "get": {
                    "summary": "The texts before each edit, oldest first",
                    "parameters": [comment_id],
                    "responses": {**_ok("History", "The edits"), **_errors(401, 403, 404)},
                }
            },
            "/api/admin/comments/{id}/{action}": {
                "post": {
                    "summary": "Approve, reject or mark as spam (needs the moderate scope)",
                    "parameters": [
                        comment_id,
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["approve", "reject", "spam"]},
                        },
                    ],
                    "responses": {
                        **_ok("Decided", "The comment after the decision"),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/api/admin/threads": {
                "post": {
                    "summary": "Create a thread (idempotent: 200 with the existing one)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ThreadInput")}},
                    },
                    "responses": {
                        "201": _json("Created", "CreatedThread"),
                        **_ok("CreatedThread", "It was there already"),
                        **_errors(400, 401, 403),
                    },
                }
            },
            "/api/admin/threads/{key}/{verb}": {
                "post": {
                    "summary": "Close a thread to new comments, or open it again",
                    "parameters": [
                        {
                            "name": "key",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "verb",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["close", "open"]},
                        },
                    ],
                    "responses": {
                        **_ok("Thread", "The thread"),
                        **_errors(401, 403, 404),
                        "409": {
                            "description": "A WordPress post's thread: its comments open "
                            "and close in WordPress, which the bridge follows",
                            "content": {"application/json": {"schema": _ERROR}},
                        },
                    },
                }
            },
            "/api/admin/people/{verb}": {
                "post": {
                    "summary": "Export (200, JSON) or erase (202) what is held about an "
                    "address (needs the people scope); the same answer whether held or not",
                    "parameters": [
                        {
                            "name": "verb",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["export", "erase"]},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("EmailInput")}},
                    },
                    "responses": {
                        **_ok("PersonExport", "Export: everything held, empty when nothing is"),
                        "202": _json("Erase: done", "Erased"),
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/api/admin/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    required = ["id", "thread", "parent_id", "author", "body", "status", "source",
                "created_at", "published_at", "held_reason"]  # fmt: skip
    comment: dict[str, Any] = {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "thread": nullable_str,
            "parent_id": {"type": ["integer", "null"]},
            "author": {"type": "string"},
            "body": {"type": "string", "description": "Markdown, as written"},
            "status": {"$ref": "#/components/schemas/Status"},
            "source": {"enum": ["import", "web", "email"]},
            "created_at": {"type": "string"},
            "published_at": nullable_str,
            "held_reason": nullable_str,
        },
    }
    thread: dict[str, Any] = {
        "type": "object",
        "required": ["key", "title", "url", "closed"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string"},
            "closed": {"type": "boolean"},
        },
    }
    decided = {
        "allOf": [{"$ref": "#/components/schemas/CommentFields"}],
        "type": "object",
        "required": [*required, "changed"],
        "properties": {"changed": {"type": "boolean"}},
    }
    return {
        "Status": {"enum": ["pending", "approved", "rejected", "spam"]},
        "Comment": comment,
        "CommentFields": {**comment, "additionalProperties": True},
        "Decided": decided,
        "CommentPage": {
            "type": "object",
            "required": ["comments", "next_cursor"],
            "additionalProperties": False,
            "properties": {
                "comments": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}},
                "next_cursor": nullable_str,
            },
        },
        "BodyInput": {
            "type": "object",
            "required": ["body"],
            "additionalProperties": False,
            "properties": {"body": {"type": "string", "maxLength": 20000}},
        },
        "Edit": {
            "type": "object",
            "required": ["body", "edited_at", "by"],
            "additionalProperties": False,
            "properties": {
                "body": {"type": "string"},
                "edited_at": {"type": "string"},
                "by": {"type": "string"},
            },
        },
        "History": {
            "type": "object",
            "required": ["edits"],
            "additionalProperties": False,
            "properties": {"edits": {"type": "array", "items": _ref("Edit")}},
        },
        "Edited": {
            "type": "object",
            "required": [*required, "changed", "history"],
            "additionalProperties": False,
            "properties": {
                **comment["properties"],
                "changed": {"type": "boolean"},
                "history": {"type": "array", "items": _ref("Edit")},
            },
        },
        "Deleted": {
            "type": "object",
            "required": ["id", "deleted"],
            "additionalProperties": False,
            "properties": {"id": {"type": "integer"}, "deleted": {"const": True}},
        },
        "EmailInput": {
            "type": "object",
            "required": ["email"],
            "additionalProperties": False,
            "properties": {"email": {"type": "string", "maxLength": 320}},
        },
        "Erased": {
            "type": "object",
            "required": ["status"],
            "additionalProperties": False,
            "properties": {"status": {"const": "erased"}},
        },
        "PersonExport": {
            "type": "object",
            "required": [
                "address",
                "comments",
                "subscriptions",
                "messages_received",
                "emails_sent",
                "bounces",
                "trust",
                "akismet_checks",
                "mail_events",
            ],
            "additionalProperties": False,
            "properties": {
                "address": {"type": ["object", "null"]},
                "comments": {"type": "array", "items": {"type": "object"}},
                "subscriptions": {"type": "array", "items": {"type": "object"}},
                "messages_received": {"type": "array", "items": {"type": "object"}},
                "emails_sent": {"type": "array", "items": {"type": "object"}},
                "bounces": {"type": "array", "items": {"type": "object"}},
                "trust": {"type": ["object", "null"]},
                # What Akismet was sent about their web comments, kept 30 days.
                "akismet_checks": {"type": "array", "items": {"type": "object"}},
                # Bounces and complaints mail services reported about mail to them.
                "mail_events": {"type": "array", "items": {"type": "object"}},
            },
        },
        "ThreadInput": {
            "type": "object",
            "required": ["key", "title", "url"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,99}$"},
                "title": {"type": "string", "maxLength": 300},
                "url": {"type": "string", "maxLength": 2000},
            },
        },
        "Thread": thread,
        "CreatedThread": {
            "type": "object",
            "required": [*thread["required"], "created"],
            "additionalProperties": False,
            "properties": {**thread["properties"], "created": {"type": "boolean"}},
        },
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "stable, for programs"},
                "message": {"type": "string", "description": "for people"},
            },
        },
    }
