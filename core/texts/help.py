"""The help texts: one line per command for /help and the menus, and /help COMMAND details."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.texts.i18n import Lang

HELP_TEXTS: dict[str, dict[Lang, str]] = {
    # "KEY.plain": the wording for a platform without buttons, captions, albums or replies
    # (the console, WeChat); KEY is the one for platforms that have them.
    "cmd.help.typed": {
        "zh": "结果下的按钮也可以输入：/u1–/u4、/v1–/v4、/reroll、/zoom 2、/vary strong、"
        "/pan left、/upscale creative（Midjourney），/imagine 1（/describe 的提示词），"
        "/continue 1（Suno），/extend（Luma），/resend（重新发送）。"
        "作用于你最新的结果，或你回复的那条。",
        "en": "Buttons under results can be typed too: /u1–/u4, /v1–/v4, /reroll, /zoom 2, "
        "/vary strong, /pan left, /upscale creative (Midjourney), /imagine 1 (a /describe "
        "prompt), /continue 1 (Suno), /extend (Luma), /resend. They act on your latest "
        "result, or on the one you reply to.",
    },
    "cmd.help.typed.plain": {
        "zh": "对结果的操作请输入：/u1–/u4（放大）、/v1–/v4（变体）、/reroll、/zoom 2、"
        "/vary strong、/pan left、/upscale creative（Midjourney），"
        "/imagine 1（/describe 的提示词），/continue 1（Suno 续写），/extend（Luma 延长），"
        "/resend（重新发送）。作用于你最新的结果。",
        "en": "To act on a result, type: /u1–/u4 (upscale), /v1–/v4 (variations), /reroll, "
        "/zoom 2, /vary strong, /pan left, /upscale creative (Midjourney), /imagine 1 (a "
        "/describe prompt), /continue 1 (continue a Suno song), /extend (Luma), /resend. "
        "They act on your latest result.",
    },
    "helpdetail.img.plain": {
        "zh": "/img [-m 模型] 描述 — 画图（默认模型：{default}）\n"
        "• -m dall-e-3 / gpt-image-1 / flux-pro / recraftv3 …：OpenAI 图片格式的任何模型\n"
        "• -m mj（midjourney）：Midjourney，生成四宫格；之后输入 /u1–/u4 放大、/v1–/v4 变体、"
        "/reroll 重画；MJ 参数如 --ar 16:9 --niji 6 原样传递\n"
        "• -m ideogram：ideogram，--ar 16:9 设置比例\n"
        "例：/img -m mj 一只在月球上的猫 --ar 16:9",
        "en": "/img [-m MODEL] PROMPT — draw a picture (default model: {default})\n"
        "• -m dall-e-3 / gpt-image-1 / flux-pro / recraftv3 …: any OpenAI-images model\n"
        "• -m mj (midjourney): Midjourney, a 2×2 grid; then type /u1–/u4 to upscale, /v1–/v4 "
        "for variations, /reroll to draw again; MJ flags such as --ar 16:9 --niji 6 pass "
        "through\n"
        "• -m ideogram: ideogram, --ar 16:9 sets the aspect ratio\n"
        "Example: /img -m mj a cat on the moon --ar 16:9",
    },
    "helpdetail.vision.plain": {
        "zh": "/vision [问题] — 识图（模型 models.vision）\n"
        "• 先发送一张图片，几分钟内再发 /vision 问题\n"
        "• 之后的追问仍能看到这张图\n"
        "例：/vision 这道菜怎么做？",
        "en": "/vision [QUESTION] — ask about a photo (model models.vision)\n"
        "• send the photo, then /vision QUESTION within a few minutes\n"
        "• follow-up questions still see the picture\n"
        "Example: /vision how do I cook this?",
    },
    "helpdetail.describe.plain": {
        "zh": "/describe — 先发送一张图片再发 /describe：Midjourney 给出 4 个提示词；"
        "输入 /imagine 1–4 用其中一个画图。",
        "en": "/describe — send a photo, then /describe: Midjourney's four prompts for it; "
        "type /imagine 1–4 to draw one.",
    },
    "helpdetail.blend.plain": {
        "zh": "/blend — 逐张发送 2–5 张图片，再发 /blend，由 Midjourney 融合。",
        "en": "/blend — send 2–5 photos one by one, then /blend: Midjourney blends them.",
    },
    "helpdetail.tts.plain": {
        "zh": "/tts 文本 — 把文字读出来。例：/tts 早上好",
        "en": "/tts TEXT — the text spoken aloud. Example: /tts good morning",
    },
    "helpdetail.model.plain": {
        "zh": "/model — 显示当前模型和可选模型；/model 模型名 — 切换本对话的模型。",
        "en": "/model — the current model and the choices; /model NAME — switch this "
        "conversation's model.",
    },
    "helpdetail.jobs.plain": {
        "zh": "/jobs — 查看你正在运行的任务及进度；/resend 重新发送中断的结果。",
        "en": "/jobs — your running jobs with their progress; /resend sends an interrupted "
        "result again.",
    },
    "helpdetail.song.plain": {
        "zh": "/song [-i] 描述 — 用 Suno 写歌（模型 {song}）\n"
        "• -i：纯音乐\n"
        "• 自定义：第一行 title: 歌名，第二行 tags: 风格，之后是歌词\n"
        "• 输入 /continue 1 或 /continue 2 续写最新的一首\n"
        "例：/song 一首关于夏天海边的轻快流行歌\n/lyrics 描述 — 只写歌词",
        "en": "/song [-i] DESCRIPTION — a song by Suno (model {song})\n"
        "• -i: instrumental\n"
        "• custom: a line title: NAME, a line tags: STYLE, then the lyrics\n"
        "• type /continue 1 or /continue 2 to continue a clip of the latest song\n"
        "Example: /song an upbeat pop song about summer at the beach\n"
        "/lyrics DESCRIPTION — lyrics only",
    },
    "helpdetail.video.plain": {
        "zh": "/video [-m 模型] [--ar 16:9] [-d 5] 描述 — 生成视频（默认 {video}）\n"
        "• -m luma / ray-v2：Luma（输入 /extend 延长最新的视频）\n"
        "• -m kling-v1 / kling-v2-master …：可灵\n"
        "例：/video -m kling-v1 海浪拍打礁石 --ar 16:9",
        "en": "/video [-m MODEL] [--ar 16:9] [-d 5] PROMPT — a video clip (default {video})\n"
        "• -m luma / ray-v2: Luma (type /extend to extend the latest clip)\n"
        "• -m kling-v1 / kling-v2-master …: Kling\n"
        "Example: /video -m kling-v1 waves crashing on rocks --ar 16:9",
    },
    "help.vision.plain": {
        "zh": "识图：先发图片，再发 /vision 问题",
        "en": "ask about a photo: send it, then /vision QUESTION",
    },
    "help.tts.plain": {"zh": "朗读：/tts 文本", "en": "say it aloud: /tts TEXT"},
    "helpdetail.img": {
        "zh": "/img [-m 模型] 描述 — 画图（默认模型：{default}）\n"
        "• -m dall-e-3 / gpt-image-1 / flux-pro / recraftv3 …：OpenAI 图片格式的任何模型\n"
        "• -m mj（midjourney）：Midjourney，生成四宫格并带 U1–U4、V1–V4、🔄 按钮"
        "（也可输入 /u1、/v1、/reroll）；"
        "MJ 参数如 --ar 16:9 --niji 6 原样传递\n"
        "• -m ideogram：ideogram，--ar 16:9 设置比例\n"
        "• 附上或回复一张图片：Midjourney 把它当作图片提示，其他模型进行图片编辑\n"
        "例：/img -m mj 一只在月球上的猫 --ar 16:9",
        "en": "/img [-m MODEL] PROMPT — draw a picture (default model: {default})\n"
        "• -m dall-e-3 / gpt-image-1 / flux-pro / recraftv3 …: any OpenAI-images model\n"
        "• -m mj (midjourney): Midjourney, a 2×2 grid with U1–U4, V1–V4 and 🔄 buttons "
        "(or type /u1, /v1, /reroll); "
        "MJ flags such as --ar 16:9 --niji 6 pass through\n"
        "• -m ideogram: ideogram, --ar 16:9 sets the aspect ratio\n"
        "• with a photo attached or replied to: Midjourney uses it as an image prompt, other "
        "models edit it\n"
        "Example: /img -m mj a cat on the moon --ar 16:9",
    },
    "helpdetail.vision": {
        "zh": "/vision [问题] — 识图（模型 models.vision）\n"
        "• 发送图片并在说明里写 /vision 问题；或回复一张图片发送 /vision\n"
        "• 先发图片、几分钟内再发 /vision 也可以\n"
        "• 私聊中带说明文字的图片会直接识图；之后的追问仍能看到这张图\n"
        "例：/vision 这道菜怎么做？",
        "en": "/vision [QUESTION] — ask about a photo (model models.vision)\n"
        "• send a photo with /vision QUESTION as its caption, or reply to a photo with /vision\n"
        "• or send the photo first and /vision within a few minutes\n"
        "• in a private chat a photo with a caption is a question too; follow-ups still "
        "see the picture\n"
        "Example: /vision how do I cook this?",
    },
    "helpdetail.describe": {
        "zh": "/describe — 在图片上使用：Midjourney 给出 4 个提示词，每个都有“用这个画”按钮"
        "（也可输入 /imagine 1–4）。",
        "en": "/describe — on a photo: Midjourney's four prompts for it, each with an "
        "Imagine button (or type /imagine 1–4).",
    },
    "helpdetail.blend": {
        "zh": "/blend — 把 2–5 张图片作为相册发送并在说明里写 /blend，或先逐张发送再发 /blend。",
        "en": "/blend — send 2–5 photos as an album with /blend as the caption, or send them "
        "one by one and then /blend.",
    },
    "helpdetail.lyrics": {
        "zh": "/lyrics 描述 — 用 Suno 只写歌词。例：/lyrics 一首关于大海的抒情歌",
        "en": "/lyrics DESCRIPTION — lyrics only, by Suno. Example: /lyrics a ballad about the sea",
    },
    "helpdetail.tts": {
        "zh": "/tts 文本 — 把文字读成语音消息；或回复一条消息发送 /tts。例：/tts 早上好",
        "en": "/tts TEXT — the text as a voice message; or reply to a message with /tts. "
        "Example: /tts good morning",
    },
    "helpdetail.voice": {
        "zh": "/voice on — 你发语音时我用语音回答；/voice off — 用文字回答。"
        "语音消息会先转成文字（会显示出来），再像文字一样处理，命令也可以说出来。",
        "en": "/voice on — answer your voice notes with voice; /voice off — answer in text. "
        "Voice notes are transcribed (the transcript is shown) and handled like text; "
        "commands can be spoken too.",
    },
    "helpdetail.model": {
        "zh": "/model — 显示当前模型和可选模型（可点按钮切换）；/model 模型名 — 切换本对话的模型。",
        "en": "/model — the current model and the choices (tap to switch); /model NAME — switch "
        "this conversation's model.",
    },
    "helpdetail.system": {
        "zh": "/system — 显示系统提示词；/system 文本 — 设置本对话的系统提示词；"
        "/system reset — 恢复默认。",
        "en": "/system — show the system prompt; /system TEXT — set it for this conversation; "
        "/system reset — back to the default.",
    },
    "helpdetail.jobs": {
        "zh": "/jobs — 查看你正在运行的任务（Midjourney 等）及进度。",
        "en": "/jobs — your running jobs (Midjourney and others) with their progress.",
    },
    "helpdetail.song": {
        "zh": "/song [-i] 描述 — 用 Suno 写歌（模型 {song}）\n"
        "• -i：纯音乐\n"
        "• 自定义：第一行 title: 歌名，第二行 tags: 风格，之后是歌词\n"
        "• 每首歌都有“续写”按钮（也可输入 /continue 1）\n"
        "例：/song 一首关于夏天海边的轻快流行歌\n/lyrics 描述 — 只写歌词",
        "en": "/song [-i] DESCRIPTION — a song by Suno (model {song})\n"
        "• -i: instrumental\n"
        "• custom: a line title: NAME, a line tags: STYLE, then the lyrics\n"
        "• each clip has a Continue button (or type /continue 1)\n"
        "Example: /song an upbeat pop song about summer at the beach\n"
        "/lyrics DESCRIPTION — lyrics only",
    },
    "helpdetail.video": {
        "zh": "/video [-m 模型] [--ar 16:9] [-d 5] 描述 — 生成视频（默认 {video}）\n"
        "• -m luma / ray-v2：Luma（结果带“延长”按钮，也可输入 /extend）\n"
        "• -m kling-v1 / kling-v2-master …：可灵\n"
        "• -m gen3a_turbo / gen4_turbo：Runway（需要附上一张图片）\n"
        "• 附上或回复一张图片：图生视频\n"
        "例：/video -m kling-v1 海浪拍打礁石 --ar 16:9",
        "en": "/video [-m MODEL] [--ar 16:9] [-d 5] PROMPT — a video clip (default {video})\n"
        "• -m luma / ray-v2: Luma (results have an Extend button; or type /extend)\n"
        "• -m kling-v1 / kling-v2-master …: Kling\n"
        "• -m gen3a_turbo / gen4_turbo: Runway (needs a photo)\n"
        "• with a photo attached or replied to: image to video\n"
        "Example: /video -m kling-v1 waves crashing on rocks --ar 16:9",
    },
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
    "help.jobs": {"zh": "查看正在运行的任务", "en": "show your running jobs"},
    "help.describe": {
        "zh": "用 Midjourney 为图片生成提示词",
        "en": "Midjourney prompts for a photo",
    },
    "help.blend": {"zh": "用 Midjourney 融合 2–5 张图片", "en": "blend 2–5 photos with Midjourney"},
    "help.tts": {
        "zh": "朗读：/tts 文本，或回复一条消息发送 /tts",
        "en": "say it aloud: /tts TEXT, or reply to a message with /tts",
    },
    "help.voice": {
        "zh": "/voice on|off：发语音时是否用语音回答",
        "en": "/voice on|off: answer voice notes with voice",
    },
    "help.lyrics": {"zh": "写歌词：/lyrics 描述", "en": "write lyrics: /lyrics PROMPT"},
    "help.video": {"zh": "生成视频：/video 描述", "en": "make a video clip: /video PROMPT"},
}
