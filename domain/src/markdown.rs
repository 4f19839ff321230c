//! Finding text is Markdown: the product marks names, settings and commands as code spans and
//! writes the rest as prose. Values from outside the product (rule and lifecycle rule
//! descriptions, tag values, policy texts, callers, upstream messages) are mixed into it.
//!
//! Two helpers keep those values from formatting chat (AWS Chatbot custom notifications,
//! `textType: client-markdown`, rendered in Slack, Microsoft Teams and Amazon Chime):
//!
//! - [`code`] puts a value into a finding as one code span that renders as exactly the value
//!   (CommonMark 0.31, section 6.1), whatever backticks it holds. Reports and the CLI show the
//!   same text, so the value stays readable and raw there.
//! - [`for_chat`] is the last line of defence, applied by the alerts (`ptc_ops::alerts`) to every text field
//!   of a notification: code spans stay code spans, everything else is escaped, and what chat
//!   clients turn into links or mentions even inside code is defused. Whatever a check wrote,
//!   outside text cannot become a link, a mention, a heading or emphasis.
//!
//! Pure.

use super::secret::scrub;

/// Breaks a link or mention that a chat client would recognise, without hiding the text.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// `value` as one inline code span that renders as exactly `value`, line breaks as spaces:
/// the fence is one backtick longer than the longest run of backticks in the value, and a
/// space pads each side when the value starts or ends with a backtick or a space (CommonMark
/// strips one such space from each side). An empty value is a code span of one space.
pub fn code(value: &str) -> String {
    let value = one_line(value);
    if value.is_empty() {
        return "` `".to_owned();
    }
    let fence = "`".repeat(longest_backtick_run(&value) + 1);
    let all_spaces = value.chars().all(|character| character == ' ');
    let pad = value.starts_with('`')
        || value.ends_with('`')
        || (value.starts_with(' ') && value.ends_with(' ') && !all_spaces);
    let padding = if pad { " " } else { "" };
    format!("{fence}{padding}{value}{padding}{fence}")
}

/// `text` (product Markdown with outside values mixed in) as one line that chat renders
/// without any link, mention, heading, list, quote, emphasis or HTML: known secret values are
/// scrubbed first (escaping would hide them from the scrubber), line breaks become spaces,
/// code spans are kept (re-fenced with [`code`], their content defused), and every other
/// Markdown character is backslash-escaped.
pub fn for_chat(text: &str) -> String {
    let text = one_line(&scrub(text));
    let text = text.trim_start();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut previous_end: Option<char> = None;
    for segment in segments(text) {
        let (Segment::Text(part) | Segment::Code(part)) = segment;
        // Rendered, prose and a code span that touch read as one word: `https:` then `//x`,
        // or `@` then `here`. A zero-width space where they touch keeps each defused alone.
        let touches = previous_end.is_some_and(|end| !end.is_whitespace())
            && part
                .chars()
                .next()
                .is_some_and(|start| !start.is_whitespace());
        if touches {
            out.push(ZERO_WIDTH_SPACE);
        }
        match segment {
            Segment::Text(part) => escape_text(&defuse(part), out.is_empty(), &mut out),
            Segment::Code(content) => out.push_str(&code(&defuse(content))),
        }
        previous_end = part.chars().last();
    }
    out
}

