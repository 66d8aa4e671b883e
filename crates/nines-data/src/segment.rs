//! Paragraphs, headings and sentences of normalized fiction text.
//!
//! [`segment`] cuts a text (LF line ends, as [`crate::corpus`] produces) into [`Segment`]s:
//! paragraphs are separated by blank lines; a paragraph that looks like a heading becomes one
//! heading segment; any other paragraph is cut into sentences.
//!
//! Segments never overlap, appear in text order, and only whitespace lies between them, so no
//! text is lost: joining the segments with single spaces gives the text with its whitespace
//! collapsed (a property test checks this).
//!
//! Sentence ends are `.`, `!`, `?`, `…`, runs of them (`?!`), ellipses written `...` or
//! `. . .`, and a dash run (`--`, `—`) that closes a quotation (interrupted speech). Closing
//! quotes and brackets after the end belong to the sentence. An end counts only when
//! whitespace and then an uppercase letter, a digit or an opening quote or bracket follow, so
//! `"Who?" said he.` and `"Stop!" he cried.` stay one sentence. A single `.` after a title
//! abbreviation (`Mr.`, `Mrs.`, `Dr.`, `St.`, `Capt.`, ...; see [`ABBREVIATIONS`]) or a
//! single-letter initial other than `I` (`H. G. Wells`) never ends a sentence.

use std::ops::Range;

/// What a [`Segment`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// A sentence of prose (or a fragment, such as a line of verse).
    Sentence,
    /// A title-like line: all capitals (`THE EVE OF THE WAR`) or no letters (`* * *`).
    Heading,
    /// A heading that opens a new region of the book: `Chapter 1`, `CHAPTER XIV. The Chart.`,
    /// `BOOK TWO`, `PART ONE`, a bare roman numeral, `Epilogue`, ...
    ChapterHeading,
}

/// A piece of text: a sentence or a heading, as a byte range of the segmented text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Byte offset of the first character (never whitespace).
    pub start: usize,
    /// Byte offset one past the last character (never whitespace).
    pub end: usize,
    /// Sentence or heading.
    pub kind: SegmentKind,
    /// Index of the paragraph (blank-line separated block) this segment belongs to.
    pub paragraph: usize,
}

impl Segment {
    /// The byte range of the segment.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The segment's text within `text` (the string that was segmented).
    ///
    /// Returns an empty string if `text` is not the segmented string and the range does not fit.
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// Abbreviations (lower case, without the final dot) after which a single `.` does not end a
/// sentence.
pub const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "messrs", "ms", "dr", "st", "mme", "mlle", "mmes", "capt", "col", "gen", "lt",
    "sgt", "maj", "cpl", "adm", "rev", "prof", "hon", "gov", "sen", "esq", "jr", "sr", "mt", "ft",
    "vs", "viz", "cf", "e.g", "i.e", "ibid", "ult", "inst", "prox", "bros",
];

/// Abbreviations that do not end a sentence when a digit follows (`No. 5`, `vol. 2`).
const NUMBER_ABBREVIATIONS: &[&str] = &["no", "nos", "vol", "p", "pp", "ch", "chap", "art", "fig"];

/// Cuts `text` into headings and sentences (see the module documentation).
///
/// ```
/// use nines_data::segment::{segment, SegmentKind};
/// let text = "CHAPTER I\n\nMr. Pip ran. \"Stop!\" cried he. Then all was quiet...";
/// let parts: Vec<_> = segment(text).iter().map(|s| (s.kind, s.text(text))).collect();
/// assert_eq!(parts, vec![
///     (SegmentKind::ChapterHeading, "CHAPTER I"),
///     (SegmentKind::Sentence, "Mr. Pip ran."),
///     (SegmentKind::Sentence, "\"Stop!\" cried he."),
///     (SegmentKind::Sentence, "Then all was quiet..."),
/// ]);
/// ```
pub fn segment(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for (paragraph, range) in paragraphs(text).into_iter().enumerate() {
        let body = &text[range.clone()];
        match heading_kind(body) {
            Some(kind) => out.push(Segment {
                start: range.start,
                end: range.end,
                kind,
                paragraph,
            }),
            None => {
                for r in split_sentences(body) {
                    out.push(Segment {
                        start: range.start + r.start,
                        end: range.start + r.end,
                        kind: SegmentKind::Sentence,
                        paragraph,
                    });
                }
            }
        }
    }
    out
}

