//! Scan recognition: normalise what a scanner typed and say what it is.
//!
//! Normalising keeps an AIM symbology identifier (`]C1`, `]d2`, `]Q3`: ISO/IEC 15424) aside,
//! trims surrounding whitespace and control characters but never GS (ASCII 29, GS1's FNC1
//! separator), and upper-cases package tags. Classifying routes by shape first, since a METRC
//! tag is not GS1: METRC tag (patterns from `[scan] tag_patterns`), Retail ID
//! URL, BioTrack 16-digit id, GS1 element string (parsed on the Python side by biip), else
//! unrecognised. A 16-digit string is a BioTrack id unless the scanner's symbology identifier
//! says GS1, since a bare `01` + GTIN-14 element string has the same shape.

use crate::scan::retail_id;
use regex::Regex;

/// GS: the FNC1 separator inside GS1 element strings; never trimmed.
pub const GS: char = '\u{1d}';

/// AIM symbology identifiers of the GS1 carriers: GS1-128, DataBar, GS1 DataMatrix, GS1 QR,
/// and GS1 DotCode / composite variants (as biip lists them).
const GS1_SYMBOLOGIES: &[&str] = &["]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"];

/// What a scan turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    Empty,
    MetrcTag,
    RetailId,
    BioTrack,
    Gs1,
    /// Looked like a known form but is broken (a Retail ID that does not decode, stray controls).
    Malformed,
    Unrecognised,
}

impl ScanKind {
    /// The stable name used in JSON output and the Python API.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Empty => "empty",
            ScanKind::MetrcTag => "metrc_tag",
            ScanKind::RetailId => "retail_id",
            ScanKind::BioTrack => "biotrack",
            ScanKind::Gs1 => "gs1",
            ScanKind::Malformed => "malformed",
            ScanKind::Unrecognised => "unrecognised",
        }
    }
}

/// A recognised scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub kind: ScanKind,
    /// The AIM symbology identifier the scanner sent, if any (e.g. `]C1`).
    pub symbology: Option<String>,
    /// The scan after normalising (tags upper-cased; GS1 and URLs as sent).
    pub text: String,
    /// The package UID the scan names (tag, BioTrack id, or the package of a Retail ID).
    pub tag: Option<String>,
    /// The unit index of a Retail ID.
    pub unit: Option<u64>,
    /// Why a `Malformed` scan is malformed.
    pub problem: Option<String>,
}

fn is_junk(c: char) -> bool {
    (c.is_whitespace() || c.is_control()) && c != GS
}

/// Split off the AIM symbology identifier and trim; GS is kept wherever it is.
pub fn normalise(raw: &str) -> (Option<String>, String) {
    let text = raw.trim_matches(is_junk);
    let b = text.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() {
        let rest = text[3..].trim_start_matches(is_junk);
        return (Some(text[..3].to_string()), rest.to_string());
    }
    (None, text.to_string())
}

/// A configured recogniser: the accepted package-tag patterns (`[scan] tag_patterns`).
#[derive(Debug, Clone)]
pub struct Recogniser {
    patterns: Vec<Regex>,
}

/// A tag pattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    pub message: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tag pattern {:?} is not a valid regular expression: {}",
            self.pattern, self.message
        )
    }
}

impl Default for Recogniser {
    /// The embedded defaults of `[scan] tag_patterns` (drivers/config.py).
    fn default() -> Self {
        Self::new(&[r"^1A4[0-9A-F]{21}$", r"^[0-9A-Z]{24}$"]).expect("default patterns compile")
    }
}

