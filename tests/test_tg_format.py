"""tg_format.render: Telegram-safe HTML and its plain twin, for final and streaming answers."""

from __future__ import annotations

import dataclasses
import random
import re
from html.parser import HTMLParser

import pytest

from bots.shared.text_split import utf16_len
from bots.telegram.format import Rendered, render

ALLOWED = {"b", "i", "u", "s", "code", "pre", "a", "blockquote", "span"}
_TAG_RE = re.compile(r"<(/?)([a-z]+)((?: [a-z]+=\"[^\"<>]*\")*)>")
_ENTITY_RE = re.compile(r"&(?!(?:amp|lt|gt|quot);)")


class _Checker(HTMLParser):
    """Tags from Telegram's set only, with their only allowed attributes, properly nested."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        parent = self.stack[-1] if self.stack else None
        if tag not in ALLOWED:
            self.errors.append(f"tag {tag}")
        elif tag == "a" and (list(attr) != ["href"] or not attr["href"]):
            self.errors.append(f"a attrs {attrs}")
        elif tag == "span" and attr != {"class": "tg-spoiler"}:
            self.errors.append(f"span attrs {attrs}")
        elif (
            tag == "code"
            and attr
            and not (
                parent == "pre" and re.fullmatch(r"language-[\w+#.-]+", attr.get("class") or "")
            )
        ):
            self.errors.append(f"code attrs {attrs}")
        elif tag not in ("a", "span", "code") and attrs:
            self.errors.append(f"{tag} attrs {attrs}")
        if tag in self.stack:
            self.errors.append(f"{tag} nested in itself")
        if parent in ("code", "pre") and not (parent == "pre" and tag == "code"):
            self.errors.append(f"{tag} inside {parent}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack}")
        else:
            self.stack.pop()


def check_html(html: str) -> None:
    """Fails unless Telegram's HTML parser would accept ``html`` as it is."""
    text = _TAG_RE.sub("", html)
    assert "<" not in text and ">" not in text, f"raw < or > in {html!r}"
    assert not _ENTITY_RE.search(text), f"raw & in {html!r}"
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert not checker.errors, (checker.errors, html)
    assert not checker.stack, (checker.stack, html)


