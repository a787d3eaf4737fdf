"""Every text a user sees, in zh and en: one table, keyed by what the text is for."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.texts.i18n import Lang

from core.texts.access import ACCESS_TEXTS
from core.texts.help import HELP_TEXTS
from core.texts.platforms import PLATFORM_TEXTS

_TEXTS: dict[str, dict[Lang, str]] = {
    "error.internal": {
        "zh": "出了点问题，请稍后再试。",
        "en": "Something went wrong. Please try again later.",
    },
    "worker.interrupted": {
        "zh": "处理你的消息时机器人的一个进程意外停止了。为避免重复回答（和重复计费），"
        "这条消息不会自动重新处理，请再发送一次。",
        "en": "One of the bot's processes stopped while it was answering your message. So that "
        "nothing is answered (or charged) twice it is not redone on its own: please send it again.",
    },
    "error.storage": {
        "zh": "机器人的数据库暂时无法写入，这一步没有保存。"
        "请稍后再试；如果一直这样，请告诉管理员。",
        "en": "The bot could not write to its database, so this step was not saved. Please try "
        "again later; if this keeps happening, tell the bot's admin.",
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
    "error.mj_banned_prompt": {
        "zh": "Midjourney 认为描述里有违禁词，请换个说法再试。",
        "en": "Midjourney flagged a banned word in the prompt. Please rephrase it.",
    },
    "error.mj_queue_full": {
        "zh": "Midjourney 队列已满，请过半分钟再试。",
        "en": "The Midjourney queue is full. Please try again in half a minute.",
    },
    "error.mj_rejected": {
        "zh": "Midjourney 拒绝了这个任务，请检查描述或稍后再试。",
        "en": "Midjourney rejected this job. Check the prompt or try again later.",
    },
    "error.video_rejected": {
        "zh": "视频服务拒绝了这个任务，请检查描述或图片后再试。",
        "en": "The video service refused this job. Check the prompt or picture and try again.",
    },
    "error.suno_rejected": {
        "zh": "Suno 没有接受这个任务（描述可能不合适或服务繁忙），请修改描述或稍后再试。",
        "en": "Suno did not accept this song job (the description may be unsuitable, or the "
        "service is busy). Change the description or try again later.",
    },
    "error.text_too_long": {
        "zh": "文字太长了，无法朗读：最多 {limit} 个字符。",
        "en": "That text is too long to read aloud: at most {limit} characters.",
    },
    "error.input_too_long": {
        "zh": "消息太长了（{length} 个字符），最多 {limit} 个字符。请缩短或分几次发送。",
        "en": "That message is too long ({length} characters): at most {limit}. "
        "Please shorten it or send it in parts.",
    },
    "error.conversation_busy": {
        "zh": "还在回答你之前的消息，请等这个回答完成后再发送。",
        "en": "Still answering your earlier messages. Please wait for that answer "
        "before sending more.",
    },
    "error.relay_too_large": {
        "zh": "AI 服务返回的内容太大，已停止读取。请稍后再试或换个问法。",
        "en": "The AI service sent more than the bot can take, so reading stopped. "
        "Please try again later or ask differently.",
    },
    "error.media_download": {
        "zh": "生成好了，但没能下载结果文件，请稍后再试。",
        "en": "The result was made but could not be downloaded. Please try again later.",
    },
    "error.media_too_large": {
        "zh": "生成的文件太大，无法发送。",
        "en": "The generated file is too large to send.",
    },
    "error.feature_unavailable": {
        "zh": "AI 服务暂不支持这个功能（{feature}）。",
        "en": "The AI service does not support this feature ({feature}).",
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
    "error.describe_missing_image": {
        "zh": "请发送一张图片并在说明里写 /describe，或回复一张图片发送 /describe。",
        "en": "Send a photo with /describe as its caption, or reply to a photo with /describe.",
    },
    "error.unsupported_image": {
        "zh": "无法把这个文件当作图片读取。请发送 JPEG、PNG、WebP 或 GIF 格式的图片。",
        "en": "I can't read that file as a picture. Please send a JPEG, PNG, WebP or GIF image.",
    },
    "error.file_too_big": {
        "zh": "文件太大了（{size_mb} MB），机器人最多只能下载 {limit_mb} MB 的文件。",
        "en": "That file is too big ({size_mb} MB): the bot can download at most {limit_mb} MB.",
    },
    "error.download_failed": {
        "zh": "没能下载你发送的文件，请再发一次。",
        "en": "Could not download the file you sent. Please send it again.",
    },
    "vision.footer": {"zh": "🖼 识图模型：{model}", "en": "🖼 answered by {model}"},
    "vision.photo_saved": {
        "zh": "收到图片。用 /vision 问题 来提问，例如：/vision 这是什么？",
        "en": "Got the picture. Ask about it with /vision QUESTION, e.g. /vision what is this?",
    },
    "vision.default_question": {
        "zh": "请描述这张图片。",
        "en": "Describe this picture.",
    },
    "error.job_limit": {
        "zh": "你已有 {count} 个任务在运行（最多 {max} 个）：{jobs}。请等其中一个完成。",
        "en": "You already have {count} jobs running (at most {max}): {jobs}. "
        "Wait for one to finish.",
    },
    "job.queued": {"zh": "⏳ #{id} {what}：已提交，排队中…", "en": "⏳ #{id} {what}: queued…"},
    "job.progress": {"zh": "⏳ #{id} {what}：{progress}%", "en": "⏳ #{id} {what}: {progress}%"},
    "job.done": {"zh": "✅ #{id} {what}：完成", "en": "✅ #{id} {what}: done"},
    "job.failed": {
        "zh": "❌ #{id} {what} 失败：{reason}",
        "en": "❌ #{id} {what} failed: {reason}",
    },
    "job.no_reason": {"zh": "AI 服务没有给出原因", "en": "the AI service gave no reason"},
    "job.timed_out": {
        "zh": "⌛ #{id} {what} 超过 {minutes} 分钟仍未完成，已停止等待。请稍后重试。",
        "en": "⌛ #{id} {what} did not finish within {minutes} min; stopped waiting. "
        "Please try again later.",
    },
    "job.submit_unknown": {
        "zh": "任务 #{id} 提交时 AI 服务没有及时确认，可能仍在运行（也可能已计费）。"
        "为避免重复扣费不会自动重试，请先用 /jobs 查看，再决定是否重试。",
        "en": "The AI service did not confirm job #{id} in time: it may still run (and may be "
        "charged). It is not retried automatically; check /jobs before trying again.",
    },
    "job.in_doubt": {
        "zh": "机器人在发送任务 #{id} 的结果时重启了。如果你没有收到结果，请点“重新发送”。",
        "en": "The bot restarted while sending the result of job #{id}. "
        "If you did not get it, press Resend.",
    },
    "job.in_doubt.plain": {
        "zh": "机器人在发送任务 #{id} 的结果时重启了。如果你没有收到结果，请输入 /resend。",
        "en": "The bot restarted while sending the result of job #{id}. "
        "If you did not get it, type /resend.",
    },
    "job.resend": {"zh": "🔁 重新发送 #{id}", "en": "🔁 Resend #{id}"},
    "job.line": {
        "zh": "#{id} {what} {progress}% — {prompt}",
        "en": "#{id} {what} {progress}% — {prompt}",
    },
    "job.link": {
        "zh": "结果文件无法直接发送，请点链接查看：{url}",
        "en": "The result could not be uploaded here; open it with this link: {url}",
    },
    "job.result_gone": {
        "zh": "任务完成了，但结果无法从 AI 服务取回。请重试。",
        "en": "The job finished, but its result could not be fetched from the AI service. "
        "Please try again.",
    },
    "jobs.none": {"zh": "你没有正在运行的任务。", "en": "You have no jobs running."},
    "jobs.head": {
        "zh": "你的任务（{count}/{max} 个运行中）：",
        "en": "Your jobs ({count} of {max} running):",
    },
    "jobs.resent": {"zh": "已重新发送。", "en": "Sent again."},
    "jobs.not_found": {
        "zh": "没有可以重新发送的任务 #{id}。",
        "en": "There is no job #{id} to send again.",
    },
    "suno.music": {"zh": "Suno 作曲", "en": "Suno song"},
    "suno.lyrics": {"zh": "Suno 歌词", "en": "Suno lyrics"},
    "suno.continue": {"zh": "▶️ 续写第 {n} 首", "en": "▶️ Continue #{n}"},
    "video.job": {"zh": "{backend} 视频", "en": "{backend} video"},
    "video.extend": {"zh": "⏩ 延长视频", "en": "⏩ Extend"},
    "mj.imagine": {"zh": "Midjourney 画图", "en": "Midjourney imagine"},
    "mj.describe": {"zh": "Midjourney 描述", "en": "Midjourney describe"},
    "mj.blend": {"zh": "Midjourney 融合", "en": "Midjourney blend"},
    "mj.action": {"zh": "Midjourney 操作", "en": "Midjourney action"},
    "mj.imagine_this": {"zh": "{n} 用这个画", "en": "{n} Imagine this"},
    "error.missing_prompt": {
        "zh": "请在命令后写上描述，例如：/{command} 一只在月球上的猫。",
        "en": "Write what you want after the command, e.g. /{command} a cat on the moon.",
    },
    "error.blend_count": {
        "zh": "融合需要 2–5 张图片（收到 {count} 张）。请把图片作为相册发送，并在说明里写 /blend。",
        "en": "Blending needs 2–5 photos (got {count}). Send them as an album with /blend "
        "as the caption.",
    },
    "error.audio_too_long": {
        "zh": "语音太长了：最多 {max_minutes} 分钟、{max_mb} MB。请分段发送。",
        "en": "That recording is too long: at most {max_minutes} min and {max_mb} MB. "
        "Please send it in parts.",
    },
    "error.nothing_to_say": {
        "zh": "要朗读什么？用法：/tts 文本，或回复一条消息发送 /tts。",
        "en": "What should I say? Usage: /tts TEXT, or reply to a message with /tts.",
    },
    "voice.transcript": {"zh": "🎤 {text}", "en": "🎤 {text}"},
    "voice.empty": {
        "zh": "没听清这段语音，请再说一次。",
        "en": "I could not make out that voice note. Please try again.",
    },
    "voice.reply_on": {
        "zh": "好的，你发语音时我会用语音回答。/voice off 关闭。",
        "en": "OK: when you send a voice note I will answer with voice. /voice off to stop.",
    },
    "voice.reply_off": {
        "zh": "好的，我会用文字回答语音消息。",
        "en": "OK: I will answer voice notes in text.",
    },
    "error.bad_flag": {
        "zh": "参数写得不对。用法见 /help {command}。",
        "en": "A flag is missing its value or is unknown. See /help {command}.",
    },
    "error.needs_photo": {
        "zh": "{model} 需要一张图片：发送图片并在说明里写 /video 描述，或回复一张图片。",
        "en": "{model} needs a photo: send one with /video PROMPT as its caption, or reply to one.",
    },
    "error.no_photo_prompt": {
        "zh": "{model} 不能以图片为输入。请去掉图片，或换用 -m mj。",
        "en": "{model} cannot take a photo. Leave the photo out, or use -m mj.",
    },
    "error.unknown_video_model": {
        "zh": "不认识视频模型 {model}。可用：luma、ray-v2、kling-*、gen3a_turbo、gen4_turbo。",
        "en": "Unknown video model {model}. Use luma, ray-v2, kling-*, gen3a_turbo or gen4_turbo.",
    },
    "voice.state_on": {"zh": "开", "en": "on"},
    "voice.state_off": {"zh": "关", "en": "off"},
    "voice.status": {
        "zh": "语音回答：{state}。用法：/voice on 或 /voice off",
        "en": "Voice answers: {state}. Usage: /voice on or /voice off",
    },
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
    "cmd.start": {
        "zh": "你好，{name}！直接发消息就能和我聊天。发送 /help 查看所有命令。",
        "en": "Hi {name}! Just write to chat with me. Send /help to see every command.",
    },
    "cmd.help.head": {"zh": "可用命令：", "en": "Commands:"},
    "cmd.help.tail": {
        "zh": "其他任何消息都会发给 AI（当前模型：{model}）。/help 命令名 查看用法和例子。",
        "en": "Anything else goes to the AI (current model: {model}). "
        "/help COMMAND shows its usage and an example.",
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
    "typed.line": {"zh": "输入：{forms}", "en": "Type: {forms}"},
    "media.too_large_here": {
        "zh": "结果文件太大（{mb} MB），超过了这里能发送的上限（{max_mb} MB）。",
        "en": "The result is too large to send here ({mb} MB; the limit is {max_mb} MB).",
    },
    # "KEY.plain": the wording for a platform without buttons, captions, albums or replies.
    "error.missing_image.plain": {
        "zh": "请先发送一张图片，再发送 /vision 问题。",
        "en": "Send a photo first, then /vision QUESTION.",
    },
    "error.blend_count.plain": {
        "zh": "融合需要 2–5 张图片（收到 {count} 张）。请逐张发送图片，再发送 /blend。",
        "en": "Blending needs 2–5 photos (got {count}). Send them one by one, then /blend.",
    },
    "error.needs_photo.plain": {
        "zh": "{model} 需要一张图片作为输入。只用文字生成视频请换用 luma 或 kling 模型。",
        "en": "{model} needs a photo as input. For a video from text alone, use a luma or "
        "kling model.",
    },
    "error.nothing_to_say.plain": {
        "zh": "要朗读什么？用法：/tts 文本",
        "en": "What should I say? Usage: /tts TEXT",
    },
    "error.no_target.plain": {
        "zh": "这里没有可以用 {form} 操作的结果。请先生成一个。",
        "en": "There is no result here that {form} can act on. Make one first.",
    },
    "error.no_target": {
        "zh": "这里没有可以用 {form} 操作的结果。先生成一个，或回复你要操作的那条结果。",
        "en": "There is no result here that {form} can act on. Make one first, or reply to "
        "the result you mean.",
    },
    "error.no_such_button": {
        "zh": "这条结果没有 {form}。可以用：{offered}",
        "en": "That result does not offer {form}. It offers: {offered}",
    },
    "error.nothing_to_resend": {
        "zh": "没有需要重新发送的结果：你的任务都已正常送达。",
        "en": "Nothing to resend: none of your results was interrupted while being sent.",
    },
    **HELP_TEXTS,
    **ACCESS_TEXTS,
    **PLATFORM_TEXTS,
}
