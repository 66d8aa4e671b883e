//! Where a completion ends: the first sentence end, a stop string, or nothing yet.

/// Words that end with a period without ending a sentence (compared case-sensitively,
/// without the period).
const ABBREVIATIONS: [&str; 24] = [
    "Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr", "Prof", "Capt", "Col", "Gen", "Lt", "Sgt",
    "Rev", "Hon", "Gov", "No", "Vol", "vs", "i.e", "e.g", "viz", "cf",
];

const TERMINATORS: [char; 4] = ['.', '!', '?', '…'];
const CLOSERS: [char; 8] = ['"', '\'', '”', '’', ')', ']', '»', '_'];

/// Byte offset just past the first complete sentence of `text`, or `None` while the first
/// sentence may still be going on.
///
/// A sentence ends at `.`, `!`, `?` or `…` (runs such as `?!` or `...` included), followed by
/// any closing quotes or brackets, then whitespace, then a character that is not a lowercase
/// letter — so `"Stop!" he cried.` is one sentence and the decision waits until the next
/// word has begun. A period after a known abbreviation (`Mr.`, `Dr.`, `St.`…) or a single
/// capital initial does not end a sentence. A blank line (paragraph break) after some text
/// ends it too. Leading whitespace and punctuation before any letter or digit are skipped.
///
/// ```
/// use nines_runtime::generate::first_sentence_end;
/// let t = " Mr. Darcy bowed. Then he left";
/// assert_eq!(&t[..first_sentence_end(t).unwrap()], " Mr. Darcy bowed.");
/// assert_eq!(first_sentence_end(" He ran."), None); // may continue with a closing quote
/// ```
pub fn first_sentence_end(text: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut seen_content = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if c.is_alphanumeric() {
            seen_content = true;
            i += 1;
            continue;
        }
        if !seen_content {
            i += 1;
            continue;
        }
        if c == '\n' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].1 != '\n' && chars[j].1.is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j].1 == '\n' {
                return Some(chars[i].0);
            }
            i += 1;
            continue;
        }
        if !TERMINATORS.contains(&c) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && TERMINATORS.contains(&chars[j].1) {
            j += 1;
        }
        let single_period = c == '.' && j == i + 1;
        while j < chars.len() && CLOSERS.contains(&chars[j].1) {
            j += 1;
        }
        if j >= chars.len() {
            return None;
        }
        if !chars[j].1.is_whitespace() {
            i = j;
            continue;
        }
        if single_period && is_abbreviation(&text[..chars[i].0]) {
            i = j;
            continue;
        }
        let next = chars[j..].iter().find(|(_, ch)| !ch.is_whitespace());
        match next {
            None => {
                // Only whitespace so far: a paragraph break settles it, anything else waits.
                if chars[j..].iter().filter(|(_, ch)| *ch == '\n').count() >= 2 {
                    return Some(chars[j].0);
                }
                return None;
            }
            Some((_, ch)) if ch.is_lowercase() => {
                i = j;
                continue;
            }
            Some(_) => return Some(chars[j].0),
        }
    }
    None
}

fn is_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '"' || c == '(' || c == '“')
        .next()
        .unwrap_or("");
    if ABBREVIATIONS.contains(&word) {
        return true;
    }
    let mut cs = word.chars();
    matches!((cs.next(), cs.next()), (Some(c), None) if c.is_uppercase())
}

/// Byte offset just past the earliest occurrence of any of `stops` in `text`.
pub fn stop_string_end(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|at| at + s.len()))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(t: &str) -> Option<&str> {
        first_sentence_end(t).map(|e| &t[..e])
    }

    #[test]
    fn sentence_ends() {
        assert_eq!(first(" She left. He stayed"), Some(" She left."));
        assert_eq!(
            first(" \"Run!\" he cried. Then"),
            Some(" \"Run!\" he cried.")
        );
        assert_eq!(first(" \"Run!\" Then"), Some(" \"Run!\""));
        assert_eq!(
            first(" Dr. Watson nodded. And"),
            Some(" Dr. Watson nodded.")
        );
        assert_eq!(
            first(" It cost 3.5 pounds. And"),
            Some(" It cost 3.5 pounds.")
        );
        assert_eq!(first(" Wait... what? No"), Some(" Wait... what?"));
        assert_eq!(
            first(" I wonder... perhaps not. So"),
            Some(" I wonder... perhaps not.")
        );
        assert_eq!(first(" J. Smith came. Then"), Some(" J. Smith came."));
        assert_eq!(first(" He fell\n\nChapter"), Some(" He fell"));
        assert_eq!(first(" He fell.\n\n"), Some(" He fell."));
        assert_eq!(first(" He fell."), None);
        assert_eq!(first(" He fell. "), None);
        assert_eq!(first(". . . Nothing"), None);
        assert_eq!(first(" “Go.” She"), Some(" “Go.”"));
    }

    #[test]
    fn stop_strings() {
        let stops = vec!["\n".to_string(), "END".to_string()];
        assert_eq!(stop_string_end("abc END x\n", &stops), Some(7));
        assert_eq!(stop_string_end("abc", &stops), None);
    }
}
