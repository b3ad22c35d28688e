"""Typed, validated settings of a clearml-openshift stack (pydantic)."""

from .load import PROJECT, ConfigError, current_config, current_secret_keys, settings_from_config, top_level_keys
from .models import Settings

__all__ = ["PROJECT", "ConfigError", "Settings", "current_config", "current_secret_keys", "settings_from_config", "top_level_keys"]