/// Defuses what chat clients turn into links or mentions, in text and in code alike (a client
/// that does not honour a code span must not ping a channel; [`for_chat`] also separates prose
/// and a code span that touch, so nothing is put together across them):
/// `scheme://` becomes `scheme[:]//` (the usual way to show a URL that must not be clicked),
/// `www.` at the start of a word becomes `www[.]`, and a zero-width space follows an `@` that
/// starts a word (`@here`, `@channel`, `@All`; an e-mail address is left as it is) and a `<`
/// that starts a tag or a Slack control sequence (`<!here>`, `<@U123>`, `<https://…|x>`).
pub fn defuse(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<char> = None;
    let mut rest = characters.as_slice();
    while let Some((&character, after)) = rest.split_first() {
        let starts_word = !previous.is_some_and(char::is_alphanumeric);
        if rest.starts_with(&[':', '/', '/']) {
            out.push_str("[:]//");
            previous = Some('/');
            rest = &rest[3..];
            continue;
        }
        let www = rest.get(..4).is_some_and(|word| {
            word.iter()
                .zip("www.".chars())
                .all(|(found, expected)| found.to_ascii_lowercase() == expected)
        });
        if starts_word && www {
            out.extend(&rest[..3]);
            out.push_str("[.]");
            previous = Some('.');
            rest = &rest[4..];
            continue;
        }
        out.push(character);
        let next = after.first().copied();
        let breaks_mention =
            character == '@' && starts_word && next.is_some_and(char::is_alphanumeric);
        let breaks_tag = character == '<'
            && next.is_some_and(|after| after.is_alphabetic() || "!@#/".contains(after));
        if breaks_mention || breaks_tag {
            out.push(ZERO_WIDTH_SPACE);
        }
        previous = Some(character);
        rest = after;
    }
    out
}

/// Cuts chat text made by [`for_chat`] to at most `max_chars` characters, saying that it did,
/// and never inside a code span or an escape (half a code span would let its content out as
/// Markdown).
pub fn truncate_for_chat(text: &str, max_chars: usize) -> String {
    const MARK: &str = " … (truncated, see the report)";
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let keep = max_chars.saturating_sub(MARK.chars().count());
    let characters: Vec<char> = text.chars().collect();
    // Whole units only: an escape, a code span with its fences, or one character.
    let mut rest = characters.as_slice();
    while let Some(run) = backtick_runs(rest).next() {
        let unit = match run[0] {
            '\\' => 2,
            '`' => {
                let fence = run.len();
                closing_fence(rest, fence, fence).map_or(fence, |close| close + fence)
            }
            _ => 1,
        };
        if characters.len() - rest.len() + unit > keep {
            break;
        }
        rest = rest.get(unit..).unwrap_or_default();
    }
    let mut cut: String = characters[..characters.len() - rest.len()].iter().collect();
    cut.push_str(MARK);
    cut
}

#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Text(&'a str),
    /// The content of a code span, CommonMark's padding stripped.
    Code(&'a str),
}

/// Splits `text` into prose and code spans as CommonMark reads them: a run of backticks opens
/// a code span when a run of exactly as many closes it; otherwise it is literal text.
/// Backslashes are taken literally (they are escaped again in the output).
fn segments(text: &str) -> Vec<Segment<'_>> {
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    let plain: Vec<char> = characters.iter().map(|(_, character)| *character).collect();
    let byte_at = |index: usize| characters.get(index).map_or(text.len(), |(at, _)| *at);
    let mut segments = Vec::new();
    // `text_start`: where the prose not yet pushed starts; a run before it was in a code span.
    let (mut index, mut text_start) = (0, 0);
    for run in backtick_runs(&plain) {
        let start = index;
        index += run.len();
        if run[0] != '`' || start < text_start {
            continue;
        }
        let fence = run.len();
        let Some(close) = closing_fence(&plain, start + fence, fence) else {
            continue;
        };
        let prose = &text[byte_at(text_start)..byte_at(start)];
        if !prose.is_empty() {
            segments.push(Segment::Text(prose));
        }
        let content = &text[byte_at(start + fence)..byte_at(close)];
        segments.push(Segment::Code(strip_code_padding(content)));
        text_start = close + fence;
    }
    let prose = &text[byte_at(text_start)..];
    if !prose.is_empty() {
        segments.push(Segment::Text(prose));
    }
    segments
}

/// CommonMark strips one space from each side of a code span's content when both sides have
/// one and the content is not only spaces.
fn strip_code_padding(content: &str) -> &str {
    let only_spaces = content.chars().all(|character| character == ' ');
    if content.len() >= 2 && content.starts_with(' ') && content.ends_with(' ') && !only_spaces {
        &content[1..content.len() - 1]
    } else {
        content
    }
}