class _Visible(HTMLParser):
    """The text a user sees; a link reads ``text (url)`` as in the plain twin."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[int, str]] = []
        self.outside_code: list[str] = []
        self.code_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append((len(self.out), dict(attrs)["href"] or ""))
        self.code_depth += tag in ("code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self.code_depth -= tag in ("code", "pre")
        if tag == "a":
            start, href = self.links.pop()
            if "".join(self.out[start:]) != href:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.out.append(data)
        if not self.code_depth:
            self.outside_code.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def visible_outside_code(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return "".join(parser.outside_code)


def html(markdown: str, partial: bool = False) -> str:
    out = render(markdown, partial=partial)
    check_html(out.html)
    assert out.plain == visible(out.html)
    return out.html


def test_rendered_is_a_frozen_slots_dataclass() -> None:
    out = render("x")
    assert out == Rendered("x", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.html = "y"  # type: ignore[misc]
    assert not hasattr(out, "__dict__")


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ('say "hi" & <b>', 'say "hi" &amp; &lt;b&gt;'),
        ("`if a < b && c:`", "<code>if a &lt; b &amp;&amp; c:</code>"),
        (
            '[a <b> & c](https://x.org/?q=1&r="2")',
            '<a href="https://x.org/?q=1&amp;r=&quot;2&quot;">a &lt;b&gt; &amp; c</a>',
        ),
        ("&amp; stays literal", "&amp;amp; stays literal"),
    ],
)
def test_escaping(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


def test_code_block_is_escaped_and_not_parsed() -> None:
    md = "```python\nif a < b and **c** & d:\n    x = [1](2)\n```"
    assert html(md) == (
        '<pre><code class="language-python">if a &lt; b and **c** &amp; d:\n'
        "    x = [1](2)</code></pre>"
    )
    assert render(md).plain == "if a < b and **c** & d:\n    x = [1](2)"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("```\nplain\n```", "<pre><code>plain</code></pre>"),
        ("~~~js\nlet a = 1;\n~~~", '<pre><code class="language-js">let a = 1;</code></pre>'),
        (
            "````md\n```\ninner\n```\n````",
            '<pre><code class="language-md">```\ninner\n```</code></pre>',
        ),
        ("```weird lang!\nx\n```", '<pre><code class="language-weird">x</code></pre>'),
        ('```"><script>\nx\n```', "<pre><code>x</code></pre>"),
        ("text\n```py\nx\n```\nmore", 'text\n<pre><code class="language-py">x</code></pre>\nmore'),
        (
            "1. step\n   ```sh\n   ls -la\n   ```",
            '1. step\n<pre><code class="language-sh">ls -la</code></pre>',
        ),
        (
            "```py\nunclosed <fence>",
            '<pre><code class="language-py">unclosed &lt;fence&gt;</code></pre>',
        ),
    ],
)
def test_code_blocks(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("`x`", "<code>x</code>"),
        ("``a ` b``", "<code>a ` b</code>"),
        ("`` `x` ``", "<code>`x`</code>"),
        ("**bold** and __bold__", "<b>bold</b> and <b>bold</b>"),
        ("*it* and _it_", "<i>it</i> and <i>it</i>"),
        ("***both***", "<i><b>both</b></i>"),
        ("~~gone~~", "<s>gone</s>"),
        ("||secret||", '<span class="tg-spoiler">secret</span>'),
        ("**bold *it* bold**", "<b>bold <i>it</i> bold</b>"),
        ("*it **bold** it*", "<i>it <b>bold</b> it</i>"),
        ("**b ~~s ||p||~~**", '<b>b <s>s <span class="tg-spoiler">p</span></s></b>'),
        ("**`code` in bold**", "<b><code>code</code> in bold</b>"),
        ("**a **b** c**", "<b>a b c</b>"),
        ("(*aside*)", "(<i>aside</i>)"),
        ("**Note:** read", "<b>Note:</b> read"),
        ("line one **spans\nlines** ok", "line one <b>spans\nlines</b> ok"),
    ],
)
def test_inline_markup(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


@pytest.mark.parametrize(
    "markdown",
    [
        "snake_case_name",
        "call file_name_here now",
        "2*3*4 = 24",
        "x**2 + y**2",
        "a * b * c",
        "a lone ** here",
        "one _ two",
        "~single~ tilde",
        "a ~~~ b ~~~ c",
        "a || b",
        "`unclosed code",
        "[not a link]",
        "[text] (https://x.y)",
        "**never closed",
    ],
)
def test_unmatched_or_intraword_markers_stay_literal(markdown: str) -> None:
    assert render(markdown).plain == markdown
    assert html(markdown) == markdown.replace("&", "&amp;")


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**重要**", "<b>重要</b>"),
        ("这是**重要**的内容", "这是<b>重要</b>的内容"),
        ("**注意：**请先备份", "<b>注意：</b>请先备份"),
        ("第1**步**完成", "第1<b>步</b>完成"),
        ("使用*斜体*和~~删除~~", "使用<i>斜体</i>和<s>删除</s>"),
        ("变量my_var_name保持", "变量my_var_name保持"),
    ],
)
def test_chinese(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected_html", "expected_plain"),
    [
        (
            "[docs](https://a.org/x_y)",
            '<a href="https://a.org/x_y">docs</a>',
            "docs (https://a.org/x_y)",
        ),
        (
            "[https://a.org](https://a.org)",
            '<a href="https://a.org">https://a.org</a>',
            "https://a.org",
        ),
        (
            "[me](tg://user?id=1) [m](mailto:a@b.c)",
            '<a href="tg://user?id=1">me</a> <a href="mailto:a@b.c">m</a>',
            "me (tg://user?id=1) m (mailto:a@b.c)",
        ),
        ("[x](javascript:alert(1))", "x", "x"),
        ("[rel](/docs/page)", "rel", "rel"),
        (
            "[**bold** link](https://a.org)",
            '<a href="https://a.org"><b>bold</b> link</a>',
            "bold link (https://a.org)",
        ),
        (
            "[a [b] c](https://a.org/(x))",
            '<a href="https://a.org/(x)">a [b] c</a>',
            "a [b] c (https://a.org/(x))",
        ),
        ('[t](https://a.org "Title")', '<a href="https://a.org">t</a>', "t (https://a.org)"),
        ("[](https://a.org)", '<a href="https://a.org">https://a.org</a>', "https://a.org"),
        (
            "![diagram](https://a.org/d.png)",
            '<a href="https://a.org/d.png">diagram</a>',
            "diagram (https://a.org/d.png)",
        ),
        (
            "see https://a.org/some_path_here_ ok",
            "see https://a.org/some_path_here_ ok",
            "see https://a.org/some_path_here_ ok",
        ),
        ("**https://a.org/x_y**", "<b>https://a.org/x_y</b>", "https://a.org/x_y"),
        ("(https://a.org/a_(b)_c).", "(https://a.org/a_(b)_c).", "(https://a.org/a_(b)_c)."),
        ("<https://a.org/q?a=1&b=2>", "https://a.org/q?a=1&amp;b=2", "https://a.org/q?a=1&b=2"),
    ],
)
def test_links_and_urls(markdown: str, expected_html: str, expected_plain: str) -> None:
    assert html(markdown) == expected_html
    assert render(markdown).plain == expected_plain


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("# One\n## Two **bold**\n###### Six ##", "<b>One</b>\n<b>Two bold</b>\n<b>Six</b>"),
        ("#hashtag and #5", "#hashtag and #5"),
        ("- a\n* b\n+ c", "• a\n• b\n• c"),
        ("- top\n  - nested *it*\n    - deeper", "• top\n  • nested <i>it</i>\n    • deeper"),
        ("1. one\n2. **two**\n10) ten", "1. one\n2. <b>two</b>\n10) ten"),
        (
            "> quoted **x**\n> second\n\n> another",
            "<blockquote>quoted <b>x</b>\nsecond</blockquote>\n\n<blockquote>another</blockquote>",
        ),
        ("> outer\n> > inner", "<blockquote>outer\ninner</blockquote>"),
        (
            "> ```py\n> a < b\n> ```",
            '<blockquote><pre><code class="language-py">a &lt; b</code></pre></blockquote>',
        ),
        ("above\n\n---\n\n***\nbelow", "above\n\n———\n\n———\nbelow"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("\n\n  lead and trail  \n\n", "  lead and trail"),
    ],
)
def test_blocks(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


def test_table_is_aligned_monospace_text() -> None:
    md = "| 名称 | Size | Note |\n|:---|---:|:---:|\n| **a** | 1 | `x<y` |\n| 中文名 | 1024 | ok |"
    out = render(md)
    check_html(out.html)
    assert out.plain == (
        "名称   | Size | Note\n-------|------|-----\na      |    1 | x<y\n中文名 | 1024 |  ok"
    )
    assert out.html == "<pre>" + out.plain.replace("<", "&lt;") + "</pre>"


def test_a_table_never_gets_longer_than_its_source() -> None:
    md = "|a|b|\n|-|-|\n" + "|x|y|\n|short|\n" * 10 + "|" + "w" * 40 + "|z|"
    out = render(md)
    check_html(out.html)
    assert len(out.plain) <= len(md)
    assert out.plain.startswith("a|b\n|-|-|\nx|y\nshort\nx|y\n")


@pytest.mark.parametrize(
    "markdown",
    [
        r"inline \(x_1 * y_2\) math",
        r"display \[a_i^2 + b_i^2\]",
        "$$E = mc^2 * k_b$$ and $a_i * b_i$",
        "$$\n\\sum_{i=1}^n x_i * w_i\n$$",
        "\\[\na_{1} + b_{2}\n\\]",
        "costs $5 and $10",
    ],
)
def test_latex_is_left_as_text(markdown: str) -> None:
    assert render(markdown).plain == markdown
    assert html(markdown) == markdown


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (r"\*not italic\*", "*not italic*"),
        (r"\_\_init\_\_", "__init__"),
        (r"a \`tick\` \\ b \# c", r"a `tick` \ b # c"),
        (r"\- not a bullet", "- not a bullet"),
        (r"\<tag\>", "&lt;tag&gt;"),
        (r"**a \*\* b**", "<b>a ** b</b>"),
    ],
)
def test_backslash_escapes(markdown: str, expected: str) -> None:
    assert html(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (
            "```py\ndef f(a<b):\n    pass",
            '<pre><code class="language-py">def f(a&lt;b):\n    pass</code></pre>',
        ),
        ("```py\nx = 1\n``", '<pre><code class="language-py">x = 1</code></pre>'),
        ("```py", ""),
        ("Hello **wor", "Hello <b>wor</b>"),
        ("Hello **world*", "Hello <b>world</b>"),
        ("Hello **", "Hello "),
        ("say *hi", "say <i>hi</i>"),
        ("say _hi", "say <i>hi</i>"),
        ("~~old", "<s>old</s>"),
        ("~~old~", "<s>old</s>"),
        ("||spoil", '<span class="tg-spoiler">spoil</span>'),
        ("run `ls -", "run <code>ls -</code>"),
        ("run `", "run "),
        ("***both", "<i><b>both</b></i>"),
        ("**bold _it", "<b>bold <i>it</i></b>"),
        ("see [the docs](htt", "see the docs"),
        ("see [the **docs", "see the <b>docs</b>"),
        ("## Head", "<b>Head</b>"),
        ("text\n##", "text"),
        ("- one\n-", "• one"),
        ("text\n***", "text"),
        ("text\n\n---", "text"),
        ("text\n``", "text"),
        ("> quote **x", "<blockquote>quote <b>x</b></blockquote>"),
        ("$$\nx_1 *", "$$\nx_1 *"),
        ("$$ alone\n\n**bold", "$$ alone\n\n<b>bold</b>"),
        ("$$\nnever closed\n\n**bold", "$$\nnever closed\n\n<b>bold</b>"),
        ("done **now**", "done <b>now</b>"),
    ],
)
def test_partial(markdown: str, expected: str) -> None:
    assert html(markdown, partial=True) == expected


def test_partial_only_touches_the_streamed_tail() -> None:
    md = "a **lone opener\n\nand the tail **bold"
    assert html(md, partial=True) == "a **lone opener\n\nand the tail <b>bold</b>"
    assert html(md) == "a **lone opener\n\nand the tail **bold"


CORPUS = [
    # GPT-style Python answer: code with < and &, lists, inline code.
    """## Fixing the comparison

