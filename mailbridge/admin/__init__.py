"""The admin API for software that integrates (issue 11): API tokens, their CLI, the
routes and the OpenAPI document that describes them (docs/api.md)."""
