"""Every text a user sees, in zh and en, and the choice of language for a message."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

_TEXTS: dict[str, dict[Lang, str]] = {
    # errors (worded in core.errors.user_text, nowhere else)
    "error.internal": {
        "zh": "出了点问题，请稍后再试。",
        "en": "Something went wrong. Please try again later.",
    },
    "error.relay": {
        "zh": "AI 服务暂时出错，请稍后再试。",
        "en": "The AI service returned an error. Please try again later.",
    },
    "error.relay_auth": {
        "zh": "机器人的 API 密钥无效或已过期，已通知管理员。",
        "en": "The bot's API key is invalid or expired. The admin has been told.",
    },
    "error.relay_quota": {
        "zh": "AI 服务余额不足，请联系管理员充值。",
        "en": "The AI service balance is used up. Please ask the admin to top it up.",
    },
    "error.relay_forbidden": {
        "zh": "当前模型无权使用，请用 /model 换一个模型。",
        "en": "This model is not allowed for the bot's key. Pick another one with /model.",
    },
    "error.relay_no_channel": {
        "zh": "这个模型暂时没有可用渠道，请用 /model 换一个模型。",
        "en": "No channel serves this model right now. Pick another one with /model.",
    },
    "error.relay_rate_limited": {
        "zh": "请求太多了，AI 服务正忙，请稍等片刻再试。",
        "en": "Too many requests: the AI service is busy. Please wait a moment and try again.",
    },
    "error.relay_upstream": {
        "zh": "上游 AI 服务暂时不可用，请稍后再试。",
        "en": "The upstream AI service failed. Please try again later.",
    },
    "error.relay_timeout": {
        "zh": "AI 服务响应超时，请稍后再试，或把问题说得短一些。",
        "en": "The AI service timed out. Try again later, or ask a shorter question.",
    },
    "error.relay_network": {
        "zh": "连接不上 AI 服务，请稍后再试。",
        "en": "Could not reach the AI service. Please try again later.",
    },
    "error.relay_bad_request": {
        "zh": "AI 服务拒绝了这个请求（参数或模型不支持）。",
        "en": "The AI service rejected this request (unsupported parameters or model).",
    },
    "error.unknown_model": {
        "zh": "没有可选的模型「{name}」。可选：{choices}",
        "en": "“{name}” is not one of the models you can pick. Choices: {choices}",
    },
    "error.not_enabled": {
        "zh": "/{command} 功能还没有开放。",
        "en": "/{command} is not enabled yet.",
    },
    "error.expired_button": {
        "zh": "这个按钮已失效，请重新发送命令。",
        "en": "This button has expired. Please send the command again.",
    },
    "error.missing_image": {
        "zh": "请发送一张图片并在说明里写 /vision 问题，或回复一张图片发送 /vision。",
        "en": "Send a photo with /vision QUESTION as its caption, or reply to a photo "
        "with /vision.",
    },
    "error.file_too_big": {
        "zh": "文件太大了（{size_mb} MB），机器人最多只能下载 {limit_mb} MB 的文件。",
        "en": "That file is too big ({size_mb} MB): the bot can download at most {limit_mb} MB.",
    },
    "error.download_failed": {
        "zh": "没能下载你发送的文件，请再发一次。",
        "en": "Could not download the file you sent. Please send it again.",
    },
    "vision.default_question": {
        "zh": "请描述这张图片。",
        "en": "Describe this picture.",
    },
    # notices
    "notice.truncated": {
        "zh": "⚠️ 回答在中途被截断了，以上是已收到的部分。",
        "en": "⚠️ The answer was cut off; above is the part that arrived.",
    },
    "notice.attachment_unsupported": {
        "zh": "暂时还不能处理这种文件。发送 /help 查看能做什么。",
        "en": "I can't handle this kind of file yet. Send /help to see what I can do.",
    },
    "notice.empty": {
        "zh": "模型没有返回任何内容，请换个说法再试。",
        "en": "The model returned nothing. Try rephrasing your message.",
    },
    # commands
    "cmd.start": {
        "zh": "你好，{name}！直接发消息就能和我聊天。发送 /help 查看所有命令。",
        "en": "Hi {name}! Just write to chat with me. Send /help to see every command.",
    },
    "cmd.help.head": {"zh": "可用命令：", "en": "Commands:"},
    "cmd.help.tail": {
        "zh": "其他任何消息都会发给 AI（当前模型：{model}）。",
        "en": "Anything else goes to the AI (current model: {model}).",
    },
    "cmd.unknown": {
        "zh": "未知命令 /{command}。发送 /help 查看可用命令。",
        "en": "Unknown command /{command}. Send /help to see the commands.",
    },
    "cmd.reset.done": {
        "zh": "已清空对话记录，我们重新开始吧。",
        "en": "Conversation cleared. Let's start over.",
    },
    "cmd.model.current": {
        "zh": "当前模型：{model}\n可选：{choices}\n用法：/model 模型名",
        "en": "Current model: {model}\nChoices: {choices}\nUsage: /model NAME",
    },
    "cmd.model.set": {"zh": "已切换到模型 {model}。", "en": "Switched to model {model}."},
    "cmd.models.list": {
        "zh": "AI 服务提供 {count} 个模型：\n{models}",
        "en": "The AI service offers {count} models:\n{models}",
    },
    "cmd.models.more": {"zh": "……还有 {count} 个", "en": "…and {count} more"},
    "cmd.models.none": {
        "zh": "AI 服务没有列出任何模型。",
        "en": "The AI service lists no models.",
    },
    "cmd.system.current": {
        "zh": "当前系统提示词：\n{prompt}\n\n用法：/system 新提示词，/system reset 恢复默认",
        "en": (
            "Current system prompt:\n{prompt}\n\n"
            "Usage: /system NEW PROMPT, /system reset for the default"
        ),
    },
    "cmd.system.none": {"zh": "（无）", "en": "(none)"},
    "cmd.system.set": {
        "zh": "已设置本对话的系统提示词。",
        "en": "System prompt set for this conversation.",
    },
    "cmd.system.reset": {
        "zh": "已恢复默认系统提示词。",
        "en": "System prompt reset to the default.",
    },
    # one line per command for /help; keys are "help.<command>"
    "help.start": {"zh": "开始使用", "en": "start here"},
    "help.help": {"zh": "显示这份命令列表", "en": "show this list of commands"},
    "help.reset": {
        "zh": "清空对话记录，重新开始（同 /new）",
        "en": "clear the conversation (also /new)",
    },
    "help.model": {
        "zh": "查看或切换模型：/model 模型名",
        "en": "show or switch the model: /model NAME",
    },
    "help.models": {"zh": "列出 AI 服务提供的模型", "en": "list the models the AI service offers"},
    "help.system": {
        "zh": "查看或设置系统提示词：/system 文本",
        "en": "show or set the system prompt: /system TEXT",
    },
    "help.vision": {
        "zh": "识图：发送图片并附上 /vision 问题",
        "en": "ask about a photo: send it with /vision QUESTION",
    },
    "help.img": {"zh": "画图：/img 描述", "en": "draw a picture: /img PROMPT"},
    "help.song": {"zh": "写歌：/song 描述", "en": "make a song: /song PROMPT"},
    "help.video": {"zh": "生成视频：/video 描述", "en": "make a video clip: /video PROMPT"},
}


def t(key: str, lang: Lang, **fields: object) -> str:
    """The text ``key`` in ``lang``, with ``{fields}`` filled in."""
    text = _TEXTS[key][lang]
    return text.format(**fields) if fields else text


def pick_lang(reported: str | None, default: Lang) -> Lang:
    """Map a platform's language code (``zh-hans``, ``en-US``, ``zh_CN``) to zh or en."""
    if reported:
        code = reported.strip().lower().replace("_", "-").split("-", 1)[0]
        if code == "zh":
            return "zh"
        if code:
            return "en"
    return default


def all_keys() -> list[str]:
    """Every text key; tests check each exists in every language."""
    return list(_TEXTS)