The bug is in `is_valid`: it uses `&` instead of `and`, and compares with `<=`.

```python
def is_valid(x: int) -> bool:
    return 0 <= x < 10 and x & 1 == 0  # even digits only

print(is_valid(4) and "<ok>")
```

**Why it works:**
- `0 <= x < 10` is a *chained* comparison
- `x & 1` checks the lowest bit
  - nested note: `&` binds tighter than `==`

1. Save the file as `check_digits.py`
2. Run `python check_digits.py && echo done`
""",
    # Chinese answer with bold, numbered steps, table.
    """### 安装步骤

**注意：**请先备份配置文件。这是**重要**的一步！

1. 下载安装包（约 **120 MB**）
2. 运行 `install.sh`，等待完成
3. 修改 `config_file.yaml` 中的 `max_tokens` 参数

| 参数 | 默认值 | 说明 |
|------|--------|------|
| `max_tokens` | 4096 | 最大**输出**长度 |
| timeout | 30 | 超时（秒） |

> 提示：如果遇到 *权限错误*，请使用 `sudo`。
""",
    # Claude-style: headings, nested lists, generics with < >, a link.
    """# Understanding `Result<T, E>`

Rust's `Result<T, E>` type is an enum with two variants:

* `Ok(T)` — the **success** case
* `Err(E)` — the *error* case
    * use `?` to propagate it
    * or `match` on it explicitly

