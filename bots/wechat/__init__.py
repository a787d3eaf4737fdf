"""WeChat: the bridge API the chatgpt-on-wechat plugin calls (adapter.py), its tables,
signed media links, and the plugin itself (cow_plugin/relaybot, copied into CoW)."""