/// Byte ranges of the paragraphs of `text`: blocks of lines separated by blank (whitespace-only)
/// lines, trimmed of surrounding whitespace. Empty blocks are left out.
pub fn paragraphs(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut block: Option<Range<usize>> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_range = offset..offset + line.len();
        offset += line.len();
        if line.trim().is_empty() {
            if let Some(b) = block.take() {
                push_trimmed(text, b, &mut out);
            }
        } else {
            block = Some(match block {
                Some(b) => b.start..line_range.end,
                None => line_range,
            });
        }
    }
    if let Some(b) = block {
        push_trimmed(text, b, &mut out);
    }
    out
}

fn push_trimmed(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail < s.len() {
        out.push(r.start + lead..r.end - trail);
    }
}

/// Whether a paragraph is a heading, and which kind (see [`SegmentKind`]); `None` for prose.
///
/// Only short paragraphs (at most two lines, at most 100 bytes) can be headings.
pub fn heading_kind(paragraph: &str) -> Option<SegmentKind> {
    let p = paragraph.trim();
    if p.is_empty() || p.len() > 100 || p.lines().count() > 2 {
        return None;
    }
    let first_line = p.lines().next().unwrap_or("").trim();
    if is_chapter_line(first_line) {
        return Some(SegmentKind::ChapterHeading);
    }
    let has_lower = p.chars().any(char::is_lowercase);
    let upper = p.chars().filter(|c| c.is_uppercase()).count();
    let letters = p.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 0 || (!has_lower && upper >= 2 && p.len() <= 80) {
        return Some(SegmentKind::Heading);
    }
    None
}

const NUMBER_WORDS: &[&str] = &[
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "last",
    "the",
];

const SECTION_WORDS: &[&str] = &[
    "chapter", "chap.", "book", "part", "volume", "vol.", "stave", "canto",
];

const STANDALONE_HEADINGS: &[&str] = &[
    "prologue",
    "epilogue",
    "preface",
    "introduction",
    "conclusion",
    "finis",
    "the end",
    "postscript",
];

fn is_number_token(tok: &str) -> bool {
    let t = tok.trim_end_matches(['.', ':', ',']).to_lowercase();
    if t.is_empty() {
        return false;
    }
    t.chars().all(|c| c.is_ascii_digit())
        || t.chars().all(|c| "ivxlcdm".contains(c))
        || NUMBER_WORDS.contains(&t.as_str())
        || t.split('-').all(|w| NUMBER_WORDS.contains(&w))
}

fn is_chapter_line(line: &str) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_end_matches(['.', ':']);
    if STANDALONE_HEADINGS.contains(&bare) {
        return true;
    }
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return false;
    };
    if SECTION_WORDS.contains(&first.to_lowercase().as_str()) {
        return words.next().is_some_and(is_number_token);
    }
    // A lone number or roman numeral ("XIV.", "12"), in capitals when roman.
    if words.next().is_none() {
        let t = first.trim_end_matches('.');
        let roman = !t.is_empty() && t.chars().all(|c| "IVXLCDM".contains(c));
        let digits = !t.is_empty() && t.len() <= 3 && t.chars().all(|c| c.is_ascii_digit());
        return roman || digits;
    }
    false
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '\u{201D}' | '\u{2019}' | ')' | ']' | '}' | '_' | '*' | '\u{BB}'
    )
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '\u{201C}' | '\u{2018}' | '(' | '[' | '_' | '\u{AB}'
    )
}

