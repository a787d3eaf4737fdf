"""relaybot's plugin for chatgpt-on-wechat (CoW 1.7.6 and 2.x): forwards WeChat messages to
relaybot's bridge API and delivers its replies and late results. Install by copying this
folder into CoW's ``plugins/`` folder (see relaybot's README, "WeChat")."""

from .relaybot import Relaybot

__all__ = ["Relaybot"]