See [the Rust book](https://doc.rust-lang.org/book/ch09-02.html) for details.

---

In short: prefer `?` over `unwrap()` unless you're **sure** it can't fail.
""",
    # DeepSeek-style Chinese with code and explanation.
    """好的，下面是一个用 Python 读取文件的例子：

```python
with open("data.txt", encoding="utf-8") as f:
    for line in f:
        if "<error>" in line and len(line) > 0:
            print(line.strip())
```

**代码说明：**

- `with` 语句会自动关闭文件
- `encoding="utf-8"` 可以避免中文乱码
- 条件 `len(line) > 0 & True` 只是演示

希望对你有帮助！😊
""",
    # Gemini-style bullets with bold labels.
    """Here's a quick comparison:

*   **Speed:** Go compiles faster than Rust.
*   **Safety:** Rust's borrow checker prevents data races at compile time.
*   **Ecosystem:** Both have strong package managers (`go mod` vs `cargo`).

***Bottom line:*** pick the one your team knows.
""",
    # Shell answer: redirects, &&, bare URLs with underscores.
    """Run these commands:

```bash
curl -sSL https://example.com/install_script.sh > install.sh && bash install.sh 2>&1 | tee log.txt
```

Then open https://example.com/docs/getting_started_guide and follow the *Setup* section.
If it fails, check ~/.config/app_name/settings.json & restart.
""",
    # Math: LaTeX left alone, literal operators in prose.
    """The area is \\(A = \\pi r^2\\), so for \\(r = 2\\) we get \\(4\\pi\\).

$$
\\int_0^1 x^2 \\, dx = \\frac{1}{3}
$$

Note that 2*3*4 = 24 and a * b is commutative, while x**2 grows fast.
""",
    # HTML/JSX sample in a fence, inline tags in backticks.
    """Use a fragment instead of a wrapper `<div>`:

```jsx
return (
  <>
    <Header title="A & B" />
    {items.length > 0 && <List items={items} />}
  </>
);
```

Avoid `<br>` for spacing; use CSS `margin` instead. ~~Old advice: use tables.~~
""",
    # Quote, horizontal rule, strike, emoji.
    """> "Premature optimization is the root of all evil." — Donald Knuth

That quote is often **misused** 🙃. The full sentence continues:

> We should forget about small efficiencies, say about 97% of the time.
> Yet we should not pass up our opportunities in that critical 3%.

---

~~Always optimize early~~ → **measure first**, then optimize.
""",
    # Mixed: snake_case in prose, file paths, headings with code.
    """## The `get_user_by_id` function

It calls fetch_user_record and then normalize_user_fields on the result.
The config lives in /etc/my_app/app_config.yaml (see `DEFAULT_CONFIG_PATH`).

#### Edge cases
- id < 0 → raises `ValueError`
- id > 2^31 → raises `OverflowError`
- missing user → returns `None`
""",
]


@pytest.mark.parametrize("answer", CORPUS)
def test_corpus_final_render_is_valid_and_plain_matches(answer: str) -> None:
    out = render(answer)
    check_html(out.html)
    assert out.plain == visible(out.html)
    for raw in ("**", "~~", "](", "```"):
        assert raw not in visible_outside_code(out.html).replace("x**2", "")
    # A finished answer renders the same whether or not it is flagged as partial.
    assert render(answer, partial=True) == out
    assert utf16_len(out.plain) <= utf16_len(answer)


@pytest.mark.parametrize("answer", CORPUS)
def test_corpus_streaming_prefixes_never_show_raw_markers(answer: str) -> None:
    for end in range(1, len(answer) + 1):
        out = render(answer[:end], partial=True)
        check_html(out.html)
        assert out.plain == visible(out.html), answer[:end]
        shown = visible_outside_code(out.html).replace("x**2", "")
        for raw in ("**", "~~", "`", "]("):
            assert raw not in shown, (answer[:end], out.html)


def test_corpus_keeps_content() -> None:
    out = render(CORPUS[0])
    assert "return 0 <= x < 10 and x & 1 == 0" in out.plain
    assert "&lt;= x &lt; 10 and x &amp; 1" in out.html
    assert "• <code>0 &lt;= x &lt; 10</code> is a <i>chained</i> comparison" in out.html
    assert "  • nested note" in out.plain
    out = render(CORPUS[2])
    assert "the Rust book (https://doc.rust-lang.org/book/" in out.plain
    out = render(CORPUS[5])
    assert "https://example.com/docs/getting_started_guide" in out.html


FUZZ_PIECES = [
    "**",
    "*",
    "_",
    "__",
    "~~",
    "~",
    "||",
    "`",
    "``",
    "```",
    "[",
    "]",
    "(",
    ")",
    "](",
    "<",
    ">",
    "&",
    '"',
    "\\",
    "# ",
    "- ",
    "> ",
    "1. ",
    "\n",
    "\n\n",
    "|",
    "---",
    "$",
    "$$",
    " ",
    " ",
    "a",
    "word",
    "中文",
    "😀",
    "https://x.y/a_b",
    "(https://x.y)",
    "tg://u",
    "<br>",
    "\t",
    "!",
]


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_output_is_always_valid(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        md = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(0, 40)))
        for partial in (False, True):
            out = render(md, partial=partial)
            check_html(out.html)
            assert out.plain == visible(out.html), md
            assert utf16_len(out.plain) <= utf16_len(md), md


@pytest.mark.parametrize(
    "bad",
    [
        "<b><i>x</b></i>",
        "<b>x",
        "x</b>",
        "a < b",
        "a > b",
        "a & b",
        "<br>",
        "<em>x</em>",
        "<b><b>x</b></b>",
        "<code><b>x</b></code>",
        '<span class="other">x</span>',
        '<a title="t">x</a>',
        '<code class="language-py">x</code>',
    ],
)
def test_the_checker_itself_rejects_invalid_html(bad: str) -> None:
    with pytest.raises(AssertionError):
        check_html(bad)
