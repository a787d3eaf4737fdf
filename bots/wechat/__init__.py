"""WeChat: for now only the ``wechat:`` section of the configuration (the adapter comes next)."""