fn is_quote_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201D}' | '\u{2019}')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2014}' | '\u{2013}')
}

/// Byte ranges of the sentences of one paragraph (or any short text), trimmed of whitespace.
///
/// Headings are not detected here; use [`segment`] for whole texts.
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let at = |i: usize| -> usize { if i < n { chars[i].0 } else { text.len() } };
    let mut out = Vec::new();
    let mut start = 0;
    while start < n && chars[start].1.is_whitespace() {
        start += 1;
    }
    let mut i = start;
    while i < n {
        let c = chars[i].1;
        let terminal = matches!(c, '.' | '!' | '?' | '\u{2026}');
        let dash_run = is_dash(c) && (c != '-' || (i + 1 < n && chars[i + 1].1 == '-'));
        if !terminal && !dash_run {
            i += 1;
            continue;
        }
        // Consume the run of terminators (with spaced ellipsis dots) or dashes.
        let mut j = i;
        let mut only_single_dot = true;
        if terminal {
            loop {
                while j < n && matches!(chars[j].1, '.' | '!' | '?' | '\u{2026}') {
                    j += 1;
                }
                // ". . ." and ".  .  ." ellipses.
                let mut k = j;
                while k < n && k - j < 3 && chars[k].1 == ' ' {
                    k += 1;
                }
                if k > j && k < n && chars[k].1 == '.' {
                    j = k;
                    continue;
                }
                break;
            }
            only_single_dot = j == i + 1 && c == '.';
        } else {
            while j < n && is_dash(chars[j].1) {
                j += 1;
            }
            // A dash ends a sentence only when it closes a quotation.
            if !(j < n && is_quote_closer(chars[j].1)) {
                i = j;
                continue;
            }
        }
        while j < n && is_closer(chars[j].1) {
            j += 1;
        }
        if j >= n {
            break;
        }
        if !chars[j].1.is_whitespace() {
            i = j;
            continue;
        }
        let mut k = j;
        while k < n && chars[k].1.is_whitespace() {
            k += 1;
        }
        if k >= n {
            break;
        }
        let next = chars[k].1;
        let starts_sentence = next.is_uppercase() || next.is_ascii_digit() || is_opener(next);
        let blocked = only_single_dot && abbreviation_before(&chars, i, next);
        if starts_sentence && !blocked {
            out.push(at(start)..at(j));
            start = k;
        }
        i = k;
    }
    if start < n {
        let mut end = n;
        while end > start && chars[end - 1].1.is_whitespace() {
            end -= 1;
        }
        if end > start {
            out.push(at(start)..at(end));
        }
    }
    out
}

/// Whether the `.` at char index `dot` follows an abbreviation or an initial.
fn abbreviation_before(chars: &[(usize, char)], dot: usize, next: char) -> bool {
    let mut b = dot;
    while b > 0 && (chars[b - 1].1.is_alphabetic() || (chars[b - 1].1 == '.' && b - 1 != dot)) {
        b -= 1;
    }
    if b == dot {
        return false;
    }
    let word: String = chars[b..dot].iter().map(|&(_, c)| c).collect();
    let word = word.trim_start_matches('.');
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    if next.is_ascii_digit() && NUMBER_ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let mut wc = word.chars();
    if let (Some(only), None) = (wc.next(), wc.next()) {
        return only.is_uppercase() && only != 'I';
    }
    false
}

/// The first sentence of `text`, trimmed; the whole trimmed text if it has one sentence.
///
/// ```
/// assert_eq!(nines_data::segment::first_sentence("  He fell. Then he rose."), "He fell.");
/// ```
pub fn first_sentence(text: &str) -> &str {
    let trimmed_start = text.len() - text.trim_start().len();
    let first_para_end = paragraphs(text).first().map_or(text.len(), |r| r.end);
    let para = &text[trimmed_start..first_para_end.max(trimmed_start)];
    match split_sentences(para).first() {
        Some(r) => &para[r.clone()],
        None => "",
    }
}

