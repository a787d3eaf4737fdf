"""Stand-in for CoW's ``bridge.context``: the context types and the dict-like Context."""

from enum import Enum


class ContextType(Enum):
    TEXT = 1
    VOICE = 2
    IMAGE = 3
    FILE = 4
    VIDEO = 5
    SHARING = 6
    IMAGE_CREATE = 10


class Context:
    def __init__(self, type=None, content=None, kwargs=None):  # noqa: A002 - CoW's names
        self.type = type
        self.content = content
        self.kwargs = kwargs if kwargs is not None else {}

    def __contains__(self, key):
        return key in self.kwargs

    def __getitem__(self, key):
        if key == "type":
            return self.type
        if key == "content":
            return self.content
        return self.kwargs[key]

    def __setitem__(self, key, value):
        if key == "type":
            self.type = value
        elif key == "content":
            self.content = value
        else:
            self.kwargs[key] = value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default
