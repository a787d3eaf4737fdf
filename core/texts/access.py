"""Texts of access and spending (issue 12): refusals, quotas, /usage, admin commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.texts.i18n import Lang

ACCESS_TEXTS: dict[str, dict[Lang, str]] = {
    "access.refused": {
        "zh": "你还不能使用这个机器人。请把你的 ID 发给管理员：{id}",
        "en": "You may not use this bot yet. Give the admin your id: {id}",
    },
    "error.quota_exceeded": {
        "zh": "已达到{limit}上限：已用 {used} / {max}。{resets} 重置。",
        "en": "You reached the limit of {limit}: {used} of {max} used. It resets {resets}.",
    },
    "error.rate_limited_user": {
        "zh": "消息太频繁了：每分钟最多 {max} 条。请稍等一会儿再发。",
        "en": "Too many messages: at most {max} a minute. Please wait a moment.",
    },
    "error.model_not_allowed": {
        "zh": "不能使用模型 {model}。可选：{choices}",
        "en": "The model {model} is not allowed. You may pick: {choices}",
    },
    "help.models_here": {
        "zh": "此处 -m 可选的模型：{choices}",
        "en": "Models -m may name here: {choices}",
    },
    "error.not_chat_admin": {
        "zh": "在共享的群对话中，只有群管理员或机器人管理员可以更改 /{command}。",
        "en": "In a shared group conversation only chat admins or bot admins may change "
        "/{command}.",
    },
    "error.admin_only": {
        "zh": "只有机器人管理员可以使用 /{command}。",
        "en": "Only the bot's admins may use /{command}.",
    },
    "quota.limit.chat_tokens": {"zh": "每日对话 token", "en": "daily chat tokens"},
    "quota.limit.images": {"zh": "每日图片", "en": "daily pictures"},
    "quota.limit.songs": {"zh": "每日歌曲", "en": "daily songs"},
    "quota.limit.videos": {"zh": "每日视频", "en": "daily videos"},
    "quota.limit.speech_chars": {"zh": "每日朗读字数", "en": "daily speech characters"},
    "quota.group": {"zh": "（本群）", "en": " (this group)"},
    "quota.resets_at": {"zh": "{time}（{tz}）", "en": "at {time} ({tz})"},
    "cmd.whoami": {
        "zh": "你的 ID：{id}\n本聊天：{chat}{admin}",
        "en": "Your id: {id}\nThis chat: {chat}{admin}",
    },
    "cmd.whoami.admin": {"zh": "\n你是机器人管理员。", "en": "\nYou are a bot admin."},
    "cmd.access.usage": {
        "zh": "用法：/{command} platform:id，或回复那个人的消息发送 /{command}",
        "en": "Usage: /{command} platform:id, or send /{command} as a reply to their message",
    },
    "cmd.allow.done": {"zh": "已允许 {id} 使用机器人。", "en": "{id} may use the bot now."},
    "cmd.block.done": {"zh": "已屏蔽 {id}。", "en": "{id} is blocked now."},
    "cmd.unblock.done": {"zh": "已解除屏蔽 {id}。", "en": "{id} is no longer blocked."},
    "cmd.block.admin": {
        "zh": "{id} 是配置里的管理员，不能屏蔽。",
        "en": "{id} is an admin in the config and cannot be blocked.",
    },
    "cmd.unblock.config": {
        "zh": "注意：{id} 在配置文件的 blocked_users 中，仍被屏蔽，请改配置。",
        "en": "Note: {id} is in blocked_users of the config file and stays blocked; edit it.",
    },
    "usage.head": {
        "zh": "{who} 的用量（{tz}）",
        "en": "Usage of {who} ({tz})",
    },
    "usage.line": {
        "zh": "{what}：今天 {today}{limit}，本月 {month}",
        "en": "{what}: today {today}{limit}, this month {month}",
    },
    "usage.of_limit": {"zh": " / {max}", "en": " of {max}"},
    "usage.what.chat_tokens": {"zh": "对话 token", "en": "chat tokens"},
    "usage.what.images": {"zh": "图片", "en": "pictures"},
    "usage.what.songs": {"zh": "歌曲", "en": "songs"},
    "usage.what.videos": {"zh": "视频", "en": "videos"},
    "usage.what.speech_chars": {"zh": "朗读字数", "en": "speech characters"},
    "usage.all.head": {
        "zh": "{period} 的总用量（{tz}）",
        "en": "Total use {period} ({tz})",
    },
    "usage.all.today": {"zh": "今天", "en": "today"},
    "usage.all.month": {"zh": "本月", "en": "this month"},
    "usage.all.models": {"zh": "按模型：", "en": "By model:"},
    "usage.all.top": {"zh": "用量最多的用户：", "en": "Top users:"},
    "usage.all.none": {"zh": "（暂无）", "en": "(none yet)"},
    "stats.text": {
        "zh": "统计（全部保留的数据）\n用户：{users}\n聊天：{chats}\n消息：{messages}\n"
        "任务：{jobs}（失败 {failed}）\n错误：{errors}",
        "en": "Stats (all data kept)\nUsers: {users}\nChats: {chats}\nMessages: {messages}\n"
        "Jobs: {jobs} ({failed} failed)\nErrors: {errors}",
    },
    "stats.no_errors": {"zh": "无", "en": "none"},
    "cmd.forget.done": {
        "zh": "已删除关于你的记录：对话历史、设置、图片、按钮和任务内容。"
        "只保留了不含内容的用量计数（用于限额）。",
        "en": "Everything stored about you is erased: history, settings, pictures, buttons, "
        "job prompts and results. Only content-free usage counters (for quotas) are kept.",
    },
    "admin.notice.relay_auth": {
        "zh": "⚠️ 中转站拒绝了机器人的 API 密钥（无效或过期）。请检查 relay.api_key。",
        "en": "⚠️ The relay rejected the bot's API key (invalid or expired). Check relay.api_key.",
    },
    "admin.notice.relay_quota": {
        "zh": "⚠️ 中转站余额不足，用户的请求正在失败。请充值。",
        "en": "⚠️ The relay balance is used up; users' requests are failing. Please top it up.",
    },
    "admin.notice.model_unavailable": {
        "zh": "⚠️ 中转站说模型不可用（{code}）。请检查 models 配置或中转站的渠道。",
        "en": "⚠️ The relay says a model is not available ({code}). Check the models "
        "settings or the relay's channels.",
    },
    "help.whoami": {"zh": "显示你的 ID（platform:id）", "en": "show your id (platform:id)"},
    "help.usage": {
        "zh": "你今天和本月的用量与限额（管理员：/usage all）",
        "en": "your use today and this month, and your limits (admins: /usage all)",
    },
    "help.forget": {
        "zh": "删除机器人存储的关于你的一切",
        "en": "erase everything the bot stored about you",
    },
    "help.allow": {
        "zh": "（管理员）允许一个用户或群：/allow platform:id",
        "en": "(admin) allow a user or chat: /allow platform:id",
    },
    "help.block": {
        "zh": "（管理员）屏蔽一个用户：/block platform:id 或回复其消息",
        "en": "(admin) block a user: /block platform:id or as a reply",
    },
    "help.unblock": {
        "zh": "（管理员）解除屏蔽：/unblock platform:id",
        "en": "(admin) unblock a user: /unblock platform:id",
    },
    "help.stats": {
        "zh": "（管理员）用户、聊天、消息、任务和错误统计",
        "en": "(admin) users, chats, messages, jobs and errors",
    },
    "helpdetail.whoami": {
        "zh": "/whoami — 显示你的 ID 和本聊天的 ID（platform:id），管理员用它来允许或屏蔽。",
        "en": "/whoami — show your id and this chat's id (platform:id); admins use them to "
        "allow or block.",
    },
    "helpdetail.usage": {
        "zh": "/usage — 你今天和本月用了多少（对话 token、图片、歌曲、视频、朗读）以及每日限额。"
        "管理员：/usage all — 今天的总量、按模型和用量最多的用户；/usage all month — 本月。",
        "en": "/usage — what you used today and this month (chat tokens, pictures, songs, "
        "videos, speech) and your daily limits. Admins: /usage all — today's totals by model "
        "and the top users; /usage all month — this month's.",
    },
    "helpdetail.forget": {
        "zh": "/forget — 删除你的对话历史、设置、图片、按钮和任务的提示词与结果。"
        "只保留不含内容的用量计数，用于限额。",
        "en": "/forget — erase your history, settings, pictures, buttons and your jobs' "
        "prompts and results. Only content-free usage counters stay, for quotas.",
    },
    "helpdetail.allow": {
        "zh": "/allow platform:id — （管理员）允许一个用户或群；在群里单独发 /allow 允许本群；"
        "也可以回复某人的消息发送 /allow。重启后仍然有效。",
        "en": "/allow platform:id — (admin) allow a user or a chat; /allow alone in a group "
        "allows that group; or send /allow as a reply to someone's message. Kept across "
        "restarts.",
    },
    "helpdetail.block": {
        "zh": "/block platform:id — （管理员）屏蔽一个用户，立即生效，重启后仍然有效；"
        "也可以回复其消息发送 /block。",
        "en": "/block platform:id — (admin) block a user, at once and across restarts; or "
        "send /block as a reply to their message.",
    },
    "helpdetail.unblock": {
        "zh": "/unblock platform:id — （管理员）解除 /block 的屏蔽（配置文件里的名单要改配置）。",
        "en": "/unblock platform:id — (admin) undo a /block (the config file's list is "
        "changed in the file).",
    },
    "helpdetail.stats": {
        "zh": "/stats — （管理员）保留的数据中的用户数、聊天数、消息数、"
        "任务数（失败数）和按类型的错误数。",
        "en": "/stats — (admin) users, chats, messages, jobs (failed) and errors by kind, "
        "over the data kept.",
    },
}
