//! Field validation shared by every request: text limits, phone numbers.
//! A [`ValidationError`] always names the field the client got wrong.

/// A client's mistake in one field. Becomes `INVALID_ARGUMENT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Longest description accepted (characters).
pub const DESCRIPTION_MAX_CHARS: usize = 4_000;
/// Longest value of any other free-text field (characters).
pub const SHORT_TEXT_MAX_CHARS: usize = 200;

/// Free text as entered by an operator: any script, stored verbatim, bounded
/// in length. Control characters other than newline and tab are refused.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<String, ValidationError> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters (got {chars})"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Like [`text`] but must not be blank.
pub fn required_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    text(field, value, max_chars)
}

/// A call sign such as `AMB-RSSA-1`: printable, no control or markup
/// characters, surrounding blanks trimmed.
pub fn call_sign(value: &str) -> Result<String, ValidationError> {
    label("call_sign", value, SHORT_TEXT_MAX_CHARS)
}

/// Characters that mean markup to a browser or a spreadsheet.
const MARKUP: [char; 5] = ['<', '>', '"', '&', '`'];

/// A short name shown on maps, lists and tooltips (call signs, agency
/// and camera names): required, at most `max_chars`, surrounding blanks
/// trimmed, and neither control characters (not even newlines) nor
/// markup characters (`<`, `>`, `"`, `&`, backtick). The pages render
/// every text as text anyway; the server refuses what could only ever be
/// an attempt at markup.
pub fn label(field: &str, value: &str, max_chars: usize) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    required_text(field, trimmed, max_chars)?;
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    if trimmed.chars().any(|c| MARKUP.contains(&c)) {
        return Err(ValidationError::new(
            field,
            "must not contain markup characters (< > \" & `)",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Normalises an Indonesian phone number as callers give it
/// (`+62 812-3456-7890`, `0812 3456 7890`, `(0341) 123456`) to E.164
/// (`+6281234567890`). Empty stays empty: a caller may withhold the number.
pub fn phone_number(field: &str, value: &str) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.chars().count() > SHORT_TEXT_MAX_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {SHORT_TEXT_MAX_CHARS} characters"),
        ));
    }
    let mut digits = String::new();
    for (index, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if index == 0 => {}
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => {
                return Err(ValidationError::new(
                    field,
                    format!("is not a phone number (unexpected {c:?})"),
                ));
            }
        }
    }
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("62{rest}")
    } else if digits.starts_with("62") {
        digits
    } else {
        return Err(ValidationError::new(
            field,
            "is not a phone number (start with +, 0 or 62)",
        ));
    };
    // E.164: at most 15 digits; Indonesian numbers have at least 8 after +62.
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(ValidationError::new(
            field,
            "is not a phone number (E.164 allows 8 to 15 digits)",
        ));
    }
    Ok(format!("+{international}"))
}

/// The caller's number of a new call. The network either gave a number
/// (required then) or withheld it (`caller_id_withheld`), and then there is
/// none to give: a call-taker says which rather than leave the field blank.
pub fn caller_number(phone: &str, withheld: bool) -> Result<String, ValidationError> {
    let phone = phone_number("caller_phone", phone)?;
    match (phone.is_empty(), withheld) {
        (true, false) => Err(ValidationError::new(
            "caller_phone",
            "is required (set caller_id_withheld when the network gave no number)",
        )),
        (false, true) => Err(ValidationError::new(
            "caller_phone",
            "must be empty when caller_id_withheld is set",
        )),
        _ => Ok(phone),
    }
}

/// A client-supplied UUID (ids without a type of their own).
pub fn uuid(field: &str, value: &str) -> Result<uuid::Uuid, ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    uuid::Uuid::parse_str(value.trim()).map_err(|_| ValidationError::new(field, "must be a UUID"))
}

/// A point in time a client may name: from 1900 to 9999 (PostgreSQL and
/// chrono both hold these; far beyond them a database error would follow).
pub fn time_in_range(
    field: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, ValidationError> {
    use chrono::Datelike;
    if (1900..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        Err(ValidationError::new(
            field,
            "must be between the years 1900 and 9999",
        ))
    }
}

/// Shortest password a user may be given.
/// Longest camera stream address.
pub const URL_MAX_CHARS: usize = 2_000;

/// A camera's stream address: `http://`, `https://` or `rtsp://` with a
/// host, no spaces or control characters (a `javascript:` or `file:` link
/// never reaches an operator's screen).
pub fn stream_url(field: &str, value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if value.chars().count() > URL_MAX_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {URL_MAX_CHARS} characters"),
        ));
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(ValidationError::new(
            field,
            "must start with http://, https:// or rtsp://",
        ));
    };
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "https" | "rtsp"
    ) {
        return Err(ValidationError::new(
            field,
            "must start with http://, https:// or rtsp://",
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(ValidationError::new(field, "must name a host"));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
    {
        return Err(ValidationError::new(
            field,
            "must not contain spaces, quotes or angle brackets",
        ));
    }
    Ok(format!("{}://{rest}", scheme.to_ascii_lowercase()))
}

pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted (hashing cost is bounded).
pub const PASSWORD_MAX_CHARS: usize = 1_024;

/// A login name: 1–64 of `a-z 0-9 . _ -`, lowercased (people type `Sri`
/// and `sri` alike).
pub fn username(field: &str, value: &str) -> Result<String, ValidationError> {
    let name = value.trim().to_lowercase();
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.chars().count() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ValidationError::new(
            field,
            "must be 1 to 64 of a-z, 0-9, '.', '_' and '-'",
        ));
    }
    Ok(name)
}

