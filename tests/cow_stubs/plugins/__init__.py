"""Stand-in for CoW's ``plugins`` package: events, the plugin base class and ``register``."""

import json
import os
import sys
from enum import Enum

from config import pconf, write_plugin_config

registered: dict[str, type] = {}


class Event(Enum):
    ON_RECEIVE_MESSAGE = 1
    ON_HANDLE_CONTEXT = 2
    ON_DECORATE_REPLY = 3
    ON_SEND_REPLY = 4


class EventAction(Enum):
    CONTINUE = 1
    BREAK = 2
    BREAK_PASS = 3


class EventContext:
    def __init__(self, event, econtext=None):
        self.event = event
        self.econtext = econtext if econtext is not None else {}
        self.action = EventAction.CONTINUE

    def __getitem__(self, key):
        return self.econtext[key]

    def __setitem__(self, key, value):
        self.econtext[key] = value

    def is_pass(self):
        return self.action == EventAction.BREAK_PASS


class Plugin:
    name = ""
    path = ""

    def __init__(self):
        self.handlers = {}

    def load_config(self):
        found = pconf(self.name)
        if not found:
            local = os.path.join(self.path, "config.json")
            if os.path.exists(local):
                with open(local, encoding="utf-8") as file:
                    found = json.load(file)
                write_plugin_config({self.name: found})
        return found

    def get_help_text(self, **kwargs):
        return ""


def register(name, desire_priority=0, **kwargs):
    def wrapper(cls):
        cls.name = name
        cls.priority = desire_priority
        cls.desc = kwargs.get("desc")
        cls.version = kwargs.get("version", "1.0")
        cls.path = os.path.dirname(sys.modules[cls.__module__].__file__)
        registered[name.upper()] = cls
        return cls

    return wrapper