/// Each run of backticks as one slice, every other character alone.
fn backtick_runs(characters: &[char]) -> impl Iterator<Item = &[char]> {
    characters.chunk_by(|left, right| *left == '`' && *right == '`')
}

/// Where the next run of exactly `fence` backticks at or after `from` (a run's start) starts.
fn closing_fence(characters: &[char], from: usize, fence: usize) -> Option<usize> {
    let mut index = from;
    for run in backtick_runs(characters.get(from..)?) {
        if run[0] == '`' && run.len() == fence {
            return Some(index);
        }
        index += run.len();
    }
    None
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|character| character != '`')
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Line breaks as spaces: a chat line is one paragraph, so nothing in a value can start a
/// heading, a list or a quote on a line of its own.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'], " ")
}

/// Characters that start Markdown (CommonMark, GitHub's tables and strikethrough, Slack's
/// `~strike~`): each is written with a backslash, which CommonMark allows before any ASCII
/// punctuation and renders as the character alone.
const ESCAPED: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '#', '~', '|', '&', '!',
];

/// Escapes prose. At the start of a line, a list marker (`-`, `+`, `1.`, `1)`) or a setext
/// underline (`=`) is escaped as well.
fn escape_text(text: &str, line_start: bool, out: &mut String) {
    let mut characters = text.chars().peekable();
    if line_start {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        let after_digits = text[digits.len()..].chars().next();
        if !digits.is_empty() && matches!(after_digits, Some('.' | ')')) {
            out.push_str(&digits);
            for _ in 0..digits.len() {
                characters.next();
            }
            out.push('\\');
        } else if matches!(text.chars().next(), Some('-' | '+' | '=')) {
            out.push('\\');
        }
    }
    for character in characters {
        if ESCAPED.contains(&character) {
            out.push('\\');
        }
        out.push(character);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;
    use crate::SecretValue;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    /// What CommonMark (with GitHub's tables and strikethrough) makes of `markdown`: the text
    /// of each code span, the plain text, and every construct other than a paragraph, text and
    /// code (a link, an emphasis, a heading, HTML…) by name.
    struct Rendered {
        code_spans: Vec<String>,
        text: String,
        constructs: Vec<String>,
    }

    fn render(markdown: &str) -> Rendered {
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        let mut rendered = Rendered {
            code_spans: Vec::new(),
            text: String::new(),
            constructs: Vec::new(),
        };
        for event in Parser::new_ext(markdown, options) {
            match event {
                Event::Text(text) => rendered.text.push_str(&text),
                Event::Code(code) => {
                    rendered.text.push_str(&code);
                    rendered.code_spans.push(code.into_string());
                }
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                Event::SoftBreak => rendered.text.push(' '),
                other => rendered.constructs.push(format!("{other:?}")),
            }
        }
        rendered
    }

    /// `value` put in with [`code`] is one code span showing exactly `value` (line breaks as
    /// spaces), in any sentence.
    fn check_code(name: &str, value: &str) {
        let markdown = format!("rule {} was changed", code(value));
        let rendered = render(&markdown);
        assert_eq!(
            rendered.code_spans,
            [one_line(value)],
            "{name}: {markdown:?} has other code spans"
        );
        assert!(
            rendered.constructs.is_empty(),
            "{name}: {markdown:?} renders {:?}",
            rendered.constructs
        );
    }

    named_cases! {
        /// Any value is one code span, shown as it is.
        mod code_spans_show_the_value => check_code;
        plain("docker-hub/library/nginx"),
        one_backtick("a`b"),
        backtick_runs("``a```b`"),
        starts_and_ends_with_backticks("`x`"),
        starts_with_a_backtick("`x"),
        ends_with_a_backtick("x`"),
        only_backticks("```"),
        spaces_around(" padded "),
        only_spaces("   "),
        link_inside("[x](https://evil.example)"),
        line_break_inside("first\nsecond"),
    }

    #[test]
    fn an_empty_value_is_a_code_span_of_one_space() {
        assert_eq!(render(&code("")).code_spans, [" "]);
    }

    /// `text` sent to chat renders as `expected_text` with only the code spans
    /// `expected_code`, and no link, mention, emphasis, heading, list or HTML.
    fn check_chat(name: &str, text: &str, expected_text: &str, expected_code: &[&str]) {
        let _token = SecretValue::new("ghp_Secret_Looking_Value_0123");
        let chat = for_chat(text);
        let rendered = render(&chat);
        assert!(
            rendered.constructs.is_empty(),
            "{name}: {chat:?} renders {:?}",
            rendered.constructs
        );
        assert_eq!(rendered.text, expected_text, "{name}: {chat:?}");
        assert_eq!(rendered.code_spans, expected_code, "{name}: {chat:?}");
        assert!(!chat.contains('\n'), "{name}: one line: {chat:?}");
        for mention in [
            "@here", "@channel", "@All", "<!here>", "<@U123>", "https://",
        ] {
            assert!(!chat.contains(mention), "{name}: {mention} in {chat:?}");
        }
    }

    named_cases! {
        /// Outside text in chat: shown, never formatting.
        mod chat_text_cannot_format => check_chat;
        product_code_spans_still_render(
            "rule `docker-hub` is invalid",
            "rule docker-hub is invalid",
            &["docker-hub"]
        ),
        markdown_link(
            "rule 1 ([x](https://evil.example))",
            "rule 1 ([x](https[:]//evil.example))",
            &[]
        ),
        link_inside_a_code_span(
            "policy was `{\"description\":\"[x](https://evil.example)\"}`",
            "policy was {\"description\":\"[x](https[:]//evil.example)\"}",
            &["{\"description\":\"[x](https[:]//evil.example)\"}"]
        ),
        slack_link(
            "see <https://evil.example|the runbook>",
            "see <\u{200B}https[:]//evil.example|the runbook>",
            &[]
        ),
        bare_url_and_www(
            "go to https://evil.example or www.evil.example",
            "go to https[:]//evil.example or www[.]evil.example",
            &[]
        ),
        mentions(
            "@here @channel @All please",
            "@\u{200B}here @\u{200B}channel @\u{200B}All please",
            &[]
        ),
        slack_mentions(
            "<!here> and <@U123> and <#C42>",
            "<\u{200B}!here> and <\u{200B}@\u{200B}U123> and <\u{200B}#C42>",
            &[]
        ),
        mention_split_across_a_code_span(
            "ping @`here` or https:`//evil.example`",
            "ping @\u{200B}here or https:\u{200B}//evil.example",
            &["here", "//evil.example"]
        ),
        mention_inside_a_code_span(
            "caller `role/@here`",
            "caller role/@\u{200B}here",
            &["role/@\u{200B}here"]
        ),
        email_address_kept(
            "caller `assumed-role/admin/alice@example.com`",
            "caller assumed-role/admin/alice@example.com",
            &["assumed-role/admin/alice@example.com"]
        ),
        backtick_breaking_out_of_a_code_span(
            "description `a` [x](https://evil.example) `b`",
            "description a [x](https[:]//evil.example) b",
            &["a", "b"]
        ),
        /// CommonMark drops one space each side of a code span's content; so does the chat text.
        padded_code_span("see ` padded ` here", "see padded here", &["padded"]),
        code_span_of_spaces_kept("a `  ` b", "a    b", &["  "]),
        unmatched_backtick(
            "tag value `it`s` here",
            "tag value it\u{200B}s` here",
            &["it"]
        ),
        emphasis_and_strikethrough(
            "*bold* _it_ **b** ~~gone~~ ~x~",
            "*bold* _it_ **b** ~~gone~~ ~x~",
            &[]
        ),
        heading_at_start("# Heading", "# Heading", &[]),
        list_at_start("- item", "- item", &[]),
        ordered_list_at_start("12. item", "12. item", &[]),
        quote_at_start("> quoted", "> quoted", &[]),
        html_ish(
            "<img src=x onerror=alert(1)> <b>bold</b> <at>Ops</at>",
            "<\u{200B}img src=x onerror=alert(1)> <\u{200B}b>bold<\u{200B}/b> <\u{200B}at>Ops<\u{200B}/at>",
            &[]
        ),
        entity("&lt;!here&gt; &amp;", "&lt;!here&gt; &amp;", &[]),
        newlines_cannot_start_blocks(
            "first\n# heading\n- item\r\n> quote",
            "first # heading - item > quote",
            &[]
        ),
        table_row("| a | b |\n|---|---|", "| a | b | |---|---|", &[]),
        backslashes_stay("C:\\path\\* and \\`", "C:\\path\\* and \\`", &[]),
        secret_scrubbed_before_escaping(
            "token ghp_Secret_Looking_Value_0123 in `ghp_Secret_Looking_Value_0123`",
            "token *** in ***",
            &["***"]
        ),
    }

    /// Thousands of strings made of Markdown's characters, mixed as no table would think of:
    /// none renders anything but text and code spans once through [`for_chat`], none keeps a
    /// link or a mention, and cutting any of them keeps it so.
    #[test]
    fn no_mix_of_markdown_characters_gets_through() {
        const ALPHABET: &[char] = &[
            '[', ']', '(', ')', '<', '>', '`', '*', '_', '~', '#', '-', '+', '=', '!', '|', '&',
            '\\', '@', ':', '/', ' ', 'a', 'h', 't', 'p', 's', '.', 'w', '1', '\n', ';', '"',
        ];
        // A fixed linear congruential generator: the same strings on every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % bound
        };
        for _ in 0..20_000 {
            let length = next(48);
            let text: String = (0..length)
                .map(|_| ALPHABET[next(ALPHABET.len())])
                .collect();
            let chat = for_chat(&text);
            let cut = truncate_for_chat(&chat, 40);
            for (what, markdown) in [("whole", &chat), ("cut", &cut)] {
                let rendered = render(markdown);
                assert!(
                    rendered.constructs.is_empty(),
                    "{what} {text:?} → {markdown:?} renders {:?}",
                    rendered.constructs
                );
                for found in [&rendered.text, markdown] {
                    assert!(
                        !found.contains("://") && !found.contains("<!") && !mentions(found),
                        "{what} {text:?} → {markdown:?}"
                    );
                }
            }
        }
    }

    /// Whether `text` has an `@` that starts a word and is followed by one (a mention).
    fn mentions(text: &str) -> bool {
        let characters: Vec<char> = text.chars().collect();
        characters.iter().enumerate().any(|(index, character)| {
            *character == '@'
                && (index == 0 || !characters[index - 1].is_alphanumeric())
                && characters
                    .get(index + 1)
                    .is_some_and(|next| next.is_alphanumeric())
        })
    }

    /// Chat text cut at `max` keeps whole code spans and escapes, and renders no construct.
    fn check_truncated(name: &str, text: &str, max: usize, expected_text: &str) {
        let cut = truncate_for_chat(&for_chat(text), max);
        assert!(cut.chars().count() <= max, "{name}: {cut:?}");
        let rendered = render(&cut);
        assert!(
            rendered.constructs.is_empty(),
            "{name}: {cut:?} renders {:?}",
            rendered.constructs
        );
        assert_eq!(rendered.text, expected_text, "{name}: {cut:?}");
    }

    named_cases! {
        /// Cutting never opens a code span or leaves a lone backslash.
        mod truncation_keeps_markdown_whole => check_truncated;
        short_text_is_kept("`x` fits", 100, "x fits"),
        code_span_dropped_whole(
            "before `[x](https://evil.example) and a long tail of code` after",
            40,
            "before  … (truncated, see the report)"
        ),
        escape_kept_whole(
            "aaaaaaaaa*bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            40,
            "aaaaaaaaa … (truncated, see the report)"
        ),
        /// 40 characters leave 10 of the text beside the 30 of the mark.
        cut_where_the_mark_begins(
            "the repository policy grants everyone pull",
            40,
            "the reposi … (truncated, see the report)"
        ),
        code_span_kept_whole(
            "see `abc` and `x` and a much longer tail of prose",
            40,
            "see abc  … (truncated, see the report)"
        ),
    }
}
