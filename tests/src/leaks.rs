//! Looking for a token in every form a writer could give it.

/// A token no writer can print as it is: a quote, a backslash and non-ASCII letters, made
/// unique by `tag` so parallel tests never see each other's.
pub fn hostile_token(tag: &str) -> String {
    format!("tok\"en\\wïth-ünïcode-{tag}")
}

/// `token` as a JSON document, a `Debug` string, a byte buffer's `Debug`, ASCII-only JSON, and
/// one inside another, would show it; plus the pieces that survive any escaping: its non-ASCII
/// letters in each escape, and its ASCII end (make it unique with [`hostile_token`]'s tag).
pub fn leaked_forms(token: &str) -> Vec<String> {
    let json = |text: &str| {
        let quoted = serde_json::Value::String(text.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    let debug = |text: &str| {
        let quoted = format!("{text:?}");
        quoted[1..quoted.len() - 1].to_owned()
    };
    let bytes = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'"' | b'\\' => format!("\\{}", char::from(byte)),
                0x20..=0x7e => char::from(byte).to_string(),
                _ => format!("\\x{byte:02x}"),
            })
            .collect::<String>()
    };
    let ascii_json = |text: &str| {
        json(text)
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    let mut units = [0u16; 2];
                    c.encode_utf16(&mut units)
                        .iter()
                        .map(|unit| format!("\\u{unit:04x}"))
                        .collect()
                }
            })
            .collect::<String>()
    };
    vec![
        token.to_owned(),
        json(token),
        debug(token),
        json(&debug(token)),
        debug(&json(token)),
        json(&json(token)),
        bytes(token),
        json(&bytes(token)),
        ascii_json(token),
        "wïth-ünïcode".to_owned(),
        "u00efth-".to_owned(),
        "xafth-".to_owned(),
        "u{ef}th-".to_owned(),
        ascii_tail(token),
    ]
    .into_iter()
    .filter(|form| !form.is_empty())
    .collect()
}

/// The ASCII end of a token, after its last non-ASCII character: no escaping changes it.
fn ascii_tail(token: &str) -> String {
    let tail = token
        .rfind(|c: char| !c.is_ascii())
        .map(|index| &token[index..])
        .and_then(|rest| rest.char_indices().nth(1).map(|(at, _)| &rest[at..]))
        .unwrap_or_default();
    if tail.len() >= 8 {
        tail.to_owned()
    } else {
        String::new()
    }
}

/// Fails, naming `what` and the form (never the text around it), when `text` holds any form of
/// any of `tokens`.
pub fn assert_no_token(text: &str, tokens: &[String], what: &str) {
    for token in tokens {
        for (index, form) in leaked_forms(token).iter().enumerate() {
            assert!(
                !text.contains(form.as_str()),
                "{what} holds form #{index} of a token"
            );
        }
    }
}
