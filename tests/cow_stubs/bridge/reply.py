"""Stand-in for CoW's ``bridge.reply``: the reply types and Reply."""

from enum import Enum


class ReplyType(Enum):
    TEXT = 1
    VOICE = 2
    IMAGE = 3
    IMAGE_URL = 4
    VIDEO_URL = 5
    FILE = 6
    INFO = 9
    ERROR = 10


class Reply:
    def __init__(self, type=None, content=None):  # noqa: A002 - CoW's names
        self.type = type
        self.content = content