impl Recogniser {
    /// Compile the tag patterns; the first that does not compile is reported.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let patterns = patterns
            .iter()
            .map(|p| {
                Regex::new(p.as_ref()).map_err(|e| PatternError {
                    pattern: p.as_ref().to_string(),
                    message: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { patterns })
    }

    /// Whether `tag` (already upper-cased) is an accepted package tag.
    pub fn is_tag(&self, tag: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(tag))
    }

    /// Normalise and classify one raw scan.
    pub fn recognise(&self, raw: &str) -> Recognised {
        let (symbology, text) = normalise(raw);
        self.classified(symbology, text)
    }

    /// Classify a scan whose AIM symbology identifier the scanner driver has already split off
    /// (`None`: the scanner sent none). The text is trimmed like a raw scan, but a leading `]`
    /// is part of it. With `symbology` `None` this is `recognise(text)`.
    pub fn recognise_split(&self, text: &str, symbology: Option<&str>) -> Recognised {
        match symbology {
            None => self.recognise(text),
            Some(s) => {
                let text = text.trim_matches(is_junk).to_string();
                self.classified(Some(s.to_string()), text)
            }
        }
    }

    fn classified(&self, symbology: Option<String>, text: String) -> Recognised {
        let mut out = Recognised {
            kind: ScanKind::Unrecognised,
            symbology,
            text,
            tag: None,
            unit: None,
            problem: None,
        };
        self.classify(&mut out);
        out
    }

    fn classify(&self, out: &mut Recognised) {
        let text = out.text.as_str();
        if text.is_empty() {
            out.kind = ScanKind::Empty;
            return;
        }
        if let Some(c) = text.chars().find(|&c| c.is_control() && c != GS) {
            out.kind = ScanKind::Malformed;
            out.problem = Some(format!(
                "the scan holds control character U+{:04X}",
                c as u32
            ));
            return;
        }
        if retail_id::is_retail_id_url(text) {
            match retail_id::decode_url(text) {
                Ok(id) => {
                    out.kind = ScanKind::RetailId;
                    out.tag = Some(id.tag);
                    out.unit = Some(id.unit);
                }
                Err(problem) => {
                    out.kind = ScanKind::Malformed;
                    out.problem = Some(problem);
                }
            }
            return;
        }
        let gs1_symbology = out
            .symbology
            .as_deref()
            .is_some_and(|s| GS1_SYMBOLOGIES.contains(&s));
        if gs1_symbology || text.contains(GS) {
            out.kind = ScanKind::Gs1;
            return;
        }
        let upper = text.to_ascii_uppercase();
        if self.is_tag(&upper) {
            out.kind = ScanKind::MetrcTag;
            out.text.clone_from(&upper);
            out.tag = Some(upper);
        } else if upper.len() == 16 && upper.bytes().all(|c| c.is_ascii_digit()) {
            out.kind = ScanKind::BioTrack;
            out.tag = Some(upper);
        } else if looks_gs1(text) {
            out.kind = ScanKind::Gs1;
        }
    }
}

/// GS1 shapes without a symbology identifier: HRI `(01)...`, a GTIN/UPC/EAN, an element string
/// starting with (00) SSCC or (01) GTIN, or a GS1 Digital Link URI.
fn looks_gs1(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |n: usize| b.len() >= n && b[..n].iter().all(u8::is_ascii_digit);
    let all_digits = b.iter().all(u8::is_ascii_digit);
    (b.first() == Some(&b'(') && b.len() > 4 && b[1..3].iter().all(u8::is_ascii_digit))
        || (all_digits && matches!(b.len(), 8 | 12 | 13 | 14))
        || (b.len() > 16 && b.starts_with(b"01") && digits(16))
        || (b.len() >= 20 && b.starts_with(b"00") && digits(20))
        || ((text.starts_with("https://") || text.starts_with("http://")) && text.contains("/01/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> ScanKind {
        Recogniser::default().recognise(raw).kind
    }

    #[test]
    fn normalise_keeps_symbology_and_gs() {
        let (sym, text) = normalise("  ]C1010950110153000317140704\u{1d}10AB-123\r\n");
        assert_eq!(sym.as_deref(), Some("]C1"));
        assert_eq!(text, "010950110153000317140704\u{1d}10AB-123");
        assert_eq!(
            normalise("\u{1d}0109501101530003\u{1d}").1,
            "\u{1d}0109501101530003\u{1d}"
        );
    }

    #[test]
    fn split_symbology_is_taken_as_given() {
        let rec = Recogniser::default();
        let r = rec.recognise_split("0109501101530003\u{1d}10AB\r", Some("]d2"));
        assert_eq!(
            (r.kind, r.symbology.as_deref()),
            (ScanKind::Gs1, Some("]d2"))
        );
        assert_eq!(r.text, "0109501101530003\u{1d}10AB");
        // 16 digits are a BioTrack id unless the scanner said GS1
        assert_eq!(
            rec.recognise_split("6647382910293847", Some("]C1")).kind,
            ScanKind::Gs1
        );
        assert_eq!(
            rec.recognise_split("6647382910293847", Some("]Q1")).kind,
            ScanKind::BioTrack
        );
        // the text after a split-off identifier is never split again
        let r = rec.recognise_split("]C11A4060300002C9B000012345", Some("]Q1"));
        assert_eq!(r.text, "]C11A4060300002C9B000012345");
        assert_eq!(r.kind, ScanKind::Unrecognised);
        // no identifier: the text is a raw scan
        assert_eq!(
            rec.recognise_split("]C10109501101530003", None),
            rec.recognise("]C10109501101530003")
        );
    }

    #[test]
    fn classifies_each_form() {
        let r = Recogniser::default().recognise(" 1a4060300002c9b000012345\t");
        assert_eq!(r.kind, ScanKind::MetrcTag);
        assert_eq!(r.tag.as_deref(), Some("1A4060300002C9B000012345"));
        assert_eq!(kind("ABCDEF012345670000010331"), ScanKind::MetrcTag);
        assert_eq!(
            kind("HTTPS://1A4.COM/5LN8CBN1UB33DON9CHKX"),
            ScanKind::RetailId
        );
        assert_eq!(kind("HTTPS://1A4.COM/5LN8"), ScanKind::Malformed);
        assert_eq!(kind("6647382910293847"), ScanKind::BioTrack);
        assert_eq!(kind("]C10109501101530003"), ScanKind::Gs1);
        assert_eq!(kind("(01)09501101530003(17)140704"), ScanKind::Gs1);
        assert_eq!(kind("0109501101530003171407041012"), ScanKind::Gs1);
        assert_eq!(kind("09501101530003"), ScanKind::Gs1);
        assert_eq!(kind("   "), ScanKind::Empty);
        assert_eq!(kind("1A40603\r00002C9B000012345"), ScanKind::Malformed);
        assert_eq!(kind("hello"), ScanKind::Unrecognised);
        assert_eq!(kind("1A4060300002C9B00001234"), ScanKind::Unrecognised);
    }

    #[test]
    fn bad_pattern_is_named() {
        let err = Recogniser::new(&["^1A4[0-9"]).unwrap_err();
        assert_eq!(err.pattern, "^1A4[0-9");
    }
}