/// `text` with every whitespace run replaced by one space, trimmed.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        assert_eq!(
            sentences("Mr. and Mrs. Bennet met Dr. Jones at St. Paul's. They talked."),
            vec![
                "Mr. and Mrs. Bennet met Dr. Jones at St. Paul's.",
                "They talked."
            ]
        );
        assert_eq!(
            sentences("It was by H. G. Wells. I read it."),
            vec!["It was by H. G. Wells.", "I read it."]
        );
        assert_eq!(
            sentences("He lived at No. 5 Baker Street. So did I."),
            vec!["He lived at No. 5 Baker Street.", "So did I."]
        );
    }

    #[test]
    fn pronoun_i_can_end_a_sentence() {
        assert_eq!(
            sentences("It was not I. You were there."),
            vec!["It was not I.", "You were there."]
        );
    }

    #[test]
    fn dialogue_and_nested_quotes() {
        assert_eq!(
            sentences(
                "\"Who is it?\" said he. \"It is I,\" she said. \"He cried 'Stop!' and ran.\" Then silence."
            ),
            vec![
                "\"Who is it?\" said he.",
                "\"It is I,\" she said.",
                "\"He cried 'Stop!' and ran.\"",
                "Then silence."
            ]
        );
        assert_eq!(
            sentences("\u{201C}Go!\u{201D} He went. \u{2018}Yes.\u{2019} No."),
            vec![
                "\u{201C}Go!\u{201D}",
                "He went.",
                "\u{2018}Yes.\u{2019}",
                "No."
            ]
        );
    }

    #[test]
    fn ellipses_and_dashes() {
        assert_eq!(
            sentences("Are we Lords? .  .  . And how are all things made? . . . The end..."),
            vec![
                "Are we Lords? .  .  .",
                "And how are all things made? . . .",
                "The end..."
            ]
        );
        assert_eq!(
            sentences("I waited... and waited. Nothing came."),
            vec!["I waited... and waited.", "Nothing came."]
        );
        assert_eq!(
            sentences(
                "\"I only meant--\" He stopped. Some years ago--never mind how long--I sailed."
            ),
            vec![
                "\"I only meant--\"",
                "He stopped.",
                "Some years ago--never mind how long--I sailed."
            ]
        );
    }

    #[test]
    fn headings_are_recognized() {
        for h in [
            "Chapter 1",
            "CHAPTER XIV",
            "CHAPTER 1. Loomings.",
            "BOOK TWO",
            "PART ONE",
            "XII.",
            "Epilogue",
            "Finis",
            "Chapter the First",
        ] {
            assert_eq!(heading_kind(h), Some(SegmentKind::ChapterHeading), "{h:?}");
        }
        for h in ["THE EVE OF THE WAR", "* * *", "A SHIFTING REEF"] {
            assert_eq!(heading_kind(h), Some(SegmentKind::Heading), "{h:?}");
        }
        for p in [
            "Chapter and verse were quoted at him.",
            "I went home.",
            "Part of the crowd ran.",
        ] {
            assert_eq!(heading_kind(p), None, "{p:?}");
        }
    }

    #[test]
    fn segments_keep_paragraphs_apart() {
        let text = "One line\nwraps here. Second.\n\n  \nNew para";
        let segs = segment(text);
        let parts: Vec<_> = segs.iter().map(|s| (s.paragraph, s.text(text))).collect();
        assert_eq!(
            parts,
            vec![
                (0, "One line\nwraps here."),
                (0, "Second."),
                (1, "New para")
            ]
        );
    }

    #[test]
    fn first_sentence_stops_at_paragraph_end() {
        assert_eq!(first_sentence("He ran\n\nShe walked."), "He ran");
        assert_eq!(first_sentence("   "), "");
    }
}
