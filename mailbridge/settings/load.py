"""Load settings in layers: defaults, a TOML file, MAILBRIDGE_* variables, flags.

An unknown key in any layer is an error with a "did you mean" hint, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailbridge.errors import ConfigError
from mailbridge.settings.schema import Settings
from mailbridge.settings.validate import validate

__all__ = ["ENV_PREFIX", "iter_keys", "load_settings", "reference_table"]

ENV_PREFIX = "MAILBRIDGE_"
# Environment variables in our namespace that are not settings.
_ENV_NOT_SETTINGS = frozenset({"MAILBRIDGE_CONFIG", "MAILBRIDGE_LOG_FORMAT"})


def _name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("name") or f.name)


@dataclass(frozen=True)
class _Key:
    field: dataclasses.Field[Any]
    type: Any  # the resolved annotation (annotations are strings under __future__)

    @property
    def is_section(self) -> bool:
        return isinstance(self.type, type) and dataclasses.is_dataclass(self.type)

    @property
    def table_type(self) -> type[Any] | None:
        """The entry type of a list of tables (``[[webhooks]]``), else None."""
        if typing.get_origin(self.type) is not tuple:
            return None
        entry = typing.get_args(self.type)[0]
        return entry if isinstance(entry, type) and dataclasses.is_dataclass(entry) else None


def _fields(cls: type[Any]) -> dict[str, _Key]:
    hints = typing.get_type_hints(cls)
    return {_name(f): _Key(f, hints[f.name]) for f in dataclasses.fields(cls)}


def iter_keys() -> list[tuple[str, str, Any, str]]:
    """(dotted key, type name, default, help) for every setting, in declaration order."""
    rows: list[tuple[str, str, Any, str]] = []

    def walk(cls: type[Any], prefix: str) -> None:
        for name, key in _fields(cls).items():
            if key.is_section:
                walk(key.type, f"{prefix}{name}.")
                continue
            if key.table_type is not None:
                walk(key.table_type, f"{prefix}{name}[].")
                continue
            f = key.field
            rows.append((prefix + name, _type_name(key.type), f.default, f.metadata["help"]))

    walk(Settings, "")
    return rows


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return "list of strings"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _coerce(value: Any, tp: Any, where: str, from_env: bool) -> Any:
    """Turn a TOML or environment value into the declared type, or explain why not."""
    if typing.get_origin(tp) is tuple:
        if from_env:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return tuple(value)
    if tp is bool:
        if from_env:
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false")
        return value
    if tp in (int, float):
        if from_env:
            try:
                value = tp(value.strip())
            except ValueError:
                wanted = "an integer" if tp is int else "a number"
                raise ConfigError(f"{where}: expected {wanted}") from None
        wanted = "an integer" if tp is int else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected {wanted}")
        if tp is int and not isinstance(value, int):
            raise ConfigError(f"{where}: expected {wanted}")
        return tp(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


def _apply(
    cls: type[Any],
    current: Any,
    values: Mapping[str, Any],
    where: str,
    problems: list[str],
    from_env: bool = False,
) -> Any:
    """``current`` with ``values`` applied; each key that cannot be (unknown, of the wrong
    type) is added to ``problems`` and left as it was, so every one is reported."""
    known = _fields(cls)
    changes: dict[str, Any] = {}
    for name, value in values.items():
        key = known.get(name)
        if key is None:
            problems.append(f"{where}: unknown key '{name}'{_hint(name, list(known))}")
            continue
        attr = key.field.name
        try:
            if key.is_section:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: '{name}' must be a [{name}] table")
                sub_where = f"{where} [{name}]"
                changes[attr] = _apply(
                    key.type, getattr(current, attr), value, sub_where, problems, from_env
                )
            elif (entry := key.table_type) is not None:
                if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
                    raise ConfigError(f"{where}: '{name}' must be [[{name}]] tables")
                changes[attr] = tuple(
                    _apply(entry, entry(), item, f"{where} [[{name}]] #{n}", problems, from_env)
                    for n, item in enumerate(value, start=1)
                )
            else:
                changes[attr] = _coerce(value, key.type, f"{where}: {name}", from_env)
        except ConfigError as exc:
            problems.append(str(exc))
    return dataclasses.replace(current, **changes)


def _env_layer(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """MAILBRIDGE_SECTION_KEY=value → {"section": {"key": "value"}}; unknown names refused."""
    env_names: dict[str, tuple[str, ...]] = {}
    for dotted, _tp, _default, _help in iter_keys():
        if "[]" in dotted:
            continue  # a list of tables is set in the file only
        parts = tuple(dotted.split("."))
        env_names[ENV_PREFIX + "_".join(parts).upper()] = parts
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_SETTINGS:
            continue
        path = env_names.get(name)
        if path is None:
            problems.append(f"environment: unknown setting {name}{_hint(name, list(env_names))}")
            continue
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return layer


def _set_in(values: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, str]:
    """Each dotted key a layer sets, with where: the file's name, or the environment
    with the variable's name."""
    found: dict[str, str] = {}
    for name, value in values.items():
        dotted = prefix + name
        if isinstance(value, Mapping):
            found.update(_set_in(value, source, dotted + "."))
        elif source == "the environment":
            found[dotted] = f"{source}: {ENV_PREFIX}{dotted.replace('.', '_').upper()}"
        else:
            found[dotted] = source
    return found


def _with_source(problem: str, sources: Mapping[str, str]) -> str:
    """A value's problem ("outbound.retry_base_seconds: must be ...") with where the
    value was set, as the unknown keys and wrong types say it: an operator with a file
    and a secrets file of MAILBRIDGE_* variables looked for it in the wrong one."""
    source = sources.get(problem.partition(":")[0].strip())
    return f"{problem} (set in {source})" if source else problem


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, a TOML file, the environment and flag overrides;
    a ConfigError lists every problem found, each with its key and where it was set."""
    settings = Settings()
    problems: list[str] = []
    sources: dict[str, str] = {}  # dotted key -> where its value was set, the last layer
    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: invalid TOML: {exc}") from None
        settings = _apply(Settings, settings, data, str(config_file), problems)
        sources.update(_set_in(data, str(config_file)))
    if environ is not None:
        layer = _env_layer(environ, problems)
        settings = _apply(Settings, settings, layer, "environment", problems, True)
        sources.update(_set_in(layer, "the environment"))
    if overrides:
        settings = _apply(Settings, settings, overrides, "command line", problems)
        sources.update(_set_in(overrides, "the command line"))
    try:
        validate(settings)
    except ConfigError as exc:
        problems += [_with_source(line, sources) for line in str(exc).splitlines()]
    if problems:
        # Every problem at once, one a line: the file is fixed in one go.
        raise ConfigError("\n".join(problems))
    return settings


def reference_table() -> str:
    """The Markdown table of every setting (docs/configuration.md embeds it; a test checks)."""
    lines = [
        "| key | environment variable | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for dotted, type_name, default, help_text in iter_keys():
        env = ENV_PREFIX + dotted.replace(".", "_").upper()
        env = "(file only)" if "[]" in dotted else f"`{env}`"
        shown = list(default) if isinstance(default, tuple) else default
        lines.append(f"| `{dotted}` | {env} | {type_name} | `{shown!r}` | {help_text} |")
    return "\n".join(lines)
