//! Plain-text utilities: words as byte ranges, replacing and deleting ranges.

use std::ops::Range;

/// Byte ranges of the words of `text`: maximal runs of alphabetic characters.
///
/// ```
/// use nines_attack::text::words;
/// let t = "He fell, hard.";
/// let w: Vec<&str> = words(t).into_iter().map(|r| &t[r]).collect();
/// assert_eq!(w, ["He", "fell", "hard"]);
/// ```
pub fn words(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// `text` with `range` replaced by `with`.
pub fn replace_range(text: &str, range: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

/// `text` without the bytes in `ranges` (which may overlap or be unsorted); runs of spaces
/// left behind are collapsed to one and the ends trimmed.
///
/// ```
/// use nines_attack::text::delete_ranges;
/// assert_eq!(delete_ranges("he fell down hard", &[3..7, 13..17]), "he down");
/// ```
pub fn delete_ranges(text: &str, ranges: &[Range<usize>]) -> String {
    let mut keep = vec![true; text.len()];
    for r in ranges {
        for k in keep.iter_mut().take(r.end.min(text.len())).skip(r.start) {
            *k = false;
        }
    }
    let mut kept = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if keep[i] {
            kept.push(c);
        }
    }
    let mut out = String::with_capacity(kept.len());
    let mut prev_space = false;
    for c in kept.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out.trim().to_string()
}

/// `word` with its first letter upper-cased when `like` starts with an upper-case letter.
pub fn match_case(word: &str, like: &str) -> String {
    if like.chars().next().is_some_and(char::is_uppercase) {
        let mut c = word.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_handle_unicode_and_edges() {
        let t = "élan—vital's end";
        let w: Vec<&str> = words(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(w, ["élan", "vital", "s", "end"]);
        assert!(words("").is_empty());
        assert!(words("... !").is_empty());
    }

    #[test]
    fn replace_and_case() {
        assert_eq!(replace_range("He fell.", 3..7, "sat"), "He sat.");
        assert_eq!(match_case("struck", "Stabbed"), "Struck");
        assert_eq!(match_case("struck", "stabbed"), "struck");
    }

    #[test]
    fn delete_collapses_spaces() {
        assert_eq!(delete_ranges("a b c", std::slice::from_ref(&(2..3))), "a c");
        assert_eq!(delete_ranges("a b c", &[0..1, 4..5]), "b");
        assert_eq!(delete_ranges("abc", std::slice::from_ref(&(0..10))), "");
    }
}