/// A new password: at least [`PASSWORD_MIN_CHARS`] characters, no control
/// characters. Never echoed in the error.
pub fn new_password(field: &str, value: &str) -> Result<String, ValidationError> {
    let chars = value.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A phone number as logs may show it: country code and the last two
/// digits, the rest masked (`+62*********90`).
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() <= 5 {
        return "*".repeat(digits.len());
    }
    let (head, rest) = digits.split_at(3);
    let (middle, tail) = rest.split_at(rest.len() - 2);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(middle.len()),
        tail.iter().collect::<String>()
    )
}

/// A caller's name as logs may show it: each word's first letter only
/// (`B* S**`).
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            format!("{first}{}", "*".repeat(chars.count()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_streams_are_web_or_rtsp_addresses_only() {
        assert_eq!(
            stream_url("u", " RTSP://cctv.malangkota.go.id:554/tugu ").unwrap(),
            "rtsp://cctv.malangkota.go.id:554/tugu"
        );
        assert!(stream_url("u", "https://cctv.example/ijen?cam=2").is_ok());
        for bad in [
            "",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ftp://cctv.example/x",
            "https://",
            "https:///path",
            "https://a b/",
            "https://cctv.example/\"<x>",
            "cctv.example/tugu",
        ] {
            assert_eq!(stream_url("u", bad).unwrap_err().field, "u", "{bad}");
        }
    }

    #[test]
    fn indonesian_numbers_are_normalised_to_e164() {
        assert_eq!(
            phone_number("p", "+62 812-3456-7890").unwrap(),
            "+6281234567890"
        );
        assert_eq!(
            phone_number("p", "0812 3456 7890").unwrap(),
            "+6281234567890"
        );
        assert_eq!(phone_number("p", "(0341) 123456").unwrap(), "+62341123456");
        assert_eq!(
            phone_number("p", "6281234567890").unwrap(),
            "+6281234567890"
        );
        assert_eq!(phone_number("p", "").unwrap(), "");
    }

    #[test]
    fn garbage_phone_numbers_are_refused_naming_the_field() {
        for bad in [
            "abc",
            "12",
            "+62 812'; DROP TABLE",
            "0",
            "+1234567890123456",
        ] {
            let error = phone_number("caller_phone", bad).unwrap_err();
            assert_eq!(error.field, "caller_phone", "{bad}");
        }
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        let javanese = "ꦩꦭꦁ".repeat(66); // 198 characters, many more bytes
        assert!(text("address", &javanese, SHORT_TEXT_MAX_CHARS).is_ok());
        let error = text("address", &"a".repeat(201), SHORT_TEXT_MAX_CHARS).unwrap_err();
        assert_eq!(error.field, "address");
        assert!(error.message.contains("200"));
    }

    #[test]
    fn text_is_kept_verbatim_including_sql_metacharacters_and_emoji() {
        let value = "Jl. Ijen 'No. 5'; -- 🚑\nlantai 2";
        assert_eq!(
            text("description", value, DESCRIPTION_MAX_CHARS).unwrap(),
            value
        );
    }

    #[test]
    fn a_new_call_has_a_number_or_says_it_was_withheld() {
        assert_eq!(
            caller_number("0812 3456 7890", false).unwrap(),
            "+6281234567890"
        );
        assert_eq!(caller_number("", true).unwrap(), "");
        assert_eq!(
            caller_number("  ", false).unwrap_err().field,
            "caller_phone"
        );
        assert_eq!(
            caller_number("0812 3456 7890", true).unwrap_err().field,
            "caller_phone"
        );
    }

    #[test]
    fn usernames_are_lowercase_words_and_passwords_have_ten_characters() {
        assert_eq!(username("username", " Sri ").unwrap(), "sri");
        assert!(username("username", "sri wahyuni").is_err());
        assert!(username("username", "").is_err());
        assert!(new_password("password", "123456789").is_err());
        assert!(new_password("password", "1234567890").is_ok());
        let error = new_password("password", "short").unwrap_err();
        assert!(!error.to_string().contains("short"));
    }

    #[test]
    fn logs_see_callers_only_masked() {
        assert_eq!(mask_phone("+6281234567890"), "+62*********90");
        assert_eq!(mask_phone("+62"), "***");
        assert_eq!(mask_name("Bu Sri Wahyuni"), "B* S** W******");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(call_sign("AMB\u{0007}-1").is_err());
        for markup in ["<b>AMB</b>", "AMB \"1\"", "AMB&1", "AMB`1`"] {
            assert_eq!(
                call_sign(markup).unwrap_err().field,
                "call_sign",
                "{markup}"
            );
        }
        assert_eq!(
            label("name", " Pos Damkar Blimbing ", 80).unwrap(),
            "Pos Damkar Blimbing"
        );
        assert!(label("name", "Pos\nDamkar", 80).is_err());
        assert!(text("address", "a\u{0000}b", 200).is_err());
        assert_eq!(call_sign("  AMB-RSSA-1 ").unwrap(), "AMB-RSSA-1");
        assert!(call_sign("   ").is_err());
    }
}
