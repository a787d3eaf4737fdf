"""Stand-in for CoW's ``config``: ``conf()`` and the plugins' configuration."""

settings: dict = {"channel_type": "weixin"}
plugin_config: dict = {}


def conf():
    return settings


def write_plugin_config(pconf: dict):
    for key, value in pconf.items():
        plugin_config[key.lower()] = value


def pconf(plugin_name: str):
    return plugin_config.get(plugin_name.lower())
